import { formatDuration } from '../duration.ts';
import { gpuDemand, nodesFor } from '../gpu.ts';
import type { MetricSignal } from '../metrics.ts';
import type { Action } from '../policy.ts';
import { PRECEDENCE, rankOfPriority, type Source } from '../precedence.ts';
import { reason, type Reason } from '../reasons.ts';
import type { ResolvedMetricRule, ResolvedRule } from '../resolve.ts';
import { type Candidate, type Context, ms, since } from './context.ts';

// Proposing: every source says what it wants; choosing between them is choose.ts's job.

const candidate = (source: Source, to: number, cause: Reason, extra: Partial<Candidate> = {}): Candidate => ({
  source,
  rank: PRECEDENCE[source].rank,
  to,
  cause,
  fingerprints: [],
  ...extra,
});

/** The size an action asks for, from `base`; proportional stays put inside its tolerance band. */
const actionTarget = (action: Action, base: number, value: number | undefined): number | undefined => {
  switch (action.type) {
    case 'step':
      return Math.max(0, base + action.by);
    case 'multiply':
      return Math.ceil(base * action.factor);
    case 'setAtLeast':
      return Math.max(base, action.replicas);
    case 'proportional': {
      if (value === undefined) return undefined;
      const ratio = value / action.targetValue;
      if (Math.abs(ratio - 1) <= action.tolerance) return base;
      return Math.ceil(Math.max(base, 1) * ratio);
    }
  }
};

const ruleCandidate = (
  rule: ResolvedRule | ResolvedMetricRule,
  source: 'alert' | 'metric',
  to: number,
  ctx: Context,
  cause: string,
  fingerprint?: string,
): Candidate => {
  const direction = to > ctx.base ? 'ScaleUp' : to < ctx.base ? 'ScaleDown' : 'NoChange';
  const message =
    direction === 'NoChange'
      ? `${cause}: ${rule.id} holds ${to}`
      : `${cause}: ${rule.id} (${rule.priority}) proposes ${to}`;
  return {
    source,
    rank: rankOfPriority(rule.priority),
    to,
    cause: reason(direction === 'NoChange' && rule.action?.type === 'proportional' ? 'WithinTolerance' : direction, message),
    rule: rule.id,
    cooldown: rule.cooldown,
    fingerprints: fingerprint ? [fingerprint] : [],
  };
};

const fromAlerts = (ctx: Context, notes: Reason[]): Candidate[] => {
  const candidates: Candidate[] = [];
  for (const alert of ctx.state.alerts) {
    for (const id of alert.rules) {
      const rule = ctx.target.rules.get(id);
      if (!rule) continue;
      const to = actionTarget(rule.action, ctx.base, alert.value);
      if (to === undefined) {
        notes.push(reason('MissingValue', `${alert.alertname} carries no numeric "${rule.action.type === 'proportional' ? rule.action.valueFrom : 'value'}" for rule ${rule.id}`));
        continue;
      }
      candidates.push(ruleCandidate(rule, 'alert', to, ctx, `${alert.alertname} firing`, alert.fingerprint));
    }
  }
  return candidates;
};

