import { formatDuration } from '../duration.ts';
import { gpuDemand, nodesFor, replicasThatFit } from '../gpu.ts';
import { type Limit, limited } from '../precedence.ts';
import { reason, type Reason } from '../reasons.ts';
import { ACTIVE_WORK } from '../policyLookups.ts';
import type { ResolvedTarget } from '../resolve.ts';
import { activeWindow } from '../schedule.ts';
import type { TargetState } from '../state.ts';
import { type Context, ms, type Proposal, since, type WorkloadHealth } from './context.ts';

// Limits: each looks at the proposal and returns the size it allows, and why, or nothing.
// The precedence table says which apply to which source; a hold ends the chain.

interface Limited {
  to: number;
  why: Reason;
}

type LimitStep = (p: Proposal, ctx: Context, up: boolean) => Limited | undefined;

const hold = (ctx: Context, why: Reason): Limited => ({ to: ctx.base, why });

const veto: LimitStep = (p, ctx, up) => {
  const blocks = up ? 'up' : 'down';
  for (const alert of ctx.state.alerts) {
    const v = alert.rules.map((id) => ctx.target.vetoes.get(id)).find((x) => x?.blocks === blocks);
    if (v) return hold(ctx, reason('VetoedByAlert', `scale-${blocks} by ${p.rule ?? p.source} blocked: ${alert.alertname} is firing (veto ${v.id})`));
  }
  // A veto that had to be dropped may block either way: downs hold too where a veto of the
  // target blocks them.
  if (ctx.state.alertsTruncated && (up || [...ctx.target.vetoes.values()].some((v) => v.blocks === 'down'))) {
    return hold(ctx, reason('AlertsTruncatedVeto', `scale-${blocks} by ${p.rule ?? p.source} blocked: some active alerts could not be kept, so a veto may be firing unseen`));
  }
  return undefined;
};

const pause: LimitStep = (_p, ctx) => {
  const paused = ctx.state.pause;
  return paused ? hold(ctx, reason('Paused', `paused until ${paused.until}: ${paused.reason}`)) : undefined;
};

/** Seconds left of a wait of `seconds` counted from `at`; 0 once over. */
const left = (seconds: number, at: string | undefined, now: number): number => Math.max(0, seconds - since(now, at));

const cooldownLeft = (seconds: number, state: TargetState, now: number): number => left(seconds, state.lastScaleAt, now);
const warmupLeft = (target: ResolvedTarget, state: TargetState, now: number): number => left(target.warmup, state.lastUpAt, now);
const scaleDownDelayLeft = (target: ResolvedTarget, state: TargetState, now: number): number => left(target.scaleDownDelay, state.lastUpAt, now);

const cooldown: LimitStep = (p, ctx) => {
  if (p.cooldown === undefined) return undefined;
  const rest = cooldownLeft(p.cooldown, ctx.state, ctx.now);
  if (rest === 0) return undefined;
  return hold(ctx, reason('CooldownActive', `cooldown of ${p.rule ?? p.source}: ${formatDuration(rest)} left of ${formatDuration(p.cooldown)}`));
};

/** As HPA's stabilization window: a change waits until the rules have asked for it that long. */
const stabilization: LimitStep = (_p, ctx, up) => {
  const window = up ? ctx.target.rateLimit?.stabilizationWindow?.up : ctx.target.rateLimit?.stabilizationWindow?.down;
  if (!window) return undefined;
  const asked = up ? ctx.state.proposedSince?.up : ctx.state.proposedSince?.down;
  const rest = asked === undefined ? window : left(window, asked, ctx.now);
  if (rest === 0) return undefined;
  return hold(ctx, reason('Stabilizing', `scale-${up ? 'up' : 'down'} waits until the rules have asked for it ${formatDuration(window)} (stabilization window): ${formatDuration(rest)} left`));
};

const warmup: LimitStep = (_p, ctx) => {
  const rest = warmupLeft(ctx.target, ctx.state, ctx.now);
  if (rest === 0) return undefined;
  return hold(ctx, reason('WarmingUp', `last scale-up still warming up: ${formatDuration(rest)} left of ${formatDuration(ctx.target.warmup)}`));
};

