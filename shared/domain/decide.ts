import { formatDuration } from './duration.ts';
import type { Decision, FollowUp, Verdict } from './decision.ts';
import { gpuDemand, nodesFor, type PoolMember, replicasThatFit } from './gpu.ts';
import type { AlertObservation, EmergencyCommand, Intent } from './intent.ts';
import type { MetricSignal } from './metrics.ts';
import {
  type Action,
  cooldownOf,
  type MetricRule,
  metricRulesOf,
  type NodeGroupTarget,
  type Policy,
  rulesOf,
  scaleDownDelayOf,
  type Target,
  targetById,
} from './policy.ts';
import { reason, type Reason } from './reasons.ts';
import { activeWindow, type Occurrence } from './schedule.ts';
import { type ActiveAlert, compactState, initialState, keepLast, STATE_LIMITS, type TargetState } from './state.ts';

/** The pool a GPU workload runs on, or the workloads a pool carries. */
export interface GpuView {
  pool: NodeGroupTarget;
  /** The pool's size as its own state records it. */
  poolDesired: number;
  members: PoolMember[];
}

export interface DecideInput {
  intent: Intent;
  /** The live size read from EKS or Kubernetes, when the caller has it. */
  observed?: number;
  /** True when the queue delivers this intent again (an earlier attempt may have acted). */
  redelivered?: boolean;
  gpu?: GpuView;
}

type ProposalKind = 'alert' | 'schedule' | 'coupling' | 'idle' | 'emergency' | 'drift' | 'none';

/** What the chain carries from step to step: a size, why, and whether something stopped it. */
interface Proposal {
  to: number;
  kind: ProposalKind;
  held: boolean;
  rule?: string;
  cooldown?: number;
  reasons: Reason[];
  fingerprints: string[];
  followUps: FollowUp[];
}

interface Context {
  policy: Policy;
  target: Target;
  intent: Intent;
  state: TargetState;
  now: number;
  base: number;
  window?: Occurrence;
  entering: boolean;
  gpu?: GpuView;
}

type Step = (proposal: Proposal, ctx: Context) => Proposal;

const iso = (ms: number): string => new Date(ms).toISOString();
const since = (now: number, at: string | undefined): number =>
  at === undefined ? Number.POSITIVE_INFINITY : (now - Date.parse(at)) / 1000;

const hold = (p: Proposal, ctx: Context, why: Reason): Proposal => ({
  ...p,
  to: ctx.base,
  held: true,
  reasons: [why, ...p.reasons],
});

const note = (p: Proposal, why: Reason): Proposal => ({ ...p, reasons: [...p.reasons, why] });

// ---------------------------------------------------------------------------
// Reading the intent into the state: alerts, pause expiry.

const mergeAlert = (alerts: ActiveAlert[], obs: AlertObservation, now: number, notes: Reason[]): ActiveAlert[] => {
  const existing = alerts.find((a) => a.fingerprint === obs.fingerprint);
  const others = alerts.filter((a) => a.fingerprint !== obs.fingerprint);
  if (obs.status === 'resolved') {
    if (existing && Date.parse(existing.startsAt) > Date.parse(obs.startsAt)) {
      notes.push(reason('StaleAlert', `resolved notice for ${obs.alertname} is older than its firing since ${existing.startsAt}; kept firing`));
      return alerts;
    }
    return others;
  }
  const entry: ActiveAlert = {
    fingerprint: obs.fingerprint,
    alertname: obs.alertname,
    rules: obs.rules,
    startsAt: obs.startsAt,
    seenAt: iso(now),
    ...(obs.value !== undefined ? { value: obs.value } : {}),
  };
  return [...others, entry];
};

const readIntoState = (policy: Policy, prior: TargetState, intent: Intent, now: number, notes: Reason[]): TargetState => {
  let alerts = prior.alerts;
  for (const obs of intent.alerts) alerts = mergeAlert(alerts, obs, now, notes);
  const live = alerts.filter((a) => since(now, a.seenAt) <= policy.defaults.alertTtl);
  for (const gone of alerts.filter((a) => !live.includes(a))) {
    notes.push(reason('AlertExpired', `${gone.alertname} not re-sent for ${formatDuration(policy.defaults.alertTtl)}; treated as resolved`));
  }
  if (live.length > STATE_LIMITS.alerts) {
    notes.push(reason('AlertsTruncated', `kept the ${STATE_LIMITS.alerts} most recent of ${live.length} active alerts`));
  }
  const kept = keepLast(
    [...live].sort((a, b) => Date.parse(a.seenAt) - Date.parse(b.seenAt)),
    STATE_LIMITS.alerts,
  );
  let pause = prior.pause;
  if (pause && Date.parse(pause.until) <= now) {
    notes.push(reason('PauseExpired', `pause "${pause.reason}" ended at ${pause.until}; autoscaling resumed`));
    pause = undefined;
  }
  const { pause: _dropped, ...rest } = prior;
  return { ...rest, alerts: kept, ...(pause ? { pause } : {}) };
};

