import * as z from './zod.ts';
import { keyedEmergencyMark } from './intent.ts';
import { metricSignalSchema } from './metrics.ts';

/**
 * The caps keep one target's document well under the 4 KB of a Standard SSM parameter. Of the
 * 12 alerts, vetoes take at most 10: a storm of per-GPU vetoes leaves room for the alerts that
 * scale, which act once the vetoes resolve instead of when Alertmanager repeats them.
 */
export const STATE_LIMITS = { alerts: 12, vetoAlerts: 10, droppedVetoes: 8, tombstones: 8, recentIntents: 16, history: 5, emergencies: 4, emergencyKeys: 32, outbox: 4, readings: 8, message: 160 } as const;

const isoSchema = z.iso.datetime({ offset: true });

/** An alert the target is reacting to, kept until it resolves or expires. */
export const activeAlertSchema = z.strictObject({
  fingerprint: z.string(),
  alertname: z.string(),
  /** Ids of the rules and vetoes this alert matched for the target. */
  rules: z.array(z.string()),
  startsAt: isoSchema,
  /** Last time Alertmanager (re)sent it: a firing alert not re-sent for `alertTtl` expires. */
  seenAt: isoSchema,
  value: z.optional(z.number()),
  /** The alert matched a veto of the target: never the one dropped to make room. */
  veto: z.optional(z.literal(true)),
});

/** A resolved alert, kept for `alertTtl` so a late copy of its firing notice cannot revive it. */
export const tombstoneSchema = z.strictObject({
  fingerprint: z.string(),
  startsAt: isoSchema,
  resolvedAt: isoSchema,
});

export const historyEntrySchema = z.strictObject({
  at: isoSchema,
  intent: z.string(),
  from: z.int(),
  to: z.int(),
  /** The headline: what limited the decision, or what caused it. */
  code: z.string(),
  /** What proposed it, when a limit changed it. */
  cause: z.optional(z.string()),
  message: z.string().check(z.maxLength(STATE_LIMITS.message)),
  /** Who asked, for an operator's command. */
  by: z.optional(z.string().check(z.maxLength(64))),
});

/**
 * The audit record of a decision, kept in the state until it is published: an action's
 * event is sent after the action, and a crash in between must not lose it (the outbox).
 */
export const auditRecordSchema = z.strictObject({
  intent: z.string(),
  generation: z.int().check(z.nonnegative()),
  at: isoSchema,
  source: z.string(),
  from: z.int(),
  to: z.int(),
  verdict: z.enum(['scale', 'hold', 'none']),
  code: z.string(),
  cause: z.optional(z.string()),
  message: z.string().check(z.maxLength(STATE_LIMITS.message)),
  rule: z.optional(z.string()),
  emergency: z.boolean(),
  by: z.optional(z.string().check(z.maxLength(64))),
});

/**
 * An action recorded before the worker calls EKS or Kubernetes: "set `to`, from `from`, for
 * `intent`". The next delivery compares the live size with it: there -> the action happened
 * (finish it); not there -> it did not (the same intent acts again; another one drops it).
 */
export const pendingActionSchema = z.strictObject({
  to: z.int().check(z.nonnegative()),
  from: z.int().check(z.nonnegative()),
  /** An emergency is never adopted away: it re-applies its size. */
  emergency: z.boolean(),
  pin: z.optional(z.boolean()),
  audit: auditRecordSchema,
});

export const pauseSchema = z.strictObject({
  until: isoSchema,
  reason: z.string().check(z.maxLength(STATE_LIMITS.message)),
  by: z.optional(z.string().check(z.maxLength(64))),
  /** An emergency size pins an HPA (minReplicas = maxReplicas) until this pause ends. */
  pinned: z.optional(z.literal(true)),
});

/** A window's entry size, kept until the target reaches it (level-triggered, never lost to a hold). */
export const windowEntrySchema = z.strictObject({
  to: z.int().check(z.nonnegative()),
  /** The size when the window began: what an event window returns to after it ends. */
  before: z.int().check(z.nonnegative()),
  done: z.boolean(),
});

/** An event window that ended: its sizes return to `to` once `after` has passed. */
export const windowReturnSchema = z.strictObject({
  window: z.string(),
  to: z.int().check(z.nonnegative()),
  after: isoSchema,
});