/** Pods that are Ready, updated and available: a rollout still under way counts only what it finished. */
const readyPods = (health: WorkloadHealth): number => Math.min(health.ready, health.updated, health.available);

/**
 * Whether the last step's pods are Ready (HSOF: add one replica, wait for Ready up to 300 s):
 * while they are not, the next automatic scale-up waits (`WaitingForReady`); past the
 * target's `readyTimeout` the step is reported (`StepNotReady`) and ups stay held until it is.
 * Nothing to say where the pods cannot be read or the target does not wait for them.
 */
export const readinessHold = (target: ResolvedTarget, state: TargetState, size: number, health: WorkloadHealth | undefined, now: number): Reason | undefined => {
  if (!health || !target.waitForReady) return undefined;
  const ready = readyPods(health);
  if (ready >= size) return undefined;
  const waited = since(now, state.lastUpAt);
  const counted = `${ready} of ${size} replica(s) Ready`;
  if (waited < target.readyTimeout) {
    return reason('WaitingForReady', `${counted}: the next scale-up waits for the last step (${formatDuration(target.readyTimeout - waited)} left of ${formatDuration(target.readyTimeout)})`);
  }
  const after = Number.isFinite(waited) ? ` ${formatDuration(waited)} after the last scale-up` : '';
  return reason('StepNotReady', `${counted}${after} (readyTimeout ${formatDuration(target.readyTimeout)}): no automatic scale-up until they are`);
};

const readiness: LimitStep = (_p, ctx) => {
  const why = readinessHold(ctx.target, ctx.state, ctx.base, ctx.health, ctx.now);
  return why ? hold(ctx, why) : undefined;
};

/** HSOF: no scale-down while the pods still have work (its `activeWork` alert fires). */
const activeWork: LimitStep = (p, ctx) => {
  const busy = ctx.state.alerts.find((a) => a.rules.includes(ACTIVE_WORK));
  return busy ? hold(ctx, reason('ActiveWork', `scale-down by ${p.rule ?? p.source} held: ${busy.alertname} is firing (the pods have active work)`)) : undefined;
};

/** TenSafe: a scale-down removes no more pods than the PodDisruptionBudget selecting them allows. */
const disruptionBudget: LimitStep = (p, ctx) => {
  const budget = ctx.health?.budget;
  if (!budget || ctx.base - p.to <= budget.disruptionsAllowed) return undefined;
  const to = ctx.base - budget.disruptionsAllowed;
  const allows = `PodDisruptionBudget ${budget.name} allows ${budget.disruptionsAllowed} disruption(s)`;
  return { to, why: reason('DisruptionBudgetExhausted', to === ctx.base ? `${allows}: scale-down held` : `${allows}: ${to} instead of ${p.to}`) };
};

const scaleDownDelay: LimitStep = (_p, ctx) => {
  const rest = scaleDownDelayLeft(ctx.target, ctx.state, ctx.now);
  if (rest === 0) return undefined;
  return hold(ctx, reason('ScaleDownDelayed', `scale-down waits ${formatDuration(ctx.target.scaleDownDelay)} after a scale-up: ${formatDuration(rest)} left`));
};

/** Pods first, nodes later: a pool keeps its nodes while a workload's pods drain. */
const drain: LimitStep = (_p, ctx) => {
  if (!ctx.gpu || ctx.target.kind !== 'eks-nodegroup') return undefined;
  const latest = Math.min(...ctx.gpu.members.map((m) => since(ctx.now, m.lastDownAt)));
  if (latest >= ctx.target.drain) return undefined;
  return hold(ctx, reason('DrainingPods', `pods scaled down ${formatDuration(latest)} ago drain for ${formatDuration(ctx.target.drain)} before nodes go`));
};

const oneStepDown: LimitStep = (p, ctx) => {
  const floor = ctx.base - ctx.target.maxStepDown;
  if (p.to >= floor) return undefined;
  return { to: floor, why: reason('OneStepAtATime', `scale-down limited to ${ctx.target.maxStepDown} at a time: ${floor} instead of ${p.to}`) };
};

