import type { Priority } from './precedence.ts';
import type { Action, MetricRule, NodeGroupTarget, Policy, Rule, Schedule, Target, Veto, WorkloadTarget } from './policy.ts';

/** A rule with its defaults filled: its cooldown, its priority and which way it moves. */
export interface ResolvedRuleFields {
  cooldown: number;
  priority: Priority;
  /** Whether the rule asks for more (step up, multiply, setAtLeast) or can (proportional, per replica). */
  raises: boolean;
}
export type ResolvedRule = Rule & ResolvedRuleFields;
export type ResolvedMetricRule = MetricRule & ResolvedRuleFields;

/** A window with its zone filled. */
export type ResolvedSchedule = Schedule & { timezone: string };

interface ResolvedFields {
  /** The EKS cluster the target lives in. */
  cluster: string;
  scaleDownDelay: number;
  drain: number;
  rules: ReadonlyMap<string, ResolvedRule>;
  metricRules: readonly ResolvedMetricRule[];
  /** Vetoes naming this target, by id. */
  vetoes: ReadonlyMap<string, Veto>;
  /** Windows naming this target. */
  schedules: readonly ResolvedSchedule[];
  /** A GPU workload's pool. */
  gpuPool?: NodeGroupTarget;
  /** Whether the next automatic scale-up waits for the last step's pods to be Ready (a workload's `waitForReady`, on for GPU workloads). */
  waitForReady: boolean;
  /** How long a step gets to be Ready (workloads) or new nodes to join (node groups). */
  readyTimeout: number;
  joinTimeout: number;
  /** The workloads of the GPU pool the target is, or runs on (itself included). */
  members: readonly WorkloadTarget[];
  defaults: Policy['defaults'];
}

/**
 * A target as decisions and adapters use it: the policy resolved once, at load, with its
 * cluster, pool and members, rules, metric rules, vetoes and windows, and defaults filled.
 */
export type ResolvedTarget = Target & ResolvedFields;
export type ResolvedNodeGroup = NodeGroupTarget & ResolvedFields;
export type ResolvedWorkload = WorkloadTarget & ResolvedFields;

export interface ResolvedPolicy {
  policy: Policy;
  targets: readonly ResolvedTarget[];
  target(id: string): ResolvedTarget | undefined;
}

const raises = (action: Action | undefined): boolean => {
  if (!action) return true;
  switch (action.type) {
    case 'step':
      return action.by > 0;
    case 'multiply':
      return action.factor > 1;
    case 'setAtLeast':
    case 'proportional':
      return true;
  }
};

const ruleFields = (policy: Policy, rule: { cooldown?: number | undefined; priority?: Priority | undefined }, up: boolean): ResolvedRuleFields => ({
  cooldown: rule.cooldown ?? policy.defaults.cooldown,
  priority: rule.priority ?? (up ? 'P2' : 'P3'),
  raises: up,
});

const clusterOf = (policy: Policy, target: Target): string => {
  if (target.cluster) return target.cluster;
  const pool = target.kind === 'eks-nodegroup' || target.pool === undefined ? undefined : policy.targets.find((t) => t.id === target.pool);
  if (pool?.kind === 'eks-nodegroup') return pool.cluster;
  const only = policy.targets.find((t): t is NodeGroupTarget => t.kind === 'eks-nodegroup');
  // The schema refuses a workload whose cluster cannot be determined.
  return only?.cluster ?? '';
};

const resolved = new WeakMap<Policy, ResolvedPolicy>();

/** Resolves a validated policy once; the same policy object always yields the same result. */
export const resolvePolicy = (policy: Policy): ResolvedPolicy => {
  const known = resolved.get(policy);
  if (known) return known;
  const targets = policy.targets.map((target): ResolvedTarget => {
    const pool = target.kind !== 'eks-nodegroup' && target.pool !== undefined ? policy.targets.find((t) => t.id === target.pool) : undefined;
    return {
      ...target,
      cluster: clusterOf(policy, target),
      scaleDownDelay: target.scaleDownDelay ?? policy.defaults.scaleDownDelay,
      drain: (target.kind === 'eks-nodegroup' ? target.drain : undefined) ?? policy.defaults.drain,
      rules: new Map(
        policy.rules.filter((r) => r.target === target.id).map((r) => [r.id, { ...r, ...ruleFields(policy, r, raises(r.action)) }]),
      ),
      metricRules: policy.metricRules
        .filter((r) => r.target === target.id)
        .map((r) => ({ ...r, ...ruleFields(policy, r, r.targetPerReplica !== undefined || raises(r.action)) })),
      vetoes: new Map(policy.vetoes.filter((v) => v.targets.includes(target.id)).map((v) => [v.id, v])),
      schedules: policy.schedules.filter((s) => target.id in s.targets).map((s) => ({ ...s, timezone: s.timezone ?? policy.timezone })),
      ...(pool?.kind === 'eks-nodegroup' ? { gpuPool: pool } : {}),
      readyTimeout: (target.kind === 'eks-nodegroup' ? undefined : target.readyTimeout) ?? policy.defaults.readyTimeout,
      joinTimeout: (target.kind === 'eks-nodegroup' ? target.joinTimeout : undefined) ?? policy.defaults.joinTimeout,
      waitForReady: target.kind !== 'eks-nodegroup' && (target.waitForReady ?? (target.gpusPerReplica > 0 || pool !== undefined)),
      members: policy.targets.filter((t): t is WorkloadTarget => t.kind !== 'eks-nodegroup' && t.pool === (pool?.id ?? target.id)),
      defaults: policy.defaults,
    } as ResolvedTarget;
  });
  const byId = new Map(targets.map((t) => [t.id, t]));
  const result: ResolvedPolicy = { policy, targets, target: (id) => byId.get(id) };
  resolved.set(policy, result);
  return result;
};
