import { EKSClient } from '@aws-sdk/client-eks';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { WorkloadHealth } from '../../domain/decide/context.ts';
import type { NodeGroupTarget, Policy, WorkloadTarget } from '../../domain/policy.ts';
import { type ClusterHealth, systemClock, type WorkloadScaler } from '../../ports.ts';
import type { ClusterAccess } from './clusterAccess.ts';
import { DeploymentScaler } from './deploymentScaler.ts';
import { describeClusterEndpoint, EksClusterAccess } from './eksClusterAccess.ts';
import { HpaScaler } from './hpaScaler.ts';
import { KubernetesHealth } from './kubernetesHealth.ts';
import { kubeconfigAccess, loadKubeconfig } from './kubeconfigAccess.ts';
import { AWS_CLIENT_OPTIONS } from '../aws/clientOptions.ts';

/** The worker's Kubernetes side: each workload target goes to the adapter of its kind; health reads share its access. */
export class KubernetesWorkloads implements WorkloadScaler, ClusterHealth {
  readonly #deployments: DeploymentScaler;
  readonly #hpas: HpaScaler;
  readonly #health: KubernetesHealth;

  public constructor(policy: Policy, access: ClusterAccess) {
    this.#deployments = new DeploymentScaler(policy, access);
    this.#hpas = new HpaScaler(policy, access);
    this.#health = new KubernetesHealth(policy, access);
  }

  public workload(target: WorkloadTarget): Promise<WorkloadHealth> {
    return this.#health.workload(target);
  }

  public gpuNodes(pool: NodeGroupTarget): Promise<number> {
    return this.#health.gpuNodes(pool);
  }

  public current(target: WorkloadTarget): Promise<number> {
    return target.kind === 'hpa' ? this.#hpas.current(target) : this.#deployments.current(target);
  }

  /** The size is absolute and the patch idempotent, so the intent's token is not needed. */
  public scaleTo(target: WorkloadTarget, desired: number, _token: string, options: { pin?: boolean } = {}): Promise<void> {
    return target.kind === 'hpa' ? this.#hpas.scaleTo(target, desired, options.pin === true) : this.#deployments.scaleTo(target, desired);
  }
}

/**
 * How the worker reaches its clusters: the kubeconfig files `KUBECONFIG` names when it is
 * set (local runs, tests), otherwise EKS with the function's IAM role (Lambda). Nothing is
 * called until the first intent.
 */
export const clusterAccessFrom = (env: NodeJS.ProcessEnv): ClusterAccess => {
  const kubeconfig = env['KUBECONFIG'];
  if (kubeconfig) return kubeconfigAccess(loadKubeconfig(kubeconfig));
  const eks = new EKSClient(AWS_CLIENT_OPTIONS);
  return new EksClusterAccess({
    endpoint: describeClusterEndpoint(eks),
    region: () => eks.config.region(),
    credentials: defaultProvider(),
    clock: systemClock,
  });
};

export const kubernetesWorkloads = (policy: Policy, env: NodeJS.ProcessEnv): WorkloadScaler & ClusterHealth =>
  new KubernetesWorkloads(policy, clusterAccessFrom(env));
