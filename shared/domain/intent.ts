import { z } from 'zod';
import { durationSchema } from './duration.ts';
import { metricSignalSchema } from './metrics.ts';

const isoSchema = z.iso.datetime({ offset: true });

/** What an alert notification says about one alert, for one target. */
export const alertObservationSchema = z.strictObject({
  fingerprint: z.string(),
  alertname: z.string(),
  status: z.enum(['firing', 'resolved']),
  startsAt: isoSchema,
  value: z.number().optional(),
  /** Rules and vetoes of this target that the alert matched when it was received. */
  rules: z.array(z.string()).min(1),
});

/** No pause or pin outlives a year; the policy's `maxPause` caps pauses further. */
const MAX_TTL = 365 * 86_400;
/** On an `hpa` target an emergency size pins the HPA this long (the policy's `pinFor` by default). */
const pinSchema = durationSchema.pipe(z.number().int().positive().max(MAX_TTL)).optional();

/** The emergency procedures of the runbooks, as commands an operator sends. */
export const emergencyCommandSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('double'), ttl: pinSchema }),
  z.strictObject({ action: z.literal('set'), replicas: z.number().int().nonnegative(), ttl: pinSchema }),
  z.strictObject({ action: z.literal('scaleToMin'), ttl: pinSchema }),
  z.strictObject({ action: z.literal('pause'), ttl: durationSchema.pipe(z.number().int().positive().max(MAX_TTL)) }),
  z.strictObject({ action: z.literal('resume') }),
  z.strictObject({ action: z.literal('evaluateNow') }),
  z.strictObject({ action: z.literal('deprovisionPool') }),
]);

export const intentSchema = z.strictObject({
  /** Also the SQS deduplication id: the same input always yields the same id. */
  id: z.string().min(1).max(128),
  target: z.string(),
  createdAt: isoSchema,
  source: z.enum(['alert', 'tick', 'emergency', 'coupling']),
  alerts: z.array(alertObservationSchema).default([]),
  command: emergencyCommandSchema.optional(),
  /** Who asked, and why: recorded with emergency decisions. */
  reason: z.string().max(160).optional(),
  /** The tick's reading of the target's metric rules. */
  metrics: z.array(metricSignalSchema).optional(),
  /** A GPU workload asks its pool for at least this many nodes before its pods scale. */
  ensureAtLeast: z.number().int().nonnegative().optional(),
});

export type Intent = z.infer<typeof intentSchema>;
export type AlertObservation = z.infer<typeof alertObservationSchema>;
export type EmergencyCommand = z.infer<typeof emergencyCommandSchema>;