/** KEDA-style target: one replica per `targetPerReplica`; to zero only once idle long enough. */
const targetFromMetric = (rule: ResolvedMetricRule, signal: MetricSignal, base: number, notes: Reason[]): number | undefined => {
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


const fromMetrics = (ctx: Context, notes: Reason[]): Candidate[] => {
  const candidates: Candidate[] = [];
  // The intent's own readings (a tick's), or the last tick's while fresh: a rule in force
  // between ticks still holds its level against an alert's scale-down.
  // The tick queues a target whenever its readings change, and reconciles it every
  // reconcileEvery: a reading older than two of those speaks no more.
  const maxAge = 2 * ctx.target.defaults.reconcileEvery + 60;
  const signals = ctx.intent.metrics ?? (ctx.state.readings ?? []).filter((r) => since(ctx.now, r.at) <= maxAge);
  for (const signal of signals) {
    const rule = ctx.target.metricRules.find((r) => r.id === signal.rule);
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
    candidates.push(ruleCandidate(rule, 'metric', to, ctx, `metric ${rule.id} = ${shown}`));
  }
  return candidates;
};

/** A window's entry size, until reached; during the pre-scale lead it only raises. */
const fromWindow = (ctx: Context, notes: Reason[]): Candidate[] => {
  const window = ctx.window;
  const entry = ctx.state.windowEntry;
  if (!window || !entry || entry.done || entry.to === ctx.base) return [];
  const id = window.schedule.id;
  const lead = ctx.now < window.start;
  if (lead && entry.to < ctx.base) {
    notes.push(reason('PreScale', `window ${id} starts in ${formatDuration((window.start - ctx.now) / 1000)}; a pre-scale only raises, ${entry.to} waits for the start`));
    return [];
  }
  const how = lead ? ` (pre-scale, ${formatDuration((window.start - ctx.now) / 1000)} before start)` : entry.before === ctx.base ? '' : ', kept until reached';
  return [candidate('schedule', entry.to, reason('ScheduleEntry', `window ${id} began${how}: desired ${entry.to}`), { rule: id, cooldown: ctx.target.defaults.cooldown })];
};

/** A window's floor and ceiling move a target that is outside them. */
const fromWindowBounds = (ctx: Context): Candidate[] => {
  const sizes = ctx.window?.schedule.targets[ctx.target.id];
  const id = ctx.window?.schedule.id;
  if (!sizes || !id) return [];
  if (sizes.floor !== undefined && ctx.base < sizes.floor) {
    return [candidate('windowFloor', sizes.floor, reason('ScheduleFloor', `window ${id} keeps at least ${sizes.floor}`), { rule: id })];
  }
  if (sizes.ceiling !== undefined && ctx.base > sizes.ceiling) {
    return [candidate('windowCeiling', sizes.ceiling, reason('ScheduleCeiling', `window ${id} allows at most ${sizes.ceiling}`), { rule: id, cooldown: ctx.target.defaults.cooldown })];
  }
  return [];
};

/** After an event window, the size it began from comes back once `returnAfter` has passed. */
const fromEventEnd = (ctx: Context): Candidate[] => {
  const back = ctx.state.windowReturn;
  if (!back || ctx.now < ms(back.after) || back.to >= ctx.base) return [];
  return [candidate('eventEnd', back.to, reason('EventEnded', `window ${back.window} ended; returning to ${back.to}, the size it began from`), { rule: back.window, cooldown: ctx.target.defaults.cooldown })];
};

/** A GPU pool grows to what its workloads need (asked by a coupling intent or seen in their states), and shrinks once idle. */
const fromPool = (ctx: Context): Candidate[] => {
  const target = ctx.target;
  if (target.kind !== 'eks-nodegroup' || !ctx.gpu) return [];
  const needed = Math.max(target.min, nodesFor(target, gpuDemand(ctx.gpu.members)));
  const wanted = Math.max(needed, ctx.intent.ensureAtLeast ?? 0);
  if (wanted > ctx.base) {
    return [candidate('coupling', wanted, reason('GpuCapacityRequested', `workloads need ${wanted} node(s) of ${target.gpusPerNode} GPU(s) before their pods scale`))];
  }
  if (target.idleAfter === undefined || needed >= ctx.base || ctx.gpu.unknown) return [];
  const idleFor = since(ctx.now, ctx.state.idleSince);
  if (idleFor < target.idleAfter) return [];
  return [candidate('idle', needed, reason('GpuPoolIdle', `${ctx.base - needed} GPU node(s) idle for ${formatDuration(idleFor)} (>= ${formatDuration(target.idleAfter)}); shrinking to ${needed}`))];
};

/** Hard bounds are a source too: a target outside them (a policy change, drift) is brought back. */
const fromHardBounds = (ctx: Context): Candidate[] => {
  const { min, max } = ctx.target;
  if (ctx.base < min) return [candidate('hardBounds', min, reason('ClampedToMin', `raised to the hard min ${min} (was ${ctx.base})`))];
  if (ctx.base > max) return [candidate('hardBounds', max, reason('ClampedToMax', `lowered to the hard max ${max} (was ${ctx.base})`))];
  return [];
};

/** Every source's wish for this target now; `drift` is the restore observe() found, if any. */
export const propose = (ctx: Context, drift: Candidate | undefined, notes: Reason[]): Candidate[] => [
  ...fromHardBounds(ctx),
  ...fromWindowBounds(ctx),
  ...(drift ? [drift] : []),
  ...fromAlerts(ctx, notes),
  ...fromMetrics(ctx, notes),
  ...fromPool(ctx),
  ...fromWindow(ctx, notes),
  ...fromEventEnd(ctx),
];

export const driftRestore = (to: number, observed: number): Candidate =>
  candidate('drift', to, reason('DriftRestored', `live size ${observed} differs from the ${to} last set; restoring (onDrift: restore)`));