/**
 * The size at the start of a period `seconds` long, for a limit in one direction: the
 * current size less the moves that way the history records inside the period (HPA keeps
 * its scale events the same way). History trimmed to fit the state allows a little more.
 */
const sizeAtPeriodStart = (ctx: Context, seconds: number, up: boolean): number =>
  ctx.state.history
    .filter((h) => since(ctx.now, h.at) < seconds)
    .reduce((size, h) => size - (up ? Math.max(0, h.to - h.from) : -Math.max(0, h.from - h.to)), ctx.base);

/** As HPA v2 behavior: each rate allows a size from the period's start; `select` takes the most or least change. */
const rateLimit: LimitStep = (p, ctx, up) => {
  const limit = ctx.target.rateLimit;
  const rates = up ? limit?.up : limit?.down;
  if (!limit || !rates) return undefined;
  const allowed = rates.map((rate) => {
    const start = sizeAtPeriodStart(ctx, rate.per, up);
    if ('by' in rate) return up ? start + rate.by : start - rate.by;
    // As HPA rounds: an up to the next whole replica, a down to the one below (10% of 6 still
    // lets one go). A percentage of nothing is nothing: from 0 a scale-up may still add one.
    return up ? Math.max(start + 1, Math.ceil(start * (1 + rate.percent / 100))) : Math.floor(start * (1 - rate.percent / 100));
  });
  const mostChange = up === (limit.select === 'max');
  const bound = mostChange ? Math.max(...allowed) : Math.min(...allowed);
  if (up ? p.to <= bound : p.to >= bound) return undefined;
  const to = up ? Math.max(ctx.base, bound) : Math.min(ctx.base, bound);
  const said = rates.map((r) => `${'by' in r ? `${up ? '+' : '-'}${r.by}` : `${up ? '+' : '-'}${r.percent}%`} per ${formatDuration(r.per)}`).join(limit.select === 'max' ? ' or ' : ' and ');
  return { to, why: reason('RateLimited', `scale-${up ? 'up' : 'down'} limited to ${said}: ${to} instead of ${p.to}`) };
};

/** A down stops at the window's floor, an up at its ceiling; neither turns into the other. */
const windowBounds: LimitStep = (p, ctx, up) => {
  const sizes = ctx.window?.schedule.targets[ctx.target.id];
  const id = ctx.window?.schedule.id;
  if (!sizes) return undefined;
  if (!up && sizes.floor !== undefined && p.to < sizes.floor) {
    return { to: Math.min(ctx.base, sizes.floor), why: reason('ScheduleFloor', `window ${id} keeps at least ${sizes.floor}`) };
  }
  if (up && sizes.ceiling !== undefined && p.to > sizes.ceiling) {
    return { to: Math.max(ctx.base, sizes.ceiling), why: reason('ScheduleCeiling', `window ${id} allows at most ${sizes.ceiling}`) };
  }
  return undefined;
};

/**
 * A GPU workload grows only as far as its pool can carry, and its pods wait for the nodes:
 * it asks the pool for them, then to be evaluated again; both run after this in the pool's
 * FIFO group. An operator's emergency scales the pods at once and asks for the nodes.
 */
