/**
 * One precedence for every source of a decision: which source wins when two disagree, and
 * which limits apply to what it proposes. The decision engine reads these tables; no step
 * guards its own special cases. The README's precedence table is this file, in prose.
 *
 * The runbooks' decision matrix (autoscaling rules 4.1) ranks conditions P0-P3: VRAM headroom
 * and latency or error spikes are P0, queue buildup P1, low utilisation and off-peak P3.
 */

/** Everything that can propose a size for a target. */
export const SOURCES = [
  'emergency',
  'hardBounds',
  'windowFloor',
  'windowCeiling',
  'drift',
  'alert',
  'metric',
  'coupling',
  'schedule',
  'eventEnd',
  'idle',
] as const;
export type Source = (typeof SOURCES)[number];

/** The runbooks' priorities; rules carry one (alert and metric rules: P2 for ups, P3 for downs unless set). */
export const PRIORITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** What limits a proposal; each is one function in decide/limits.ts. */
export const LIMITS = [
  'veto',
  'pause',
  'scaleDownDelay',
  'cooldown',
  'stabilization',
  'readiness',
  'warmup',
  'oneStepDown',
  'rateLimit',
  'drain',
  'activeWork',
  'disruptionBudget',
  'windowBounds',
  'gpuCapacity',
  'hardBounds',
] as const;
export type Limit = (typeof LIMITS)[number];

interface SourceRow {
  /** Higher wins; among equal ranks an up beats a down. */
  rank: number;
  /** Limits on a scale-up this source proposes. */
  up: readonly Limit[];
  /** Limits on a scale-down this source proposes. */
  down: readonly Limit[];
  /** The runbook line the row encodes. */
  why: string;
}

const P_RANK: Record<Priority, number> = { P0: 40, P1: 30, P2: 20, P3: 10 };

/** The rank of an alert or metric rule of the given priority. */
export const rankOfPriority = (priority: Priority): number => P_RANK[priority];

// The runbooks check before removing pods: no active work on them (HSOF), a disruption budget
// that allows it (TenSafe). An operator's command acts at once and is not held by either.
const AUTOMATIC_DOWN: readonly Limit[] = ['veto', 'pause', 'cooldown', 'scaleDownDelay', 'activeWork', 'disruptionBudget', 'oneStepDown', 'rateLimit', 'windowBounds', 'hardBounds'];
// A rule's wish waits out its target's stabilization window, as HPA's metric recommendations
// do; windows, bounds and operators act when they are due.
const RULE_UP: readonly Limit[] = ['veto', 'pause', 'cooldown', 'stabilization', 'readiness', 'warmup', 'rateLimit', 'windowBounds', 'gpuCapacity', 'hardBounds'];
const RULE_DOWN: readonly Limit[] = ['veto', 'pause', 'cooldown', 'stabilization', 'scaleDownDelay', 'activeWork', 'disruptionBudget', 'oneStepDown', 'rateLimit', 'windowBounds', 'hardBounds'];

/**
 * The table. Ranks of `alert` and `metric` rows are placeholders: a rule's own priority
 * ranks it (P0 40 ... P3 10). Window bounds outrank every rule (a window's floor and ceiling
 * are the policy's word for that time); schedule entries, event ends and idle shrinks are
 * P3 (the matrix's "off-peak" and "low utilisation"). A drift restore ranks just above P3:
 * it puts back a size the scaler decided, but never against a firing scale-up rule.
 */
export const PRECEDENCE: Readonly<Record<Source, SourceRow>> = {
  emergency: { rank: 100, up: ['gpuCapacity', 'hardBounds'], down: ['hardBounds'], why: 'an operator command bypasses cooldowns, windows, pauses and vetoes, never hard bounds (invariant 6)' },
  hardBounds: { rank: 90, up: ['hardBounds'], down: ['hardBounds'], why: 'min and max are hard limits nothing crosses, pauses and vetoes included' },
  windowFloor: { rank: 60, up: ['veto', 'pause', 'gpuCapacity', 'hardBounds'], down: [], why: "a window's floor is the least it keeps while in force" },
  windowCeiling: { rank: 60, up: [], down: AUTOMATIC_DOWN, why: "a window's ceiling is the most it allows while in force" },
  drift: { rank: 15, up: ['veto', 'pause', 'windowBounds', 'gpuCapacity', 'hardBounds'], down: ['veto', 'pause', 'windowBounds', 'hardBounds'], why: 'onDrift: restore puts back, at once, the size the scaler decided; pods it never decided are not a scale-down to pace' },
  alert: { rank: 0, up: RULE_UP, down: RULE_DOWN, why: 'the decision matrix: P0 beats P1 beats P2 beats P3; ups beat downs' },
  metric: { rank: 0, up: RULE_UP, down: RULE_DOWN, why: 'metric rules rank as alert rules of the same priority' },
  coupling: { rank: 35, up: ['veto', 'pause', 'hardBounds'], down: [], why: 'a GPU pool carries the pods its workloads were allowed to run' },
  schedule: { rank: 10, up: ['veto', 'pause', 'readiness', 'rateLimit', 'windowBounds', 'gpuCapacity', 'hardBounds'], down: AUTOMATIC_DOWN, why: 'peak / off-peak entry and pre-scale are P3; a pre-scale only raises' },
  eventEnd: { rank: 10, up: [], down: AUTOMATIC_DOWN, why: 'TenSafe: scale down 15-30 minutes after the event' },
  idle: { rank: 10, up: [], down: ['veto', 'pause', 'scaleDownDelay', 'rateLimit', 'drain', 'windowBounds', 'hardBounds'], why: 'GPU pool idle: shrink to what the workloads need, pods first, nodes later' },
};

/** The limits that apply to a proposal of `source` in a direction. */
export const limitsOf = (source: Source, up: boolean): readonly Limit[] => (up ? PRECEDENCE[source].up : PRECEDENCE[source].down);

/** Whether a limit applies to a proposal of `source` in a direction. */
export const limited = (source: Source, up: boolean, limit: Limit): boolean => limitsOf(source, up).includes(limit);
