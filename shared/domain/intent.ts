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

/**
 * The emergency procedures of the runbooks; `ttl` says how a length is written: a pause's,
 * and on an `hpa` target how long an emergency size pins the HPA (the policy's `pinFor` by default).
 */
const commandSchema = <Ttl extends z.ZodType<number>>(ttl: Ttl) =>
  z.discriminatedUnion('action', [
    // `replicas` is the doubled size, computed when the command is received: a retry sets the same size.
    z.strictObject({ action: z.literal('double'), replicas: z.number().int().nonnegative().optional(), ttl: ttl.optional() }),
    z.strictObject({ action: z.literal('set'), replicas: z.number().int().nonnegative(), ttl: ttl.optional() }),
    z.strictObject({ action: z.literal('scaleToMin'), ttl: ttl.optional() }),
    z.strictObject({ action: z.literal('pause'), ttl }),
    z.strictObject({ action: z.literal('resume') }),
    z.strictObject({ action: z.literal('evaluateNow') }),
    z.strictObject({ action: z.literal('deprovisionPool') }),
  ]);

/** An emergency command as an operator sends it: a pause for `30m`. */
export const emergencyCommandSchema = commandSchema(durationSchema.pipe(z.number().int().positive().max(MAX_TTL)));

// The queued intent carries the command as parsed, lengths already in seconds.
const queuedCommandSchema = commandSchema(z.number().int().positive().max(MAX_TTL));

export const intentSchema = z.strictObject({
  /** Also the SQS deduplication id: the same input always yields the same id. */
  id: z.string().min(1).max(128),
  target: z.string(),
  createdAt: isoSchema,
  source: z.enum(['alert', 'tick', 'emergency', 'coupling']),
  alerts: z.array(alertObservationSchema).default([]),
  command: queuedCommandSchema.optional(),
  /** Why, recorded with emergency decisions. */
  reason: z.string().max(160).optional(),
  /** Who asked: the operator's name or IAM identity, recorded in state, events and logs. */
  actor: z.string().min(1).max(64).optional(),
  /** The tick's reading of the target's metric rules. */
  metrics: z.array(metricSignalSchema).optional(),
  /** A GPU workload asks its pool for at least this many nodes before its pods scale. */
  ensureAtLeast: z.number().int().nonnegative().optional(),
});

export type Intent = z.infer<typeof intentSchema>;
export type AlertObservation = z.infer<typeof alertObservationSchema>;
export type EmergencyCommand = z.infer<typeof emergencyCommandSchema>;