const gpuCapacity = (p: Proposal, ctx: Context): Proposal => {
  const self = ctx.target;
  if (self.kind === 'eks-nodegroup' || !ctx.gpu) return p;
  const { pool, poolDesired } = ctx.gpu;
  const others = ctx.gpu.members.filter((m) => m.target.id !== self.id);
  const limitTo = (to: number, why: Reason, extra: Partial<Proposal> = {}): Proposal => ({
    ...p,
    ...extra,
    to,
    held: to === ctx.base,
    limitedBy: p.limitedBy ?? why,
    notes: [...p.notes, why],
  });
  // Capacity only for a size the hard bounds let through (they come after): an emergency's
  // `set 40` on a workload whose max is 8 asks the pool for 8's nodes, not 40's.
  const wanted = Math.min(p.to, self.max);
  const fit = replicasThatFit(pool, self, others);
  if (wanted > fit) {
    const to = Math.max(ctx.base, fit);
    const why = to === ctx.base
      ? reason('GpuCapacityLimit', `pool ${pool.id} at its max of ${pool.max} node(s) has no room for another replica`)
      : reason('GpuCapacityLimit', `pool ${pool.id} at its max of ${pool.max} node(s) fits ${fit} replica(s)`);
    const limitedToFit = limitTo(to, why);
    if (limitedToFit.held) return limitedToFit;
    return gpuCapacity({ ...limitedToFit, limitedBy: p.limitedBy ?? why }, ctx);
  }
  const nodes = nodesFor(pool, gpuDemand([...others, { target: self, desired: wanted }]));
  if (nodes <= poolDesired) return nodesJoined(p, ctx, nodes, limitTo);
  const ask = { target: pool.id, ensureAtLeast: nodes };
  if (p.source === 'emergency') {
    // A paused pool grows for no workload (coupling yields to a pause): the operator learns it now.
    const paused = ctx.gpu.poolPausedUntil !== undefined && ms(ctx.gpu.poolPausedUntil) > ctx.now;
    const then = paused
      ? `; the pods are scaled now, but the pool is paused until ${ctx.gpu.poolPausedUntil}: pods past its ${poolDesired} node(s) stay Pending until then (resume ${pool.id} to grow it now)`
      : '; the pods are scaled now';
    return {
      ...p,
      followUps: [...p.followUps, ask],
      notes: [...p.notes, reason('GpuCapacityRequested', `asked pool ${pool.id} for ${nodes} node(s) (has ${poolDesired})${then}`)],
    };
  }
  // The whole step waits, not a part of it: a part would start the cooldown that the step
  // itself then waits for. A re-evaluation asks no more; the tick retries, level-triggered.
  const followUps = ctx.intent.source === 'coupling' ? [] : [ask, { target: self.id }];
  return limitTo(ctx.base, reason('WaitingForNodes', `pool ${pool.id} has ${poolDesired} node(s), ${nodes} needed for ${wanted}: the pods follow once the pool has grown`), { followUps: [...p.followUps, ...followUps] });
};

/**
 * The pool's desired size covers the step; its nodes must also have joined (Ready, with
 * `nvidia.com/gpu` allocatable) before the pods go where they would stay Pending. Past the
 * pool's `joinTimeout` after it grew, the wait is reported as NodesNotJoined. Level-triggered:
 * the tick re-evaluates the workload while its cause is in force.
 */
const nodesJoined = (p: Proposal, ctx: Context, nodes: number, limitTo: (to: number, why: Reason) => Proposal): Proposal => {
  const seen = ctx.gpu?.nodesSeen;
  if (!ctx.gpu || seen === undefined || seen >= nodes || p.source === 'emergency') return p;
  const { pool, grownAt } = ctx.gpu;
  const timeout = pool.joinTimeout ?? ctx.target.defaults.joinTimeout;
  const waited = since(ctx.now, grownAt);
  const joined = `pool ${pool.id} has ${seen} node(s) Ready with nvidia.com/gpu, ${nodes} needed for ${p.to}`;
  if (waited < timeout) return limitTo(ctx.base, reason('WaitingForNodes', `${joined}: the pods follow once its nodes have joined (${formatDuration(timeout - waited)} left of ${formatDuration(timeout)})`));
  const after = Number.isFinite(waited) ? ` ${formatDuration(waited)} after it grew` : '';
  return limitTo(ctx.base, reason('NodesNotJoined', `${joined}${after} (joinTimeout ${formatDuration(timeout)}): its new nodes have not joined`));
};

const hardBounds: LimitStep = (p, ctx) => {
  const { min, max } = ctx.target;
  if (p.to > max) return { to: max, why: reason('ClampedToMax', `clamped to the hard max ${max} (wanted ${p.to})`) };
  if (p.to < min) return { to: min, why: reason('ClampedToMin', `kept at the hard min ${min} (wanted ${p.to})`) };
  return undefined;
};