// ---------------------------------------------------------------------------
// Proposals: what the rules, the schedule and the GPU pool each want.

const actionTarget = (action: Action, base: number, value: number | undefined): number | undefined => {
  switch (action.type) {
    case 'step':
      return base + action.by;
    case 'multiply':
      return Math.ceil(base * action.factor);
    case 'setAtLeast':
      return Math.max(base, action.replicas);
    case 'proportional':
      return value === undefined ? undefined : Math.ceil((Math.max(base, 1) * value) / action.targetValue);
  }
};

/** One rule's proposal: from a firing alert or from a metric the tick read. */
interface Candidate {
  to: number;
  rule: string;
  cooldown: number;
  /** `LLMQueueBuildup firing` or `metric training-queue = 3`. */
  cause: string;
  fingerprint?: string;
}

const alertCandidates = (ctx: Context, notes: Reason[]): Candidate[] => {
  const rules = rulesOf(ctx.policy, ctx.target.id);
  const candidates: Candidate[] = [];
  for (const alert of ctx.state.alerts) {
    for (const id of alert.rules) {
      const rule = rules.get(id);
      if (!rule) continue;
      const to = actionTarget(rule.action, ctx.base, alert.value);
      if (to === undefined) {
        notes.push(reason('MissingValue', `${alert.alertname} carries no numeric "${rule.action.type === 'proportional' ? rule.action.valueFrom : 'value'}" for rule ${rule.id}`));
        continue;
      }
      candidates.push({ to, rule: rule.id, cooldown: cooldownOf(ctx.policy, rule), cause: `${alert.alertname} firing`, fingerprint: alert.fingerprint });
    }
  }
  return candidates;
};

/** KEDA-style target: one replica per `targetPerReplica`; to zero only once idle long enough. */
const targetFromMetric = (rule: MetricRule, signal: MetricSignal, base: number, notes: Reason[]): number | undefined => {
  const value = signal.value;
  const perReplica = rule.targetPerReplica;
  if (perReplica === undefined || value === undefined) return undefined;
  if (value <= rule.activation) {
    if (rule.idleAfter === undefined || signal.idle) return 0;
    if (base > 0) notes.push(reason('WaitingForIdle', `${rule.id} = ${value}: to zero once it stays at or below ${rule.activation} for ${formatDuration(rule.idleAfter)}`));
    return undefined;
  }
  return Math.max(1, Math.ceil(value / perReplica));
};

const metricCandidates = (ctx: Context, notes: Reason[]): Candidate[] => {
  const rules = new Map(metricRulesOf(ctx.policy, ctx.target.id).map((r) => [r.id, r]));
  const candidates: Candidate[] = [];
  for (const signal of ctx.intent.metrics ?? []) {
    const rule = rules.get(signal.rule);
    if (!rule) continue;
    if (signal.error !== undefined) {
      notes.push(reason('MetricUnavailable', `${rule.id}: CloudWatch could not be read (${signal.error}); left as it is`));
      continue;
    }
    if (signal.value === undefined && rule.targetPerReplica !== undefined) {
      notes.push(reason('MetricMissing', `${rule.id}: no datapoint in the last period; missing data never scales down`));
      continue;
    }
    const to = rule.threshold
      ? signal.breaching && rule.action ? actionTarget(rule.action, ctx.base, signal.value) : undefined
      : targetFromMetric(rule, signal, ctx.base, notes);
    if (to === undefined) continue;
    const shown = signal.value === undefined ? 'missing' : String(signal.value);
    candidates.push({ to, rule: rule.id, cooldown: cooldownOf(ctx.policy, rule), cause: `metric ${rule.id} = ${shown}` });
  }
  return candidates;
};

