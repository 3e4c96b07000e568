import { z } from 'zod';

/** The caps keep one target's document well under the 4 KB of a Standard SSM parameter. */
export const STATE_LIMITS = { alerts: 12, recentIntents: 16, history: 5, message: 160 } as const;

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
  value: z.number().optional(),
});

export const historyEntrySchema = z.strictObject({
  at: isoSchema,
  intent: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  code: z.string(),
  message: z.string().max(STATE_LIMITS.message),
});

export const pauseSchema = z.strictObject({
  until: isoSchema,
  reason: z.string().max(STATE_LIMITS.message),
});

export const targetStateSchema = z.strictObject({
  version: z.literal(1),
  target: z.string(),
  /** Bumped on every write; an action is "set desired to N based on generation G". */
  generation: z.number().int().nonnegative(),
  /** The size the scaler last set; null until it first acts or observes. */
  desired: z.number().int().nonnegative().nullable(),
  lastScaleAt: isoSchema.optional(),
  lastUpAt: isoSchema.optional(),
  lastDownAt: isoSchema.optional(),
  alerts: z.array(activeAlertSchema).max(STATE_LIMITS.alerts),
  pause: pauseSchema.optional(),
  /** Id of the schedule window in force at the last decision, to see entering a new one. */
  window: z.string().nullable(),
  /** Since when a GPU pool has had more nodes than its workloads need. */
  idleSince: isoSchema.optional(),
  /** Intents already decided: a redelivered message is recognised and acts no more. */
  recentIntents: z.array(z.string()).max(STATE_LIMITS.recentIntents),
  history: z.array(historyEntrySchema).max(STATE_LIMITS.history),
});

export type TargetState = z.infer<typeof targetStateSchema>;
export type ActiveAlert = z.infer<typeof activeAlertSchema>;
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

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

const byteLength = (state: TargetState): number => new TextEncoder().encode(JSON.stringify(state)).length;

/**
 * Trims a state document until it fits a Standard parameter, oldest first: history, then
 * remembered intents (keeping the last four), then the alerts seen longest ago. The caps
 * make this rare; long alert names and ids make it possible.
 */
export const compactState = (state: TargetState, limit = MAX_STATE_BYTES): TargetState => {
  let next = state;
  while (byteLength(next) >= limit) {
    if (next.history.length > 1) next = { ...next, history: next.history.slice(1) };
    else if (next.recentIntents.length > 4) next = { ...next, recentIntents: next.recentIntents.slice(1) };
    else if (next.alerts.length > 0) next = { ...next, alerts: next.alerts.slice(1) };
    else break;
  }
  return next;
};

/** Keeps the newest `limit` items of a list that grows at its end. */
export const keepLast = <T>(items: readonly T[], limit: number): T[] => items.slice(Math.max(0, items.length - limit));
