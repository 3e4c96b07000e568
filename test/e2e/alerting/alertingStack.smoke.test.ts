import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webhookPayloadSchema } from '../../../shared/domain/alertmanager.ts';
import type { WebhookPayload } from '../../../shared/domain/alertmanager.ts';
import { ensureBinaries } from './setup/binaries.ts';
import {
  checkAlertmanagerConfig,
  checkRules,
  startAlertmanager,
  startPrometheus,
  waitForCluster,
  waitUntil,
  webhookSink,
} from './setup/alertingStack.ts';
import type { RunningAlertmanager, SinkRequest, SinkResponder, WebhookSink } from './setup/alertingStack.ts';
import { startExporter } from './setup/exporter.ts';
import type { MetricsExporter } from './setup/exporter.ts';

const TOKEN = 'e2e-bearer-token';
const QUEUE = { service: 'worker-llm' } as const;
// Firing normally reaches the sink 3-5 s after Prometheus is up; the slack absorbs a loaded CI box.
const DELIVERY_TIMEOUT_MS = 30_000;

const rulesYaml = `
groups:
  - name: llm
    rules:
      - alert: LLMQueueBuildup
        expr: llm_queue_length > 50
        for: 2s
        labels:
          service: worker-llm
        annotations:
          summary: LLM queue is building up
`;

const alertmanagerConfig = (sinkUrl: string, tokenFile: string | undefined): string => `
route:
  receiver: autoscaler
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: autoscaler
    webhook_configs:
      - url: ${sinkUrl}
        send_resolved: true
${
  tokenFile === undefined
    ? ''
    : `        http_config:
          authorization:
            type: Bearer
            credentials_file: ${tokenFile}
`
}`;

const payloadOf = (request: SinkRequest): WebhookPayload | undefined => {
  const parsed = webhookPayloadSchema.safeParse(request.json);
  return parsed.success ? parsed.data : undefined;
};

const delivered = (status: 'firing' | 'resolved') => (request: SinkRequest): boolean =>
  request.answeredWith === 200 && payloadOf(request)?.status === status;

let secretsDir = '';
let tokenFile = '';
const timings: Record<string, number> = {};
const cleanups: (() => Promise<void>)[] = [];

const track = <T extends { stop(): Promise<void> } | { close(): Promise<void> }>(resource: T): T => {
  cleanups.push(() => ('stop' in resource ? resource.stop() : resource.close()));
  return resource;
};

interface Stack {
  readonly sink: WebhookSink;
  readonly exporter: MetricsExporter;
  readonly alertmanagers: readonly RunningAlertmanager[];
  readonly prometheusReadyAt: number;
}

/** Exporter already above the threshold, so the alert starts pending on Prometheus' first evaluations. */
const startStack = async (options: {
  responder?: SinkResponder;
  auth?: boolean;
  alertmanagers?: 'one' | 'standalone-pair' | 'cluster-pair';
}): Promise<Stack> => {
  const sink = track(await webhookSink(options.responder ?? 200));
  const exporter = track(await startExporter());
  exporter.set('llm_queue_length', QUEUE, 60);
  const configYaml = alertmanagerConfig(sink.url, options.auth === false ? undefined : tokenFile);
  const alertmanagers: RunningAlertmanager[] = [];
  const layout = options.alertmanagers ?? 'one';
  if (layout === 'cluster-pair') {
    const first = track(await startAlertmanager({ configYaml, peers: [] }));
    const second = track(await startAlertmanager({ configYaml, peers: [first.clusterAddress ?? ''] }));
    alertmanagers.push(first, second);
    await waitForCluster(alertmanagers);
  } else {
    for (let i = 0; i < (layout === 'one' ? 1 : 2); i += 1) alertmanagers.push(track(await startAlertmanager({ configYaml })));
  }
  const started = Date.now();
  track(
    await startPrometheus({
      rulesYaml,
      scrapeTargets: [exporter.target],
      alertmanagerUrls: alertmanagers.map((am) => am.url),
      evaluationInterval: '1s',
    }),
  );
  const prometheusReadyAt = Date.now();
  timings.prometheusStartMs ??= prometheusReadyAt - started;
  return { sink, exporter, alertmanagers, prometheusReadyAt };
};