/** Alerts and metrics propose; vetoes beat ups, ups beat downs, the largest up wins. */
const proposeFromRules: Step = (p, ctx) => {
  const notes: Reason[] = [];
  const candidates = [...alertCandidates(ctx, notes), ...metricCandidates(ctx, notes)].filter((c) => c.to !== ctx.base);
  const vetoes = ctx.policy.vetoes.filter((v) => v.targets.includes(ctx.target.id));
  const activeVetoes = vetoes.flatMap((v) =>
    ctx.state.alerts.filter((a) => a.rules.includes(v.id)).map((a) => ({ veto: v, alert: a })),
  );
  const ups = candidates.filter((c) => c.to > ctx.base).sort((a, b) => b.to - a.to);
  const downs = candidates.filter((c) => c.to < ctx.base).sort((a, b) => b.to - a.to);
  const withNotes = { ...p, reasons: [...p.reasons, ...notes] };
  const fingerprintsOf = (list: Candidate[]) => list.flatMap((c) => (c.fingerprint ? [c.fingerprint] : []));

  const upVeto = activeVetoes.find((v) => v.veto.blocks === 'up');
  const best = ups[0];
  if (best) {
    const fingerprints = fingerprintsOf(ups);
    if (upVeto) {
      return hold({ ...withNotes, kind: 'alert', rule: best.rule, fingerprints: [...fingerprints, upVeto.alert.fingerprint] }, ctx,
        reason('VetoedByAlert', `scale-up by ${best.rule} blocked: ${upVeto.alert.alertname} is firing (veto ${upVeto.veto.id})`));
    }
    const others = ups.length > 1 ? `; largest of ${ups.length} scale-ups` : '';
    const beaten = downs.length > 0 ? [reason('UpBeatsDown', `${downs.length} scale-down proposal(s) ignored while a scale-up is active`)] : [];
    return {
      ...withNotes,
      to: best.to,
      kind: 'alert',
      rule: best.rule,
      cooldown: best.cooldown,
      fingerprints,
      reasons: [reason('ScaleUp', `${best.cause}: ${best.rule} proposes ${best.to}${others}`), ...withNotes.reasons, ...beaten],
    };
  }
  // Downs go the shortest way first: the most conservative proposal wins.
  const down = downs[0];
  if (down) {
    const downVeto = activeVetoes.find((v) => v.veto.blocks === 'down');
    const fingerprints = fingerprintsOf([down]);
    if (downVeto) {
      return hold({ ...withNotes, kind: 'alert', rule: down.rule, fingerprints }, ctx,
        reason('VetoedByAlert', `scale-down by ${down.rule} blocked: ${downVeto.alert.alertname} is firing (veto ${downVeto.veto.id})`));
    }
    return {
      ...withNotes,
      to: down.to,
      kind: 'alert',
      rule: down.rule,
      cooldown: down.cooldown,
      fingerprints,
      reasons: [reason('ScaleDown', `${down.cause}: ${down.rule} proposes ${down.to}`), ...withNotes.reasons],
    };
  }
  return withNotes;
};

/** Entering a window sets its `desired`, unless a scale-up asks for more. */
const proposeFromSchedule: Step = (p, ctx) => {
  const sizes = ctx.window && ctx.window.schedule.targets[ctx.target.id];
  if (!ctx.entering || !ctx.window || sizes?.desired === undefined) return p;
  if (p.kind === 'alert' && !p.held && p.to >= sizes.desired && p.to > ctx.base) return p;
  const lead = ctx.now < ctx.window.start ? ` (pre-scale, ${formatDuration((ctx.window.start - ctx.now) / 1000)} before start)` : '';
  return {
    ...p,
    to: sizes.desired,
    kind: 'schedule',
    held: false,
    rule: ctx.window.schedule.id,
    reasons: [reason('ScheduleEntry', `window ${ctx.window.schedule.id} began${lead}: desired ${sizes.desired}`), ...p.reasons],
  };
};

