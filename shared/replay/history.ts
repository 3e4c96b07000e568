import type { WebhookPayload } from '../domain/alertmanager.ts';
import type { MetricStat, Policy } from '../domain/policy.ts';
import { intervalsFor, RECEIVER } from '../render/alertmanagerConfig.ts';

/** One webhook body, as Alertmanager posted it or would have, and when it arrived. */
export interface Notice {
  at: number;
  payload: WebhookPayload;
}

/** A CloudWatch datapoint as the tick would have read it: it holds until the next one. */
export interface MetricPoint {
  at: number;
  metric: Pick<MetricStat, 'namespace' | 'name' | 'dimensions'>;
  value: number;
}

/** What a replay feeds the scaler between ticks, each list in time order. */
export interface History {
  notices: Notice[];
  metrics: MetricPoint[];
}

/** One alert's life, as Prometheus saw it: its labels (alertname included), when it fired and resolved. */
export interface AlertSpan {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  firedAt: number;
  /** Undefined while it still fires at the end of the history. */
  resolvedAt?: number;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const UINT64 = 0xffffffffffffffffn;
const SEPARATOR = 0xff;
const utf8 = new TextEncoder();

/**
 * Alertmanager's fingerprint of a label set (prometheus/common `LabelSet.Fingerprint`): FNV-1a
 * 64 over the sorted names and values, each followed by the 0xff separator, as 16 hex digits.
 * A replayed alert then carries the fingerprint the real notification did.
 */
export const alertFingerprint = (labels: Readonly<Record<string, string>>): string => {
  let hash = FNV_OFFSET;
  const add = (byte: number) => {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & UINT64;
  };
  for (const name of Object.keys(labels).sort()) {
    for (const byte of utf8.encode(name)) add(byte);
    add(SEPARATOR);
    for (const byte of utf8.encode(labels[name] ?? '')) add(byte);
    add(SEPARATOR);
  }
  return hash.toString(16).padStart(16, '0');
};

const noticeOf = (at: number, span: AlertSpan, status: 'firing' | 'resolved', fingerprint: string): Notice => ({
  at,
  payload: {
    version: '4',
    groupKey: `{}:{alertname="${span.labels.alertname ?? ''}"}`,
    truncatedAlerts: 0,
    status,
    receiver: RECEIVER,
    groupLabels: {},
    commonLabels: span.labels,
    commonAnnotations: span.annotations,
    alerts: [
      {
        status,
        labels: span.labels,
        annotations: span.annotations,
        startsAt: new Date(span.firedAt).toISOString(),
        ...(status === 'resolved' ? { endsAt: new Date(at).toISOString() } : {}),
        fingerprint,
      },
    ],
  },
});

/**
 * The notifications Alertmanager sends for these alerts on the route the policy renders: a
 * firing notice when an alert fires, again every `repeat_interval` while it fires (so the
 * scaler's `alertTtl` never expires it), and a resolved notice when it resolves. Group waits
 * are left out: seconds, inside the minute a tick looks at.
 */
export const noticesFromSpans = (policy: Policy, spans: readonly AlertSpan[], until: number): Notice[] => {
  const repeat = intervalsFor(policy).repeatInterval * 1000;
  const notices: Notice[] = [];
  for (const span of spans) {
    const fingerprint = alertFingerprint(span.labels);
    const end = Math.min(span.resolvedAt ?? until, until);
    for (let at = span.firedAt; at < end; at += repeat) notices.push(noticeOf(at, span, 'firing', fingerprint));
    if (span.resolvedAt !== undefined && span.resolvedAt < until) notices.push(noticeOf(span.resolvedAt, span, 'resolved', fingerprint));
  }
  return notices.sort((a, b) => a.at - b.at);
};
