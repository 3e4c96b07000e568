import * as z from './zod.ts';
import { durationSchema } from './duration.ts';
import { metricSignalSchema } from './metrics.ts';

const isoSchema = z.iso.datetime({ offset: true });

/** What an alert notification says about one alert, for one target. */
export const alertObservationSchema = z.strictObject({
  fingerprint: z.string(),
  alertname: z.string(),
  status: z.enum(['firing', 'resolved']),
  startsAt: isoSchema,
  value: z.optional(z.number()),
  /** Rules and vetoes of this target that the alert matched when it was received. */
  rules: z.array(z.string()).check(z.minLength(1)),
});

/** No pause or pin outlives a year; the policy's `maxPause` caps pauses further. */
const MAX_TTL = 365 * 86_400;

/**
 * The emergency procedures of the runbooks; `ttl` says how a length is written: a pause's,
 * and on an `hpa` target how long an emergency size pins the HPA (the policy's `pinFor` by default).
 */
const commandSchema = <Ttl extends z.ZodMiniType<number>>(ttl: Ttl) =>
  z.discriminatedUnion('action', [
    // `replicas` is the doubled size, computed when the command is received: a retry sets the same size.
    z.strictObject({ action: z.literal('double'), replicas: z.optional(z.int().check(z.nonnegative())), ttl: z.optional(ttl) }),
    z.strictObject({ action: z.literal('set'), replicas: z.int().check(z.nonnegative()), ttl: z.optional(ttl) }),
    z.strictObject({ action: z.literal('scaleToMin'), ttl: z.optional(ttl) }),
    z.strictObject({ action: z.literal('pause'), ttl }),
    z.strictObject({ action: z.literal('resume') }),
    z.strictObject({ action: z.literal('evaluateNow') }),
    z.strictObject({ action: z.literal('deprovisionPool') }),
  ]);

/** A pause's or pin's length in seconds. */
const ttlSchema = z.int().check(z.positive(), z.maximum(MAX_TTL));

/** An emergency command as an operator sends it: a pause for `30m`. */
export const emergencyCommandSchema = commandSchema(z.pipe(durationSchema, ttlSchema));

// The queued intent carries the command as parsed, lengths already in seconds.
const queuedCommandSchema = commandSchema(ttlSchema);

export const intentSchema = z.strictObject({
  /** Also the SQS deduplication id: the same input always yields the same id. */
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  target: z.string(),
  createdAt: isoSchema,
  source: z.enum(['alert', 'tick', 'emergency', 'coupling']),
  alerts: z._default(z.array(alertObservationSchema), []),
  command: z.optional(queuedCommandSchema),
  /** Why, recorded with emergency decisions. */
  reason: z.optional(z.string().check(z.maxLength(160))),
  /** Who asked: the operator's name or IAM identity, recorded in state, events and logs. */
  actor: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  /** The tick's reading of the target's metric rules. */
  metrics: z.optional(z.array(metricSignalSchema)),
  /** A GPU workload asks its pool for at least this many nodes before its pods scale. */
  ensureAtLeast: z.optional(z.int().check(z.nonnegative())),
});

export type Intent = z.infer<typeof intentSchema>;

/** A keyed emergency intent's id (app/intentIds.ts): `ek-`, 32 hex of target and key, 8 hex of the command. */
const KEYED_EMERGENCY_ID = /^ek-([0-9a-f]{32})([0-9a-f]{8})$/;

/**
 * What a target's state keeps of a keyed emergency command once its answer is gone
 * (`emergencyKeys`): 10 hex of the key's part and 6 of the command's, so that a retry is known
 * and a reused key told apart. Undefined for any other intent: only a key can be retried.
 */
export const keyedEmergencyMark = (intentId: string): string | undefined => {
  const match = KEYED_EMERGENCY_ID.exec(intentId);
  return match?.[1] && match[2] ? `${match[1].slice(0, 10)}${match[2].slice(0, 6)}` : undefined;
};

/** The part of a keyed mark that the target and the key decide: a reused key shares it. */
const KEYED_MARK_KEY_LENGTH = 10;

/**
 * The mark of a keyed command remembered under the same key as `intentId` but for another
 * command: the key was used for another command. Every keyed command decided leaves its mark
 * (a refused one does not), so the marks alone tell.
 */
export const otherCommandWithKey = (intentId: string, marks: readonly string[] = []): string | undefined => {
  const mark = keyedEmergencyMark(intentId);
  if (mark === undefined) return undefined;
  const keyPart = mark.slice(0, KEYED_MARK_KEY_LENGTH);
  return marks.find((other) => other.startsWith(keyPart) && other !== mark);
};
export type AlertObservation = z.infer<typeof alertObservationSchema>;
export type EmergencyCommand = z.infer<typeof emergencyCommandSchema>;
