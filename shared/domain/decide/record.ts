import type { Decision, Verdict } from '../decision.ts';
import { type Intent, keyedEmergencyMark } from '../intent.ts';
import { reason, type Reason } from '../reasons.ts';
import { type AuditRecord, compactState, keepLast, STATE_LIMITS, type TargetState } from '../state.ts';
import { type Context, iso, type Proposal } from './context.ts';
import { alertUrgency } from './observe.ts';

// Recording: the decision with its cause, what limited it and every reason, and the state
// document the worker writes after acting.

/** A window's entry is done once the size has reached it, whichever source got it there. */
const settleWindow = (state: TargetState, size: number): TargetState => {
  let next = state;
  const entry = next.windowEntry;
  if (entry && !entry.done) {
    const reached = entry.to >= entry.before ? size >= entry.to : size <= entry.to;
    if (reached) next = { ...next, windowEntry: { ...entry, done: true } };
  }
  const back = next.windowReturn;
  if (back && size <= back.to) {
    const { windowReturn: _r, ...rest } = next;
    next = rest;
  }
  return next;
};

/** The same reason can reach the list twice (a limit noted and then headlined); keep one. */
const unique = (reasons: readonly Reason[]): Reason[] =>
  reasons.filter((r, i) => reasons.findIndex((o) => o.code === r.code && o.message === r.message) === i);

/**
 * Whether what a hold stands on changed: an alert began or ended, or a pause was set, changed or
 * lifted. A decision with nothing to do in between (a pool's reconcile between the requests of
 * its waiting workloads) leaves a hold in force; one after such a change ends it, so the same
 * hold coming back (a veto that resolved and fired again) is recorded anew.
 */
const holdingConditionsChanged = (prior: TargetState, next: TargetState): boolean => {
  const alerts = (state: TargetState) => state.alerts.map((a) => `${a.fingerprint}@${a.startsAt}`).sort().join(' ');
  return alerts(prior) !== alerts(next) || prior.pause?.until !== next.pause?.until;
};

export interface Recorded {
  /** Reasons that come before the chain's (a command, a recovery), headline first. */
  leading: Reason[];
  /** Observations made while reading the intent (expiries, stale notices). */
  observed: Reason[];
  /** Set when a command changed the state itself (pause, resume): recorded even without a size change. */
  command?: boolean;
  hpa?: 'pin' | 'release';
  /** Audit records of actions a crash left unpublished, to publish with this decision. */
  outbox?: AuditRecord[];
  actor?: string;
}

export const record = (ctx: Context, prior: TargetState, intent: Intent, from: number, p: Proposal, extra: Recorded, nextState: TargetState): Decision => {
  const moved = p.to !== from;
  const verdict: Verdict = moved || extra.hpa ? 'scale' : p.held || extra.command || p.source === 'emergency' ? 'hold' : 'none';
  const headline = extra.leading[0] ?? p.limitedBy ?? p.cause ?? (extra.observed.length ? undefined : reason('NoRuleMatched', 'no active alert, window or command asks for a change'));
  const rest = [...extra.leading.slice(1), ...(p.limitedBy && p.cause ? [p.cause] : []), ...p.notes, ...extra.observed];
  const reasons = unique(headline ? [headline, ...rest] : [reason('NoChange', `stays at ${from}`), ...rest]);
  const at = iso(ctx.now);
  const top = reasons[0] as Reason;
  const cause = p.limitedBy && p.cause && top.code !== p.cause.code ? p.cause.code : undefined;
  const last = nextState.history.at(-1);
  // The same hold, word for word, seen again by a reconcile or a re-sent notice while it is
  // still in force: the history already says so since it began. Recording it again would push
  // the last actions out of the bounded history and republish the same event every few minutes.
  const repeated =
    verdict === 'hold' && prior.holding === true && !extra.command && extra.leading.length === 0 && intent.source !== 'emergency' && last !== undefined && last.code === top.code && last.cause === cause && last.from === from && last.to === p.to && last.message === top.message.slice(0, STATE_LIMITS.message);
  const recorded = (verdict !== 'none' || extra.leading.length > 0 || intent.source === 'emergency') && !repeated;
  const { holding: _held, ...unheld } = nextState;
  let state: TargetState = {
    ...unheld,
    ...(verdict === 'hold' || (verdict === 'none' && prior.holding && !holdingConditionsChanged(prior, nextState)) ? { holding: true as const } : {}),
    generation: prior.generation + 1,
    recentIntents: keepLast([...nextState.recentIntents.filter((id) => id !== intent.id), intent.id], STATE_LIMITS.recentIntents),
    history: recorded
      ? keepLast(
          [
            ...nextState.history,
            {
              at,
              intent: intent.id,
              from,
              to: p.to,
              code: top.code,
              ...(cause ? { cause } : {}),
              message: top.message.slice(0, STATE_LIMITS.message),
              ...(extra.actor ? { by: extra.actor } : {}),
            },
          ],
          STATE_LIMITS.history,
        )
      : nextState.history,
  };
  if (moved) {
    // A change made starts the next one's stabilization window afresh.
    const { proposedSince: _done, ...rest } = state;
    state = { ...rest, desired: p.to, lastScaleAt: at, ...(p.to > from ? { lastUpAt: at } : { lastDownAt: at }) };
  }
  const answer = state.history.at(-1);
  if (intent.source === 'emergency' && answer?.intent === intent.id) {
    state = { ...state, emergencies: keepLast([...(state.emergencies ?? []), answer], STATE_LIMITS.emergencies) };
  }
  const mark = intent.source === 'emergency' ? keyedEmergencyMark(intent.id) : undefined;
  if (mark && !state.emergencyKeys?.includes(mark)) {
    state = { ...state, emergencyKeys: keepLast([...(state.emergencyKeys ?? []), mark], STATE_LIMITS.emergencyKeys) };
  }
  state = settleWindow(state, p.to);
  return {
    target: ctx.target.id,
    intentId: intent.id,
    source: intent.source,
    at,
    from,
    to: p.to,
    verdict,
    ...(repeated ? { repeated: true as const } : {}),
    ...(p.cause ? { cause: p.cause } : {}),
    ...(p.limitedBy ? { limitedBy: p.limitedBy } : {}),
    reasons,
    ...(p.rule ? { rule: p.rule } : {}),
    fingerprints: [...new Set([...p.fingerprints, ...intent.alerts.map((a) => a.fingerprint)])],
    emergency: intent.source === 'emergency',
    state: compactState(state, alertUrgency(ctx.target)),
    followUps: p.followUps,
    ...(extra.hpa ? { hpa: extra.hpa } : {}),
    ...(extra.actor ? { actor: extra.actor } : {}),
    outbox: extra.outbox ?? [],
  };
};
