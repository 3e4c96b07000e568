import { z } from 'zod';

// Intents and target state keep startsAt in UTC, where their schemas allow years 0000-9999 only:
// a time that parses but lands outside them (9999-12-31T23:30:00-01:00) would fail the worker on every delivery.
const isStorableTime = (text: string): boolean => {
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && /^\d{4}-/.test(new Date(ms).toISOString());
};

const timestampSchema = z.string().refine(isStorableTime, { message: 'expected an RFC 3339 timestamp within the years 0000-9999 in UTC' });

/** One alert of an Alertmanager webhook notification (payload version 4). */
export const webhookAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()).refine((labels) => typeof labels.alertname === 'string', {
    message: 'every alert needs an alertname label',
  }),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: timestampSchema,
  endsAt: timestampSchema.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(64),
});

/**
 * The body Alertmanager posts to a webhook receiver. Unknown fields are allowed so that
 * a newer Alertmanager keeps working; the version is not.
 */
export const webhookPayloadSchema = z.object({
  version: z.literal('4', { error: (issue) => `unsupported payload version ${JSON.stringify(issue.input)}, expected "4"` }),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupLabels: z.record(z.string(), z.string()).default({}),
  commonLabels: z.record(z.string(), z.string()).default({}),
  commonAnnotations: z.record(z.string(), z.string()).default({}),
  externalURL: z.string().optional(),
  alerts: z.array(webhookAlertSchema),
});

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;
export type WebhookAlert = z.infer<typeof webhookAlertSchema>;

/** The numeric value an alert carries in an annotation or label, if it parses. */
export const alertValue = (alert: WebhookAlert, key: string): number | undefined => {
  const text = alert.annotations[key] ?? alert.labels[key];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
};
