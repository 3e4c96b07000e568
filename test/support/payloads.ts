import type { WebhookPayload } from '../../shared/domain/alertmanager.ts';

export type AlertSpec = {
  alertname: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  fingerprint?: string;
};

/** An Alertmanager v4 webhook payload, as Alertmanager 0.25 sends it. */
export const webhookPayload = (alerts: AlertSpec[]): WebhookPayload => ({
  version: '4',
  groupKey: '{}:{alertname="test"}',
  truncatedAlerts: 0,
  status: alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved',
  receiver: 'gpu-autoscaler',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://127.0.0.1:9093',
  alerts: alerts.map((a) => ({
    status: a.status ?? 'firing',
    labels: { alertname: a.alertname, ...a.labels },
    annotations: a.annotations ?? {},
    startsAt: a.startsAt ?? '2026-11-23T15:00:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://127.0.0.1:9090/graph',
    fingerprint: a.fingerprint ?? `fp${a.alertname.toLowerCase()}`,
  })),
});

/** A 16-hex fingerprint made from a name, as Alertmanager's are 16 hex. */
const fingerprintOf = (name: string): string => Buffer.from(name).toString('hex').padStart(16, '0').slice(-16);

/** `n` per-GPU VRAMHeadroomLow vetoes of one node (GPUs `from`..), one Alertmanager group per node. */
export const vramVetoes = (node: string, n: number, status: 'firing' | 'resolved' = 'firing', from = 0): AlertSpec[] =>
  Array.from({ length: n }, (_, k) => from + k).map((i) => ({ alertname: 'VRAMHeadroomLow', labels: { node, gpu: String(i) }, fingerprint: fingerprintOf(`${node}-${i}`), status }));

/** An alert on worker-llm (its `service` label). */
export const llmAlert = (alertname: string, fingerprint: string, status: 'firing' | 'resolved' = 'firing'): AlertSpec => ({ alertname, labels: { service: 'worker-llm' }, fingerprint, status });