export const targetStateSchema = z.strictObject({
  version: z.literal(1),
  target: z.string(),
  /** Bumped on every write; an action is "set desired to N based on generation G". */
  generation: z.int().check(z.nonnegative()),
  /** The size the scaler last set; null until it first acts or observes. */
  desired: z.nullable(z.int().check(z.nonnegative())),
  lastScaleAt: z.optional(isoSchema),
  lastUpAt: z.optional(isoSchema),
  lastDownAt: z.optional(isoSchema),
  alerts: z.array(activeAlertSchema).check(z.maxLength(STATE_LIMITS.alerts)),
  /** Set while alerts had to be dropped to fit: the target is treated as vetoed (fail safe). */
  alertsTruncated: z.optional(z.literal(true)),
  /**
   * Set while the hold the history ends with is still in force (since it, nothing moved the
   * target, and no alert or pause began or ended): the same hold decided again is not
   * recorded twice, while one that comes back after it ended is.
   */
  holding: z.optional(z.literal(true)),
  /**
   * The veto alerts dropped to fit, by fingerprint, since when they fire and when last seen:
   * the target stays vetoed (`alertsTruncated`) until each is seen resolved (by a notice no
   * older than its firing) or not re-sent for `alertTtl`.
   */
  droppedVetoes: z.optional(
    z.array(z.strictObject({ fingerprint: z.string(), startsAt: isoSchema, seenAt: isoSchema })).check(z.maxLength(STATE_LIMITS.droppedVetoes)),
  ),
  /** More vetoes were dropped than `droppedVetoes` holds: the target stays vetoed until then (their last notice + `alertTtl`). */
  vetoesForgottenUntil: z.optional(isoSchema),
  tombstones: z.optional(z.array(tombstoneSchema).check(z.maxLength(STATE_LIMITS.tombstones))),
  pause: z.optional(pauseSchema),
  /** Id of the schedule window in force at the last decision, to see entering a new one. */
  window: z.nullable(z.string()),
  windowEntry: z.optional(windowEntrySchema),
  windowReturn: z.optional(windowReturnSchema),
  /** Since when a GPU pool has had more nodes than its workloads need. */
  idleSince: z.optional(isoSchema),
  /**
   * Since when the rules have asked, without a break, for a scale-up or a scale-down that has
   * not happened yet: what a target's stabilization window waits on (`rateLimit`).
   */
  proposedSince: z.optional(z.strictObject({ up: z.optional(isoSchema), down: z.optional(isoSchema) })),
  /** Intents already decided: a redelivered message is recognised and acts no more. */
  recentIntents: z.array(z.string()).check(z.maxLength(STATE_LIMITS.recentIntents)),
  history: z.array(historyEntrySchema).check(z.maxLength(STATE_LIMITS.history)),
  /** Set between recording an action and knowing it is done: never dropped to save room. */
  pending: z.optional(pendingActionSchema),
  /** Audit records whose events could not be sent yet: the next delivery sends them. */
  outbox: z.optional(z.array(auditRecordSchema).check(z.maxLength(STATE_LIMITS.outbox))),
  /**
   * The last operator commands and their outcomes, apart from the busier history: a command
   * retried with its idempotency key is recognised, and answered the same, long after.
   */
  emergencies: z.optional(z.array(historyEntrySchema).check(z.maxLength(STATE_LIMITS.emergencies))),
  /**
   * The last keyed operator commands, by their marks (intent.ts keyedEmergencyMark): a retry
   * with its idempotency key acts no more, and a key reused for another command is refused,
   * long after the command's answer left `emergencies`.
   */
  emergencyKeys: z.optional(z.array(z.string()).check(z.maxLength(STATE_LIMITS.emergencyKeys))),
  /** The tick's last reading of each metric rule: a rule still in force between ticks. */
  readings: z.optional(z.array(z.extend(metricSignalSchema, { at: isoSchema })).check(z.maxLength(STATE_LIMITS.readings))),
});

export type TargetState = z.infer<typeof targetStateSchema>;
export type ActiveAlert = z.infer<typeof activeAlertSchema>;
export type HistoryEntry = z.infer<typeof historyEntrySchema>;
export type Tombstone = z.infer<typeof tombstoneSchema>;
export type AuditRecord = z.infer<typeof auditRecordSchema>;
export type PendingAction = z.infer<typeof pendingActionSchema>;

export const initialState = (target: string): TargetState => ({
  version: 1,
  target,
  generation: 0,
  desired: null,
  alerts: [],
  window: null,
  recentIntents: [],
  history: [],
});

/** SSM Standard parameters hold 4 KB. */
export const MAX_STATE_BYTES = 4096;

/** UTF-8 bytes of the document; this runs on every decision, and most documents are ASCII. */
const byteLength = (state: TargetState): number => {
  const text = JSON.stringify(state);
  return /[^\x00-\x7f]/.test(text) ? new TextEncoder().encode(text).length : text.length;
};

/** What a message keeps once a document had to be cut: its first words (the code says the rest). */
const SHORT_MESSAGE = 40;

