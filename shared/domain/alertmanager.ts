import { z } from 'zod';

const timestampSchema = z
  .string()
  .refine((text) => !Number.isNaN(Date.parse(text)), { message: 'expected an RFC 3339 timestamp' });

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