/** A GPU pool grows when a workload asks for nodes, and shrinks once idle long enough. */
const proposeForPool: Step = (p, ctx) => {
  if (ctx.target.kind !== 'eks-nodegroup' || !ctx.gpu) return p;
  const pool = ctx.target;
  const asked = ctx.intent.ensureAtLeast;
  if (asked !== undefined && asked > ctx.base && (p.held || p.to < asked)) {
    return {
      ...p,
      to: asked,
      kind: 'coupling',
      held: false,
      reasons: [reason('GpuCapacityRequested', `workloads need ${asked} node(s) of ${pool.gpusPerNode} GPU(s) before their pods scale`), ...p.reasons],
    };
  }
  const needed = Math.max(pool.min, nodesFor(pool, gpuDemand(ctx.gpu.members)));
  if (pool.idleAfter === undefined || needed >= ctx.base || p.to > ctx.base) return p;
  const idleFor = since(ctx.now, ctx.state.idleSince);
  if (idleFor < pool.idleAfter) return p;
  return {
    ...p,
    to: needed,
    kind: 'idle',
    held: false,
    reasons: [reason('GpuPoolIdle', `${ctx.base - needed} GPU node(s) idle for ${formatDuration(idleFor)} (>= ${formatDuration(pool.idleAfter)}); shrinking to ${needed}`), ...p.reasons],
  };
};

// ---------------------------------------------------------------------------
// Limits: cooldown, warm-up, scale-down delay and drain, one step down at a time.

const applyCooldown: Step = (p, ctx) => {
  if (p.held || p.kind !== 'alert' || p.to === ctx.base || p.cooldown === undefined) return p;
  const elapsed = since(ctx.now, ctx.state.lastScaleAt);
  if (elapsed >= p.cooldown) return p;
  return hold(p, ctx, reason('CooldownActive', `cooldown of ${p.rule}: ${formatDuration(p.cooldown - elapsed)} left of ${formatDuration(p.cooldown)}`));
};

const applyWarmup: Step = (p, ctx) => {
  if (p.held || p.kind !== 'alert' || p.to <= ctx.base || ctx.target.warmup === 0) return p;
  const elapsed = since(ctx.now, ctx.state.lastUpAt);
  if (elapsed >= ctx.target.warmup) return p;
  return hold(p, ctx, reason('WarmingUp', `last scale-up still warming up: ${formatDuration(ctx.target.warmup - elapsed)} left of ${formatDuration(ctx.target.warmup)}`));
};

const applyScaleDownDelay: Step = (p, ctx) => {
  if (p.held || p.to >= ctx.base || (p.kind !== 'alert' && p.kind !== 'idle')) return p;
  const delay = scaleDownDelayOf(ctx.policy, ctx.target);
  const elapsed = since(ctx.now, ctx.state.lastUpAt);
  if (elapsed < delay) {
    return hold(p, ctx, reason('ScaleDownDelayed', `scale-down waits ${formatDuration(delay)} after a scale-up: ${formatDuration(delay - elapsed)} left`));
  }
  return p;
};

/** Pods first, nodes later: a pool keeps its nodes while a workload's pods drain. */
const applyDrain: Step = (p, ctx) => {
  if (p.held || p.kind !== 'idle' || ctx.target.kind !== 'eks-nodegroup' || !ctx.gpu) return p;
  const drain = ctx.target.drain ?? ctx.policy.defaults.drain;
  const latest = Math.min(...ctx.gpu.members.map((m) => since(ctx.now, m.lastDownAt)));
  if (latest >= drain) return p;
  return hold(p, ctx, reason('DrainingPods', `pods scaled down ${formatDuration(latest)} ago drain for ${formatDuration(drain)} before nodes go`));
};

const applyOneStepDown: Step = (p, ctx) => {
  if (p.held || p.kind !== 'alert' || p.to >= ctx.base) return p;
  const floor = ctx.base - ctx.target.maxStepDown;
  if (p.to >= floor) return p;
  return note({ ...p, to: floor }, reason('OneStepAtATime', `scale-down limited to ${ctx.target.maxStepDown} at a time: ${floor} instead of ${p.to}`));
};

// ---------------------------------------------------------------------------
// Bounds: the window's floor and ceiling, GPU capacity, then the hard limits.

const applyWindowBounds: Step = (p, ctx) => {
  const sizes = ctx.window?.schedule.targets[ctx.target.id];
  if (!sizes) return p;
  const id = ctx.window?.schedule.id;
  if (sizes.floor !== undefined && p.to < sizes.floor) {
    return { ...p, to: sizes.floor, held: false, kind: p.kind === 'none' ? 'schedule' : p.kind, rule: p.rule ?? id,
      reasons: [reason('ScheduleFloor', `window ${id} keeps at least ${sizes.floor}`), ...p.reasons] };
  }
  if (sizes.ceiling !== undefined && p.to > sizes.ceiling) {
    return { ...p, to: sizes.ceiling, held: false, kind: p.kind === 'none' ? 'schedule' : p.kind, rule: p.rule ?? id,
      reasons: [reason('ScheduleCeiling', `window ${id} allows at most ${sizes.ceiling}`), ...p.reasons] };
  }
  return p;
};

