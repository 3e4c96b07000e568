import type { Policy, WorkloadTarget } from '../../domain/policy.ts';
import { PermanentScalingError } from '../../errors.ts';
import type { WorkloadScaler } from '../../ports.ts';

const unavailable = (target: WorkloadTarget): never => {
  throw new PermanentScalingError(
    `${target.kind} target "${target.id}" (${target.namespace}/${target.name}) needs Kubernetes access, which this build of the worker does not have`,
  );
};

/** The worker's Kubernetes side: Deployments and HPAs of the policy's workload targets. */
export const kubernetesWorkloads = (_policy: Policy): WorkloadScaler => ({
  current: async (target) => unavailable(target),
  scaleTo: async (target) => unavailable(target),
});
