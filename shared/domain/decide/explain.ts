import type { Decision } from '../decision.ts';
import { type Limit, limitsOf } from '../precedence.ts';
import type { Reason, ReasonCode } from '../reasons.ts';
import type { ResolvedTarget } from '../resolve.ts';
import { initialState, type TargetState } from '../state.ts';
import { choose } from './choose.ts';
import type { Candidate, Context, DecideInput } from './context.ts';
import { decide } from './index.ts';
import { applyLimits, LIMIT_ORDER } from './limits.ts';
import { observeIdle, observeWindow, readIntoState } from './observe.ts';
import { driftRestore, propose } from './propose.ts';

// The decision's chain laid out step by step for a person (`gpu-autoscaler explain`): the same
// observe, propose, choose and limit functions decide() runs, and decide() itself for the answer.

/** The codes each limit writes, to tell which limit a note came from. */
const LIMIT_CODES: Readonly<Record<Limit, readonly ReasonCode[]>> = {
  veto: ['VetoedByAlert', 'AlertsTruncatedVeto'],
  pause: ['Paused'],
  scaleDownDelay: ['ScaleDownDelayed'],
  cooldown: ['CooldownActive'],
  readiness: ['WaitingForReady', 'StepNotReady'],
  warmup: ['WarmingUp'],
  drain: ['DrainingPods'],
  activeWork: ['ActiveWork'],
  disruptionBudget: ['DisruptionBudgetExhausted'],
  oneStepDown: ['OneStepAtATime'],
  rateLimit: ['RateLimited'],
  stabilization: ['Stabilizing'],
  windowBounds: ['ScheduleFloor', 'ScheduleCeiling'],
  gpuCapacity: ['GpuCapacityLimit', 'GpuCapacityRequested', 'WaitingForNodes', 'NodesNotJoined'],
  hardBounds: ['ClampedToMax', 'ClampedToMin'],
};

export interface ExplainedCandidate extends Candidate {
  /** The one the precedence table chose. */
  won: boolean;
}

export interface ExplainedLimit {
  limit: Limit;
  /**
   * `applied`: it changed or held the size (or noted something); `passed`: it looked and let it
   * through; `notApplicable`: the precedence table does not apply it to this source and
   * direction; `skipped`: an earlier limit already held the size.
   */
  outcome: 'applied' | 'passed' | 'notApplicable' | 'skipped';
  reason?: Reason;
}

export interface Explanation {
  /** The size decisions start from (recorded, or live where it drifted). */
  base: number;
  /** The window in force, if any. */
  window?: string;
  candidates: ExplainedCandidate[];
  /** What choosing found: the winning source and size, and why the others lost. */
  chosen: { source: string; to: number; cause?: Reason; notes: Reason[] };
  /** Every limit in the order the chain runs them; empty when nothing asked for a change. */
  limits: ExplainedLimit[];
  /** Where the chain ends: the size after the limits, and whether they held it. */
  limited: { to: number; held: boolean };
  /** decide() on the same input: the answer, as the worker would record it. */
  decision: Decision;
}

const sameCandidate = (c: Candidate, chosen: { source: string; to: number; rule?: string }): boolean =>
  c.source === chosen.source && c.to === chosen.to && c.rule === chosen.rule;

/** Walks the limits the precedence table names for the chosen source, saying what each did. */
const walkLimits = (ctx: Context, chosen: ReturnType<typeof choose>, limited: ReturnType<typeof applyLimits>): ExplainedLimit[] => {
  if (chosen.source === 'none' || chosen.to === ctx.base) return [];
  const up = chosen.to > ctx.base;
  const table = limitsOf(chosen.source, up);
  const added = limited.notes.slice(chosen.notes.length);
  let held = false;
  return LIMIT_ORDER.map((limit): ExplainedLimit => {
    if (!table.includes(limit)) return { limit, outcome: 'notApplicable' };
    const note = added.find((r) => LIMIT_CODES[limit].includes(r.code));
    if (held && limit !== 'hardBounds') return { limit, outcome: 'skipped' };
    if (!note) return { limit, outcome: 'passed' };
    if (limited.held && limited.limitedBy === note) held = true;
    return { limit, outcome: 'applied', reason: note };
  });
};

/**
 * Explains what decide() does with an input, step by step, without acting: the candidates of
 * every source, which one the precedence table chose and why, and each limit in turn. For an
 * operator's command it shows the answer alone (commands bypass the chain).
 */
export const explainDecision = (target: ResolvedTarget, prior: TargetState | undefined, input: DecideInput, now: Date): Explanation => {
  const decision = decide(target, prior, input, now);
  const priorState = prior ?? initialState(target.id);
  const { observed, intent } = input;
  const nowMs = now.getTime();
  const notes: Reason[] = [];
  let state = readIntoState(target, priorState, intent, nowMs, notes);
  let base = priorState.desired ?? observed ?? target.min;
  let drift: Candidate | undefined;
  if (observed !== undefined && priorState.desired !== null && observed !== priorState.desired) {
    base = observed;
    if (target.onDrift === 'adopt') state = { ...state, desired: observed };
    else drift = driftRestore(priorState.desired, observed);
  }
  if (priorState.desired === null) state = { ...state, desired: base };
  const seen = observeWindow(target, state, base, nowMs);
  state = observeIdle(target, seen.state, base, input.gpu, nowMs, priorState);
  const ctx: Context = { target, intent, state, now: nowMs, base, ...(seen.window ? { window: seen.window } : {}), ...(input.gpu ? { gpu: input.gpu } : {}), ...(input.health ? { health: input.health } : {}) };
  const candidates = propose(ctx, drift, notes);
  const chosen = choose(ctx, candidates, []);
  const limited = applyLimits(chosen, ctx);
  return {
    base,
    ...(seen.window ? { window: seen.window.schedule.id } : {}),
    candidates: candidates.map((c) => ({ ...c, won: chosen.source !== 'none' && sameCandidate(c, chosen) })),
    chosen: { source: chosen.source, to: chosen.to, ...(chosen.cause ? { cause: chosen.cause } : {}), notes: chosen.notes },
    limits: walkLimits(ctx, chosen, limited),
    limited: { to: limited.to, held: limited.held },
    decision,
  };
};
