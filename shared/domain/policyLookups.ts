import type { MetricRule, NodeGroupTarget, Policy, Rule, Target, WorkloadTarget } from './policy.ts';

// The policy's lookups, apart from its schema: the functions use these and import only the
// policy's types, so that classic zod and the schema never reach a bundle (the build validated
// the policy they run with; see shared/bundledPolicy.ts).

export const targetById = (policy: Policy, id: string): Target | undefined =>
  policy.targets.find((t) => t.id === id);

export const isWorkload = (target: Target): target is WorkloadTarget => target.kind !== 'eks-nodegroup';

/** Workloads whose pods run on the given GPU pool. */
export const poolMembers = (policy: Policy, poolId: string): WorkloadTarget[] =>
  policy.targets.filter((t): t is WorkloadTarget => isWorkload(t) && t.pool === poolId);

// A policy is parsed once and never changes, so its per-target index is built once.
const ruleIndex = new WeakMap<Policy, Map<string, Map<string, Rule>>>();

/** The rules of one target, by id. */
export const rulesOf = (policy: Policy, targetId: string): ReadonlyMap<string, Rule> => {
  let index = ruleIndex.get(policy);
  if (!index) {
    index = new Map();
    for (const rule of policy.rules) index.set(rule.target, (index.get(rule.target) ?? new Map()).set(rule.id, rule));
    ruleIndex.set(policy, index);
  }
  return index.get(targetId) ?? new Map();
};

/** The EKS cluster a workload runs in: its own, its pool's, or the policy's only one. */
export const clusterOf = (policy: Policy, target: WorkloadTarget): string => {
  if (target.cluster) return target.cluster;
  const pool = target.pool === undefined ? undefined : targetById(policy, target.pool);
  if (pool?.kind === 'eks-nodegroup') return pool.cluster;
  const only = policy.targets.find((t): t is NodeGroupTarget => t.kind === 'eks-nodegroup');
  if (!only) throw new Error(`no cluster for "${target.id}"`);
  return only.cluster;
};

export const scaleDownDelayOf = (policy: Policy, target: Target): number =>
  target.scaleDownDelay ?? policy.defaults.scaleDownDelay;

export const cooldownOf = (policy: Policy, rule: { cooldown?: number | undefined }): number => rule.cooldown ?? policy.defaults.cooldown;

/** The metric rules of one target. */
export const metricRulesOf = (policy: Policy, targetId: string): MetricRule[] => policy.metricRules.filter((r) => r.target === targetId);

/** Whether the worker only records a target's decisions (`mode: shadow`) instead of acting on them. */
export const isShadow = (policy: Policy, target: Pick<Target, 'mode'>): boolean => (target.mode ?? policy.defaults.mode) === 'shadow';

/**
 * The id a target's `activeWork` alert is recorded under among its active alerts; rule and veto
 * ids are lowercase, so it never names one of them.
 */
export const ACTIVE_WORK = 'activeWork';

/** The Deployment whose pods a workload sizes: its own, or the one an HPA target scales (`deployment`, else the HPA's name). */
export const deploymentOf = (target: WorkloadTarget): string => (target.kind === 'hpa' ? (target.deployment ?? target.name) : target.name);