/** A GPU workload grows only as far as its pool can carry, and asks the pool for the nodes first. */
const applyGpuCapacity: Step = (p, ctx) => {
  if (ctx.target.kind === 'eks-nodegroup' || !ctx.gpu || p.to <= ctx.base) return p;
  const { pool } = ctx.gpu;
  const self = ctx.target;
  const others = ctx.gpu.members.filter((m) => m.target.id !== self.id);
  const fit = replicasThatFit(pool, self, others);
  let next = p;
  if (p.to > fit) {
    next = note({ ...p, to: Math.max(ctx.base, fit) }, reason('GpuCapacityLimit', `pool ${pool.id} at its max of ${pool.max} node(s) fits ${fit} replica(s)`));
    if (next.to === ctx.base) return hold(next, ctx, reason('GpuCapacityLimit', `pool ${pool.id} has no room for another replica`));
  }
  const nodes = nodesFor(pool, gpuDemand([...others, { target: self, desired: next.to }]));
  if (nodes <= ctx.gpu.poolDesired) return next;
  return note(
    { ...next, followUps: [...next.followUps, { target: pool.id, ensureAtLeast: nodes }] },
    reason('GpuCapacityRequested', `asked pool ${pool.id} for ${nodes} node(s) (has ${ctx.gpu.poolDesired}) before scaling pods`),
  );
};

const applyHardBounds: Step = (p, ctx) => {
  const { min, max } = ctx.target;
  if (p.to > max) {
    return note({ ...p, to: max }, reason('ClampedToMax', `clamped to the hard max ${max} (wanted ${p.to})`));
  }
  if (p.to < min) {
    return note({ ...p, to: min, held: false, kind: p.kind === 'none' ? 'drift' : p.kind }, reason('ClampedToMin', `raised to the hard min ${min} (was ${p.to})`));
  }
  return p;
};

const applyPause: Step = (p, ctx) => {
  const pause = ctx.state.pause;
  if (!pause || p.to === ctx.base || p.kind === 'emergency') return p;
  return hold(p, ctx, reason('Paused', `paused until ${pause.until}: ${pause.reason}`));
};

/** An HPA owns the replicas: the scaler moves its floor instead of fighting it. */
const explainHpa: Step = (p, ctx) => {
  if (ctx.target.kind !== 'hpa' || p.to === ctx.base || p.held) return p;
  return note(p, reason('HpaBounds', `HPA ${ctx.target.namespace}/${ctx.target.name} owns the replicas: its minReplicas becomes ${p.to} (maxReplicas ${ctx.target.max}) and it scales within them`));
};

/** The chain, in order; each step sees the proposal the previous one returned. */
export const DECISION_STEPS: ReadonlyArray<readonly [string, Step]> = [
  ['proposeFromRules', proposeFromRules],
  ['proposeFromSchedule', proposeFromSchedule],
  ['proposeForPool', proposeForPool],
  ['applyCooldown', applyCooldown],
  ['applyWarmup', applyWarmup],
  ['applyScaleDownDelay', applyScaleDownDelay],
  ['applyDrain', applyDrain],
  ['applyOneStepDown', applyOneStepDown],
  ['applyWindowBounds', applyWindowBounds],
  ['applyGpuCapacity', applyGpuCapacity],
  ['applyHardBounds', applyHardBounds],
  ['applyPause', applyPause],
  ['explainHpa', explainHpa],
];

// ---------------------------------------------------------------------------
// Emergency: the runbooks' procedures, bypassing cooldowns, windows and pauses.

