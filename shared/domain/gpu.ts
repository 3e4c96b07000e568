import type { NodeGroupTarget, WorkloadTarget } from './policy.ts';

/** What a GPU pool's workloads ask of it, as read from their state documents. */
export interface PoolMember {
  target: WorkloadTarget;
  desired: number;
  lastDownAt?: string;
}

/** GPUs the members need: the sum of replicas x gpusPerReplica. */
export const gpuDemand = (members: readonly PoolMember[]): number =>
  members.reduce((sum, m) => sum + m.desired * m.target.gpusPerReplica, 0);

/** Nodes that carry `gpus`: ceil(GPUs / gpusPerNode). */
export const nodesFor = (pool: NodeGroupTarget, gpus: number): number => Math.ceil(gpus / pool.gpusPerNode);

/** Replicas of `member` that fit on the pool at its hard max, next to the other members. */
export const replicasThatFit = (pool: NodeGroupTarget, member: WorkloadTarget, others: readonly PoolMember[]): number =>
  Math.max(0, Math.floor((pool.max * pool.gpusPerNode - gpuDemand(others)) / member.gpusPerReplica));
