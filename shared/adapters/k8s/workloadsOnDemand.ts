import type { NodeGroupTarget, Policy, WorkloadTarget } from '../../domain/policy.ts';
import type { ClusterHealth, WorkloadScaler } from '../../ports.ts';

/**
 * The worker's Kubernetes side (kubernetesWorkloads: sizes and health), loaded when a workload target is first
 * touched. @kubernetes/client-node and what it brings are most of the worker's code (1.3 MiB
 * of 1.8 MiB minified); behind this import() the build puts them in a chunk of their own, so a
 * cold start, and every delivery that only sizes node groups, never loads them.
 */
export const workloadsOnDemand = (policy: Policy, env: NodeJS.ProcessEnv): WorkloadScaler & ClusterHealth => {
  let workloads: Promise<WorkloadScaler & ClusterHealth> | undefined;
  const load = () => (workloads ??= import('./kubernetesWorkloads.ts').then((module) => module.kubernetesWorkloads(policy, env)));
  return {
    current: async (target: WorkloadTarget) => (await load()).current(target),
    scaleTo: async (target: WorkloadTarget, desired: number, token: string, options?: { pin?: boolean }) => (await load()).scaleTo(target, desired, token, options),
    workload: async (target: WorkloadTarget) => (await load()).workload(target),
    gpuNodes: async (pool: NodeGroupTarget) => (await load()).gpuNodes(pool),
  };
};