const shortened = <T extends { message: string }>(entry: T): T =>
  entry.message.length > SHORT_MESSAGE ? { ...entry, message: entry.message.slice(0, SHORT_MESSAGE) } : entry;

/** The messages and error texts of a document cut short; nothing a decision reads changes. */
const shortenTexts = (state: TargetState): TargetState => ({
  ...state,
  history: state.history.map(shortened),
  ...(state.emergencies ? { emergencies: state.emergencies.map(shortened) } : {}),
  ...(state.outbox ? { outbox: state.outbox.map(shortened) } : {}),
  ...(state.pending ? { pending: { ...state.pending, audit: shortened(state.pending.audit) } } : {}),
  ...(state.readings ? { readings: state.readings.map((r) => (r.error && r.error.length > SHORT_MESSAGE ? { ...r, error: r.error.slice(0, SHORT_MESSAGE) } : r)) } : {}),
});

/**
 * Trims a state document until it fits a Standard parameter, what costs least first: history,
 * tombstones, remembered intents (keeping the last four), messages cut to their first words,
 * emergency answers but the last, the last metric readings (the next tick reads them again),
 * then the alerts that are not vetoes, least `urgent` first (a firing P1 outlasts a P3; the
 * target is then treated as vetoed). The caps make this rare; long alert names and ids make it
 * possible. The pending action, the outbox, vetoes, dropped vetoes, the pause and the keyed
 * commands' marks (16 bytes each: a retry they no longer recognised would act again) are never
 * dropped: a document that still does not fit goes to the advanced tier (8 KB; SsmStateStore
 * writes with Intelligent-Tiering).
 */
export const compactState = (state: TargetState, urgency: (alert: ActiveAlert) => number = () => 0, limit = MAX_STATE_BYTES): TargetState => {
  let next = state;
  let texts = false;
  while (byteLength(next) >= limit) {
    if (next.history.length > 1) next = { ...next, history: next.history.slice(1) };
    else if (next.tombstones?.length) next = { ...next, tombstones: next.tombstones.slice(1) };
    else if (next.recentIntents.length > 4) next = { ...next, recentIntents: next.recentIntents.slice(1) };
    else if (!texts) [next, texts] = [shortenTexts(next), true];
    else if ((next.emergencies?.length ?? 0) > 1) next = { ...next, emergencies: next.emergencies?.slice(-1) ?? [] };
    else if (next.readings?.length) next = { ...next, readings: undefined };
    else {
      const droppable = leastUrgent(next.alerts, urgency);
      if (droppable === undefined) break;
      next = { ...next, alerts: next.alerts.filter((a) => a !== droppable), alertsTruncated: true };
    }
  }
  return next;
};

/** Which alert to keep first when not all fit: the most urgent, and of those the one seen last. */
export const moreUrgentFirst =
  (urgency: (alert: ActiveAlert) => number) =>
  (a: ActiveAlert, b: ActiveAlert): number =>
    urgency(b) - urgency(a) || Date.parse(b.seenAt) - Date.parse(a.seenAt);

/** The alert that is not a veto and matters least: the last to keep. */
const leastUrgent = (alerts: readonly ActiveAlert[], urgency: (alert: ActiveAlert) => number): ActiveAlert | undefined =>
  alerts.filter((a) => !a.veto).sort(moreUrgentFirst(urgency)).at(-1);

/**
 * Whether a target's state remembers deciding an intent: among the recent intents, the
 * operator commands' answers, or (a keyed command) the keyed commands' marks.
 */
export const remembersIntent = (state: TargetState, intentId: string): boolean => {
  const mark = keyedEmergencyMark(intentId);
  return state.recentIntents.includes(intentId) || state.emergencies?.some((e) => e.intent === intentId) === true || (mark !== undefined && state.emergencyKeys?.includes(mark) === true);
};

/** Keeps the newest `limit` items of a list that grows at its end. */
export const keepLast = <T>(items: readonly T[], limit: number): T[] => items.slice(Math.max(0, items.length - limit));

/**
 * A stored document read back for `target`: its state, or why it cannot be used. A document
 * another target's (copied or renamed by hand) is unreadable here: trusted, it would send this
 * target's decisions to the other one's document.
 */
export const parseStateDocument = (text: string, target: string): { state: TargetState } | { problem: string } => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}`.slice(0, 200) };
  }
  const result = targetStateSchema.safeParse(json);
  if (result.success) return result.data.target === target ? { state: result.data } : { problem: `target: the document is "${result.data.target}"'s, not "${target}"'s`.slice(0, 200) };
  const issue = result.error.issues[0];
  return { problem: `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`.slice(0, 200) };
};