const emergencyProposal = (command: EmergencyCommand, ctx: Context, by: string): Proposal | undefined => {
  const base: Proposal = { to: ctx.base, kind: 'emergency', held: false, rule: `emergency:${command.action}`, reasons: [], fingerprints: [], followUps: [] };
  const { min, max } = ctx.target;
  const clamp = (n: number) => Math.min(max, Math.max(min, n));
  switch (command.action) {
    case 'double': {
      const to = clamp(Math.max(1, ctx.base * 2));
      return { ...base, to, reasons: [reason('EmergencyDouble', `doubled ${ctx.base} -> ${to}${to < ctx.base * 2 ? ` (hard max ${max})` : ''}; ${by}`)] };
    }
    case 'set': {
      const to = clamp(command.replicas);
      const clamped = to !== command.replicas ? ` (asked ${command.replicas}, hard bounds ${min}-${max})` : '';
      return { ...base, to, reasons: [reason('EmergencySet', `set to ${to}${clamped}; ${by}`)] };
    }
    case 'scaleToMin':
      return { ...base, to: min, reasons: [reason('EmergencyScaleToMin', `rolled back to the minimum safe size ${min}; ${by}`)] };
    case 'deprovisionPool': {
      if (ctx.target.kind !== 'eks-nodegroup') return undefined;
      const needed = ctx.gpu ? nodesFor(ctx.target, gpuDemand(ctx.gpu.members)) : 0;
      const to = clamp(needed);
      const kept = to > min ? `; keeps ${to} node(s) for running GPU workloads` : '';
      return { ...base, to, reasons: [reason('EmergencyDeprovisionPool', `GPU pool deprovisioned to ${to}${kept}; ${by}`)] };
    }
    case 'pause':
    case 'resume':
    case 'evaluateNow':
      return undefined;
  }
};

// ---------------------------------------------------------------------------

const windowEntered = (state: TargetState, window: Occurrence | undefined): boolean =>
  window !== undefined && state.window !== window.schedule.id;

const finish = (
  ctx: Context,
  prior: TargetState,
  from: number,
  p: Proposal,
  leading: Reason[],
  trailing: Reason[],
  nextState: TargetState,
): Decision => {
  const verdict: Verdict = p.to !== from ? 'scale' : p.held || p.kind === 'emergency' ? 'hold' : 'none';
  let reasons = [...leading, ...p.reasons, ...trailing];
  if (reasons.length === 0) reasons = [reason('NoRuleMatched', 'no active alert, window or command asks for a change')];
  else if (verdict === 'none' && p.kind === 'none' && !leading.length) {
    reasons = [reason('NoChange', `stays at ${from}`), ...reasons];
  }
  const at = iso(ctx.now);
  const headline = reasons[0] ?? reason('NoChange', '');
  const recorded = verdict !== 'none' || leading.length > 0;
  let state: TargetState = {
    ...nextState,
    generation: prior.generation + 1,
    recentIntents: keepLast([...nextState.recentIntents.filter((id) => id !== ctx.intent.id), ctx.intent.id], STATE_LIMITS.recentIntents),
    history: recorded
      ? keepLast(
          [...nextState.history, { at, intent: ctx.intent.id, from, to: p.to, code: headline.code, message: headline.message.slice(0, STATE_LIMITS.message) }],
          STATE_LIMITS.history,
        )
      : nextState.history,
  };
  if (verdict === 'scale') {
    state = { ...state, desired: p.to, lastScaleAt: at, ...(p.to > from ? { lastUpAt: at } : { lastDownAt: at }) };
  }
  return {
    target: ctx.target.id,
    intentId: ctx.intent.id,
    source: ctx.intent.source,
    at,
    from,
    to: p.to,
    verdict,
    reasons,
    ...(p.rule ? { rule: p.rule } : {}),
    fingerprints: [...new Set([...p.fingerprints, ...ctx.intent.alerts.map((a) => a.fingerprint)])],
    emergency: p.kind === 'emergency',
    state: compactState(state),
    followUps: verdict === 'scale' ? p.followUps : [],
  };
};

/**
 * Decides what one intent does to one target: a pure function of the policy, the target's
 * state, the inputs and the instant. It returns the decision with its reasons and the
 * state document to write afterwards; it performs no I/O and reads no clock.
 */
