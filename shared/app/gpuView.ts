import type { GpuView } from '../domain/decide/index.ts';
import type { NodeGroupTarget, Policy } from '../domain/policy.ts';
import { type ResolvedTarget, resolvePolicy } from '../domain/resolve.ts';
import type { TargetState } from '../domain/state.ts';
import type { StateRead } from '../ports.ts';

/** The pool a target runs on or is, when it has GPU workloads. */
export const poolOf = (target: ResolvedTarget): NodeGroupTarget | undefined => {
  if (target.kind === 'eks-nodegroup') return target.gpusPerNode > 0 && target.members.length > 0 ? target : undefined;
  return target.gpuPool;
};

/** The ids whose state a decision needs: the target's own first, then its pool and the pool's workloads. */
export const stateIdsFor = (target: ResolvedTarget): string[] => {
  const pool = poolOf(target);
  return pool ? [...new Set([target.id, pool.id, ...target.members.map((m) => m.id)])] : [target.id];
};

/** The pool's nodes for certain: while an action is pending (it may never happen), the smaller of before and after. */
const nodesThere = (state: TargetState | undefined): number | undefined =>
  state?.pending ? Math.min(state.pending.from, state.pending.to) : (state?.desired ?? undefined);

/**
 * Builds the GPU view from state documents; a member never seen counts at its hard min.
 * `nodesSeen`: the pool's nodes that joined, where the caller reads them in Kubernetes.
 */
export const gpuViewFor = (target: ResolvedTarget, states: StateRead, nodesSeen?: number): GpuView | undefined => {
  const pool = poolOf(target);
  if (!pool) return undefined;
  const unknown = target.members.filter((m) => states.unreadable.has(m.id)).map((m) => m.id);
  const grownAt = states.get(pool.id)?.lastUpAt;
  const poolPausedUntil = states.get(pool.id)?.pause?.until;
  return {
    pool,
    ...(unknown.length > 0 ? { unknown } : {}),
    ...(nodesSeen !== undefined ? { nodesSeen } : {}),
    ...(grownAt !== undefined ? { grownAt } : {}),
    ...(poolPausedUntil !== undefined ? { poolPausedUntil } : {}),
    poolDesired: nodesThere(states.get(pool.id)) ?? pool.min,
    members: target.members.map((member) => {
      const state = states.get(member.id);
      return { target: member, desired: state?.desired ?? member.min, ...(state?.lastDownAt ? { lastDownAt: state.lastDownAt } : {}) };
    }),
  };
};

/**
 * The FIFO group of a target's intents: a GPU pool and every workload on it share the pool's
 * (one writer decides GPU capacity, on fresh sizes); any other target is its own group.
 */
export const fifoGroupOf = (policy: Policy) => (targetId: string): string => {
  const target = resolvePolicy(policy).target(targetId);
  return (target && poolOf(target)?.id) ?? targetId;
};