const STEPS: ReadonlyArray<readonly [Limit, LimitStep]> = [
  ['veto', veto],
  ['pause', pause],
  ['scaleDownDelay', scaleDownDelay],
  ['cooldown', cooldown],
  ['stabilization', stabilization],
  ['readiness', readiness],
  ['warmup', warmup],
  ['drain', drain],
  ['activeWork', activeWork],
  ['disruptionBudget', disruptionBudget],
  ['oneStepDown', oneStepDown],
  ['rateLimit', rateLimit],
  ['windowBounds', windowBounds],
];

/** The limits in the order they apply; `explain` walks the same list. */
export const LIMIT_ORDER: readonly Limit[] = [...STEPS.map(([name]) => name), 'gpuCapacity', 'hardBounds'];

const apply = (p: Proposal, result: Limited | undefined, ctx: Context): Proposal => {
  if (!result || result.to === p.to) return result ? { ...p, notes: [...p.notes, result.why] } : p;
  return { ...p, to: result.to, held: result.to === ctx.base, limitedBy: p.limitedBy ?? result.why, notes: [...p.notes, result.why] };
};

/** Runs the limits the precedence table names for the proposal's source and direction. */
export const applyLimits = (proposal: Proposal, ctx: Context): Proposal => {
  if (proposal.source === 'none' || proposal.to === ctx.base) return proposal;
  const source = proposal.source;
  const up = proposal.to > ctx.base;
  let p = proposal;
  for (const [name, step] of STEPS) {
    if (p.held) break;
    if (limited(source, up, name)) p = apply(p, step(p, ctx, up), ctx);
  }
  if (!p.held && up && limited(source, up, 'gpuCapacity')) p = gpuCapacity(p, ctx);
  if (!limited(source, up, 'hardBounds')) return p;
  const bounded = hardBounds(p, ctx, up);
  if (!bounded || !p.held) return apply(p, bounded, ctx);
  // Held outside the hard bounds (a veto or a pause on a target below its min): the bounds
  // themselves are now what moves it, and the hold is still told.
  return { ...p, source: 'hardBounds', to: bounded.to, cause: bounded.why, held: false, notes: [...p.notes, ...(p.limitedBy ? [p.limitedBy] : [])], limitedBy: undefined };
};

/** The limits in force for a target now, from the same functions the decision uses: what status shows. */
export interface LimitsInForce {
  /** Hard bounds narrowed by the window in force. */
  bounds: { min: number; max: number; window?: string };
  /** Seconds left per rule (alert and metric rules) whose cooldown still runs. */
  cooldowns: Record<string, number>;
  warmupLeft: number;
  scaleDownDelayLeft: number;
  pause: NonNullable<TargetState['pause']> | null;
  /** Firing vetoes, by alert name. */
  vetoes: string[];
}

export const limitsInForce = (target: ResolvedTarget, state: TargetState | undefined, now: number): LimitsInForce => {
  const occurrence = activeWindow(target.schedules, now);
  const sizes = occurrence?.schedule.targets[target.id];
  const cooldowns: Record<string, number> = {};
  if (state) {
    for (const rule of [...target.rules.values(), ...target.metricRules]) {
      const rest = Math.ceil(cooldownLeft(rule.cooldown, state, now));
      if (rest > 0) cooldowns[rule.id] = rest;
    }
  }
  return {
    bounds: {
      min: Math.max(target.min, sizes?.floor ?? target.min),
      max: Math.min(target.max, sizes?.ceiling ?? target.max),
      ...(occurrence ? { window: occurrence.schedule.id } : {}),
    },
    cooldowns,
    warmupLeft: state ? Math.ceil(warmupLeft(target, state, now)) : 0,
    scaleDownDelayLeft: state ? Math.ceil(scaleDownDelayLeft(target, state, now)) : 0,
    pause: state?.pause !== undefined && ms(state.pause.until) > now ? state.pause : null,
    vetoes: [
      ...(state?.alerts ?? []).filter((a) => a.rules.some((id) => target.vetoes.has(id))).map((a) => a.alertname),
      // Alerts had to be dropped to fit: one of them may be a veto, so the target is treated as vetoed.
      ...(state?.alertsTruncated ? ['AlertsTruncated'] : []),
    ],
  };
};