const webhookMetric = (am: RunningAlertmanager, name: string): Promise<number> => am.metric(name, { integration: 'webhook' });

describe('alerting stack: real Prometheus 2.42 and Alertmanager 0.25 on loopback', () => {
  beforeAll(async () => {
    const started = Date.now();
    await ensureBinaries();
    timings.ensureBinariesMs = Date.now() - started;
    secretsDir = await mkdtemp(join(tmpdir(), 'e2e-alerting-secrets-'));
    tokenFile = join(secretsDir, 'webhook-token');
    // The trailing newline is what an editor or a Kubernetes secret mount leaves behind.
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });

  afterEach(async () => {
    // Reverse order: Prometheus before the Alertmanagers it pushes to, and those before the sink.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    if (secretsDir !== '') await rm(secretsDir, { recursive: true, force: true });
    console.info(`alerting e2e timings (ms): ${JSON.stringify(timings)}`);
  });

  it('promtool and amtool accept the valid files and reject broken ones', async () => {
    const rules = await checkRules(rulesYaml);
    expect(rules.ok, rules.output).toBe(true);

    const brokenRules = await checkRules(rulesYaml.replace('llm_queue_length > 50', 'llm_queue_length >'));
    expect(brokenRules.ok).toBe(false);
    expect(brokenRules.output).toMatch(/parse error|unexpected/i);

    const config = await checkAlertmanagerConfig(alertmanagerConfig('http://127.0.0.1:9/hook', tokenFile));
    expect(config.ok, config.output).toBe(true);

    const unknownReceiver = await checkAlertmanagerConfig(
      alertmanagerConfig('http://127.0.0.1:9/hook', tokenFile).replace('receiver: autoscaler', 'receiver: nobody'),
    );
    expect(unknownReceiver.ok).toBe(false);
    expect(unknownReceiver.output).toMatch(/undefined receiver "nobody"/);
  });

  it('delivers a firing v4 payload with the bearer token, then a resolved one', async () => {
    const { sink, exporter, prometheusReadyAt } = await startStack({});

    const firing = await sink.waitFor(delivered('firing'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'a firing notification' });
    timings.readyToFiringWebhookMs = firing.receivedAt - prometheusReadyAt;

    expect(firing.method).toBe('POST');
    expect(firing.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(firing.headers['content-type']).toBe('application/json');
    expect(firing.headers['user-agent']).toBe('Alertmanager/0.25.0');

    const payload = payloadOf(firing);
    expect(payload).toBeDefined();
    expect(firing.json).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'autoscaler',
      groupLabels: { alertname: 'LLMQueueBuildup', service: 'worker-llm' },
      commonLabels: { alertname: 'LLMQueueBuildup', service: 'worker-llm' },
      commonAnnotations: { summary: 'LLM queue is building up' },
      groupKey: '{}:{alertname="LLMQueueBuildup", service="worker-llm"}',
      truncatedAlerts: 0,
    });
    const alert = payload?.alerts[0];
    expect(payload?.alerts).toHaveLength(1);
    expect(alert).toMatchObject({
      status: 'firing',
      labels: { alertname: 'LLMQueueBuildup', service: 'worker-llm', job: 'e2e', instance: exporter.target },
      annotations: { summary: 'LLM queue is building up' },
      // Alertmanager sends Go's zero time, not an absent field, while an alert is firing.
      endsAt: '0001-01-01T00:00:00Z',
    });
    expect(alert?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(alert?.generatorURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graph\?g0\.expr=/);
    // The alert starts 2s (`for:`) after it went pending; Prometheus reports that later instant.
    expect(Date.parse(alert?.startsAt ?? '')).toBeLessThanOrEqual(firing.receivedAt);

    const loweredAt = Date.now();
    exporter.set('llm_queue_length', QUEUE, 10);
    const resolved = await sink.waitFor(delivered('resolved'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'a resolved notification' });
    timings.gaugeLoweredToResolvedWebhookMs = resolved.receivedAt - loweredAt;

    expect(resolved.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const resolvedAlert = payloadOf(resolved)?.alerts[0];
    expect(resolvedAlert?.status).toBe('resolved');
    expect(resolvedAlert?.fingerprint).toBe(alert?.fingerprint);
    expect(resolvedAlert?.startsAt).toBe(alert?.startsAt);
    expect(Date.parse(resolvedAlert?.endsAt ?? '')).toBeGreaterThan(Date.parse(alert?.startsAt ?? ''));
  });

  it('retries a webhook answering 500 with backoff inside one notify until it gets 200', async () => {
    const failures = 2;
    const { sink, alertmanagers } = await startStack({ responder: (index) => (index < failures ? 500 : 200) });
    const [am] = alertmanagers;
    if (am === undefined) throw new Error('no Alertmanager started');

    const success = await sink.waitFor(delivered('firing'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'the retried notification' });
    const attempts = sink.requests.slice(0, success.index + 1);
    expect(attempts.map((r) => r.answeredWith)).toEqual([500, 500, 200]);
    const fingerprints = new Set(attempts.map((r) => payloadOf(r)?.alerts[0]?.fingerprint));
    expect(fingerprints.size).toBe(1);
    const gaps = attempts.slice(1).map((r, i) => r.receivedAt - (attempts[i]?.receivedAt ?? 0));
    timings.retryGapsAfter500Ms = gaps[0] ?? -1;
    timings.secondRetryGapAfter500Ms = gaps[1] ?? -1;

    // Failed HTTP requests, yet no failed notification: the retries happened inside a single notify.
    expect(await webhookMetric(am, 'alertmanager_notification_requests_failed_total')).toBe(failures);
    expect(await webhookMetric(am, 'alertmanager_notifications_failed_total')).toBe(0);
  });

  it('does not retry a 4xx inside the notify; the next group_interval flush sends it again', async () => {
    const { sink, alertmanagers } = await startStack({ responder: (index) => (index === 0 ? 400 : 200) });
    const [am] = alertmanagers;
    if (am === undefined) throw new Error('no Alertmanager started');

    const success = await sink.waitFor(delivered('firing'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'the re-sent notification' });
    expect(sink.requests.slice(0, success.index + 1).map((r) => r.answeredWith)).toEqual([400, 200]);
    timings.resendGapAfter400Ms = success.receivedAt - (sink.requests[0]?.receivedAt ?? 0);

    expect(await webhookMetric(am, 'alertmanager_notifications_failed_total')).toBe(1);
    expect(am.logs()).toMatch(/unrecoverable error after 1 attempts: unexpected status code 400/);
  });

  it('two standalone Alertmanagers (gossip cut) both send the same notification', async () => {
    const { sink, alertmanagers } = await startStack({ alertmanagers: 'standalone-pair' });
    const urls = alertmanagers.map((am) => am.url);
    const from = (request: SinkRequest): string | undefined => payloadOf(request)?.externalURL;

    const both = await Promise.all(
      urls.map((url) =>
        sink.waitFor((r) => delivered('firing')(r) && from(r) === url, { timeoutMs: DELIVERY_TIMEOUT_MS, what: `a notification from ${url}` }),
      ),
    );
    for (const am of alertmanagers) expect((await am.clusterStatus()).status).toBe('disabled');
    const [a, b] = both.map(payloadOf);
    expect(a?.groupKey).toBe(b?.groupKey);
    expect(a?.alerts[0]?.fingerprint).toBe(b?.alerts[0]?.fingerprint);
  });

  it('a two-member cluster on loopback deduplicates: only one member notifies', async () => {
    const { sink, alertmanagers } = await startStack({ alertmanagers: 'cluster-pair' });

    const first = await sink.waitFor(delivered('firing'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'a notification from the cluster' });
    const sender = payloadOf(first)?.externalURL;
    const other = alertmanagers.find((am) => am.url !== sender);
    if (other === undefined) throw new Error(`notification came from an unknown Alertmanager ${String(sender)}`);

    // Every flush runs the dedup stage, which queries the notification log; a second query means
    // the other member's first flush, and any send it decided on, has completed.
    await waitUntil(async () => ((await other.metric('alertmanager_nflog_queries_total')) >= 2 ? true : undefined), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'the other member to run its dedup stage twice',
    });
    expect(sink.requests.map((r) => payloadOf(r)?.externalURL)).toEqual([sender]);
    expect(await webhookMetric(other, 'alertmanager_notifications_total')).toBe(0);
  });
});
