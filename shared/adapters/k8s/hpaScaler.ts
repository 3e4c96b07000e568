import type { Policy, WorkloadTarget } from '../../domain/policy.ts';
import { clusterOf } from '../../domain/policyLookups.ts';
import { type ClusterAccess, MERGE_PATCH } from './clusterAccess.ts';
import { callKubernetes, type KubeCall } from './kubernetesErrors.ts';

type HpaTarget = Extract<WorkloadTarget, { kind: 'hpa' }>;

/** What Kubernetes assumes when an HPA leaves minReplicas out. */
const DEFAULT_MIN_REPLICAS = 1;

const hpaCall = (target: HpaTarget, verb: 'get' | 'patch'): KubeCall => ({
  target: target.id,
  verb,
  resource: 'horizontalpodautoscalers',
  kind: 'HorizontalPodAutoscaler',
  namespace: target.namespace,
  name: target.name,
});

/**
 * `hpa` targets: `namespace`/`name` name the HorizontalPodAutoscaler itself (not its
 * Deployment). The HPA keeps scaling on its metrics; the scaler moves its floor, so a
 * schedule or an alert raises the least it may scale down to. Its size is minReplicas.
 */
export class HpaScaler {
  public constructor(
    private readonly policy: Policy,
    private readonly access: ClusterAccess,
  ) {}

  public async current(target: HpaTarget): Promise<number> {
    const { autoscaling } = await this.access.clients(clusterOf(this.policy, target));
    const hpa = await callKubernetes(hpaCall(target, 'get'), () =>
      autoscaling.readNamespacedHorizontalPodAutoscaler({ name: target.name, namespace: target.namespace }),
    );
    return hpa.spec?.minReplicas ?? DEFAULT_MIN_REPLICAS;
  }

  /**
   * minReplicas becomes `desired`; maxReplicas becomes the target's hard max, and never less
   * than minReplicas, which the API would refuse. Pinned (an emergency size), both become
   * `desired`, so the HPA scales the Deployment to exactly that and cannot move it.
   */
  public async scaleTo(target: HpaTarget, desired: number, pin = false): Promise<void> {
    const { autoscaling } = await this.access.clients(clusterOf(this.policy, target));
    const spec = { minReplicas: desired, maxReplicas: pin ? desired : Math.max(target.max, desired) };
    await callKubernetes(hpaCall(target, 'patch'), () =>
      autoscaling.patchNamespacedHorizontalPodAutoscaler({ name: target.name, namespace: target.namespace, body: { spec } }, MERGE_PATCH),
    );
  }
}
