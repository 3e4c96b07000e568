import type { GpuView } from '../domain/decide.ts';
import { type NodeGroupTarget, type Policy, poolMembers, type Target, targetById } from '../domain/policy.ts';
import type { TargetState } from '../domain/state.ts';

/** The pool a target runs on or is: the ids whose state the decision needs beside its own. */
export const poolOf = (policy: Policy, target: Target): NodeGroupTarget | undefined => {
  if (target.kind === 'eks-nodegroup') return target.gpusPerNode > 0 && poolMembers(policy, target.id).length > 0 ? target : undefined;
  const pool = target.pool === undefined ? undefined : targetById(policy, target.pool);
  return pool?.kind === 'eks-nodegroup' ? pool : undefined;
};

export const stateIdsFor = (policy: Policy, target: Target): string[] => {
  const pool = poolOf(policy, target);
  return pool ? [...new Set([target.id, pool.id, ...poolMembers(policy, pool.id).map((m) => m.id)])] : [target.id];
};

/** Builds the GPU view from state documents; a member never seen counts at its hard min. */
export const gpuViewFor = (policy: Policy, target: Target, states: ReadonlyMap<string, TargetState>): GpuView | undefined => {
  const pool = poolOf(policy, target);
  if (!pool) return undefined;
  return {
    pool,
    poolDesired: states.get(pool.id)?.desired ?? pool.min,
    members: poolMembers(policy, pool.id).map((member) => {
      const state = states.get(member.id);
      return {
        target: member,
        desired: state?.desired ?? member.min,
        ...(state?.lastDownAt ? { lastDownAt: state.lastDownAt } : {}),
      };
    }),
  };
};
