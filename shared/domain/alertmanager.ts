import * as z from './zod.ts';

// Intents and target state keep startsAt in UTC, where their schemas allow years 0000-9999 only:
// a time that parses but lands outside them (9999-12-31T23:30:00-01:00) would fail the worker on every delivery.
const isStorableTime = (text: string): boolean => {
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && /^\d{4}-/.test(new Date(ms).toISOString());
};

const timestampSchema = z.string().check(z.refine(isStorableTime, { message: 'expected an RFC 3339 timestamp within the years 0000-9999 in UTC' }));

/** One alert of an Alertmanager webhook notification (payload version 4). */
export const webhookAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()).check(
    z.refine((labels) => typeof labels.alertname === 'string', { message: 'every alert needs an alertname label' }),
  ),
  annotations: z._default(z.record(z.string(), z.string()), {}),
  startsAt: timestampSchema,
  endsAt: z.optional(timestampSchema),
  generatorURL: z.optional(z.string()),
  fingerprint: z.string().check(z.minLength(1), z.maxLength(64)),
});

/**
 * The body Alertmanager posts to a webhook receiver. Unknown fields are allowed so that
 * a newer Alertmanager keeps working; the version is not.
 */
export const webhookPayloadSchema = z.object({
  version: z.literal('4', { error: (issue) => `unsupported payload version ${JSON.stringify(issue.input)}, expected "4"` }),
  groupKey: z.optional(z.string()),
  truncatedAlerts: z._default(z.int().check(z.nonnegative()), 0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.optional(z.string()),
  groupLabels: z._default(z.record(z.string(), z.string()), {}),
  commonLabels: z._default(z.record(z.string(), z.string()), {}),
  commonAnnotations: z._default(z.record(z.string(), z.string()), {}),
  externalURL: z.optional(z.string()),
  alerts: z.array(webhookAlertSchema),
});

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;
export type WebhookAlert = z.infer<typeof webhookAlertSchema>;

// The payload with its alerts left for one-at-a-time validation.
const envelopeSchema = z.extend(webhookPayloadSchema, { alerts: z.array(z.unknown()) });

export type WebhookPayloadResult =
  | { success: true; data: WebhookPayload }
  /** The first `keep` issues in the order zod reports them, and how many there were in all. */
  | { success: false; issues: z.core.$ZodIssue[]; issueCount: number };

/**
 * Validates a body as webhookPayloadSchema does, but alert by alert, keeping the first `keep`
 * issues and counting the others. One safeParse of 150,000 empty alerts gathers 600,000 issues
 * (270 MB of heap, half the function's memory); here each alert's issues go once counted.
 */
export const parseWebhookPayload = (json: unknown, keep: number): WebhookPayloadResult => {
  const envelope = envelopeSchema.safeParse(json);
  const issues = envelope.success ? [] : envelope.error.issues.slice(0, keep);
  let issueCount = envelope.success ? 0 : envelope.error.issues.length;
  // Checked even when the rest of the payload is wrong, as one safeParse would.
  const raw = (json as { alerts?: unknown } | null)?.alerts;
  const items: readonly unknown[] = Array.isArray(raw) ? raw : [];
  const alerts: WebhookAlert[] = [];
  items.forEach((item, index) => {
    const alert = webhookAlertSchema.safeParse(item);
    if (alert.success) {
      alerts.push(alert.data);
      return;
    }
    issueCount += alert.error.issues.length;
    for (const issue of alert.error.issues.slice(0, keep - issues.length)) issues.push({ ...issue, path: ['alerts', index, ...issue.path] });
  });
  if (!envelope.success || issueCount > 0) return { success: false, issues, issueCount };
  return { success: true, data: { ...envelope.data, alerts } };
};

/** The numeric value an alert carries in an annotation or label, if it parses. */
export const alertValue = (alert: WebhookAlert, key: string): number | undefined => {
  const text = alert.annotations[key] ?? alert.labels[key];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
};
