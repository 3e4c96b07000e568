import type { WebhookPayload } from '../../shared/domain/alertmanager.ts';

type AlertSpec = {
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