export const decide = (policy: Policy, prior: TargetState | undefined, input: DecideInput, now: Date): Decision => {
  const { intent } = input;
  const target = targetById(policy, intent.target);
  if (!target) throw new Error(`intent ${intent.id} names unknown target "${intent.target}"`);
  const priorState = prior ?? initialState(target.id);
  const nowMs = now.getTime();
  const leading: Reason[] = [];
  const trailing: Reason[] = [];

  let state = readIntoState(policy, priorState, intent, nowMs, trailing);
  let base = priorState.desired ?? input.observed ?? target.min;
  const observed = input.observed;

  if (priorState.recentIntents.includes(intent.id)) {
    // Refresh the alerts it carries, act no more: a redelivery must never scale twice.
    const ctx: Context = { policy, target, intent, state, now: nowMs, base, entering: false, ...(input.gpu ? { gpu: input.gpu } : {}) };
    const none: Proposal = { to: base, kind: 'none', held: false, reasons: [], fingerprints: [], followUps: [] };
    const decision = finish(ctx, priorState, base, none, [reason('Duplicate', `intent ${intent.id} was already decided; no second action`)], [], state);
    return { ...decision, state: { ...decision.state, history: priorState.history } };
  }

  let drift: Proposal | undefined;
  if (input.redelivered && observed !== undefined && observed !== priorState.desired) {
    // An earlier attempt may have acted and stopped before writing the state: trust the live
    // size over acting again. At worst the next action waits one cooldown.
    leading.push(reason('RecoveredUnrecordedAction', `live size ${observed} differs from recorded ${priorState.desired ?? 'none'} on a redelivered intent: an earlier attempt may have acted; adopted without acting again`));
    state = { ...state, desired: observed, lastScaleAt: iso(nowMs) };
    const ctx: Context = { policy, target, intent, state, now: nowMs, base: observed, entering: false };
    const none: Proposal = { to: observed, kind: 'none', held: false, reasons: [], fingerprints: [], followUps: [] };
    return finish(ctx, priorState, observed, none, leading, trailing, state);
  }
  if (observed !== undefined && priorState.desired !== null && observed !== priorState.desired) {
    if (target.onDrift === 'adopt') {
      trailing.push(reason('DriftDetected', `live size ${observed} differs from the ${priorState.desired} last set; adopted (onDrift: adopt)`));
      base = observed;
      state = { ...state, desired: observed };
    } else {
      drift = { to: priorState.desired, kind: 'drift', held: false, reasons: [reason('DriftRestored', `live size ${observed} differs from the ${priorState.desired} last set; restoring (onDrift: restore)`)], fingerprints: [], followUps: [] };
      base = observed;
    }
  }
  if (priorState.desired === null) state = { ...state, desired: base };

  const window = activeWindow(policy, target, nowMs);
  const entering = windowEntered(priorState, window);
  state = { ...state, window: window?.schedule.id ?? null };

  if (target.kind === 'eks-nodegroup' && input.gpu) {
    const needed = Math.max(target.min, nodesFor(target, gpuDemand(input.gpu.members)));
    const { idleSince: _idle, ...rest } = state;
    state = needed < base ? { ...rest, idleSince: priorState.idleSince ?? iso(nowMs) } : rest;
  }

  const ctx: Context = { policy, target, intent, state, now: nowMs, base, ...(window ? { window } : {}), entering, ...(input.gpu ? { gpu: input.gpu } : {}) };
  const start: Proposal = drift ?? { to: base, kind: 'none', held: false, reasons: [], fingerprints: [], followUps: [] };

  const command = intent.command;
  if (command) {
    const by = intent.reason ? `reason: ${intent.reason}` : 'by an operator';
    if (command.action === 'pause') {
      const until = iso(nowMs + command.ttl * 1000);
      leading.push(reason('PauseSet', `paused until ${until} (${formatDuration(command.ttl)}); ${by}`));
      ctx.state = { ...state, pause: { until, reason: (intent.reason ?? 'emergency pause').slice(0, STATE_LIMITS.message) } };
      return finish(ctx, priorState, base, { ...start, kind: 'emergency', rule: 'emergency:pause' }, leading, trailing, ctx.state);
    }
    if (command.action === 'resume') {
      const { pause: _p, ...rest } = state;
      leading.push(reason('Resumed', state.pause ? `pause "${state.pause.reason}" lifted; ${by}` : `was not paused; ${by}`));
      ctx.state = rest;
    } else if (command.action === 'evaluateNow') {
      leading.push(reason('EvaluateNow', `evaluation requested; ${by}`));
    } else {
      const proposal = emergencyProposal(command, ctx, by);
      if (!proposal) throw new Error(`emergency ${command.action} does not apply to ${target.kind} target "${target.id}"`);
      // GPUs are not a soft bound: an emergency scale-up still asks the pool for its nodes first.
      return finish(ctx, priorState, base, applyGpuCapacity(proposal, ctx), leading, trailing, state);
    }
  }

  const proposal = DECISION_STEPS.reduce((p, [, step]) => step(p, ctx), start);
  return finish(ctx, priorState, base, proposal, leading, trailing, ctx.state);
};
