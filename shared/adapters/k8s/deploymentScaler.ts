import type { AutoscalingV2Api, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { Policy, WorkloadTarget } from '../../domain/policy.ts';
import { clusterOf } from '../../domain/policyLookups.ts';
import { PermanentScalingError } from '../../errors.ts';
import { type ClusterAccess, MERGE_PATCH } from './clusterAccess.ts';
import { callKubernetes, type KubeCall } from './kubernetesErrors.ts';

type DeploymentTarget = Extract<WorkloadTarget, { kind: 'deployment' }>;

const scaleCall = (target: DeploymentTarget, verb: 'get' | 'patch'): KubeCall => ({
  target: target.id,
  verb,
  resource: 'deployments/scale',
  kind: 'Deployment',
  namespace: target.namespace,
  name: target.name,
});

const scaledBy = (hpa: V2HorizontalPodAutoscaler, deployment: string): boolean =>
  hpa.spec?.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === deployment;

/**
 * An HPA rewrites the replicas of the Deployment it scales within seconds, so a plain
 * `deployment` target under an HPA would be a tug of war: refuse it and name the fix.
 */
const refuseIfScaledByHpa = async (target: DeploymentTarget, autoscaling: AutoscalingV2Api): Promise<void> => {
  const call: KubeCall = { target: target.id, verb: 'list', resource: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespace: target.namespace };
  const { items } = await callKubernetes(call, () => autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: target.namespace }));
  const hpa = items.find((item) => scaledBy(item, target.name));
  if (!hpa) return;
  const hpaName = hpa.metadata?.name ?? '';
  throw new PermanentScalingError(
    `target "${target.id}": Deployment ${target.namespace}/${target.name} is scaled by HorizontalPodAutoscaler ${target.namespace}/${hpaName}, ` +
      `which would undo every change to its replicas; declare the target as kind: hpa with name: ${hpaName}, so the scaler moves the HPA's minReplicas instead`,
  );
};

/**
 * `deployment` targets: reads and sets spec.replicas through the scale subresource only, so
 * the scaler needs (and gets) no write access to the Deployment itself. The size is
 * absolute, 0 included; the runbooks' one-step-down and drain are already in the decision.
 */
export class DeploymentScaler {
  public constructor(
    private readonly policy: Policy,
    private readonly access: ClusterAccess,
  ) {}

  /** The worker reads the size before every decision, so the HPA check runs once per intent. */
  public async current(target: DeploymentTarget): Promise<number> {
    const { apps, autoscaling } = await this.access.clients(clusterOf(this.policy, target));
    // Together: both stand between the message and the scaling call (the time-to-action bench).
    // Both settle before either failure is told, and the scale read's first: the same error
    // whichever answer came back first (a Role missing both says the scale read is refused).
    const [scale, hpa] = await Promise.allSettled([
      callKubernetes(scaleCall(target, 'get'), () => apps.readNamespacedDeploymentScale({ name: target.name, namespace: target.namespace })),
      refuseIfScaledByHpa(target, autoscaling),
    ]);
    if (scale.status === 'rejected') throw scale.reason;
    if (hpa.status === 'rejected') throw hpa.reason;
    // The API leaves out `replicas: 0` (omitempty): a missing count is zero.
    return scale.value.spec?.replicas ?? 0;
  }

  /**
   * A merge patch of the absolute count, without a resourceVersion: the Deployment's status
   * changes all the time, and a repeated patch sets the same count again.
   */
  public async scaleTo(target: DeploymentTarget, desired: number): Promise<void> {
    const { apps } = await this.access.clients(clusterOf(this.policy, target));
    await callKubernetes(scaleCall(target, 'patch'), () =>
      apps.patchNamespacedDeploymentScale({ name: target.name, namespace: target.namespace, body: { spec: { replicas: desired } } }, MERGE_PATCH),
    );
  }
}
