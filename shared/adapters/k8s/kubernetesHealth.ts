import type { V1Deployment, V1LabelSelector, V1Node, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { WorkloadHealth } from '../../domain/decide/context.ts';
import { clusterOf, deploymentOf, type NodeGroupTarget, type Policy, type WorkloadTarget } from '../../domain/policy.ts';
import type { ClusterHealth } from '../../ports.ts';
import type { ClusterAccess } from './clusterAccess.ts';
import { callKubernetes } from './kubernetesErrors.ts';

/** The label EKS managed node groups put on their nodes. */
export const NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';

/** The extended resource the NVIDIA device plugin advertises on a GPU node. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** Kubernetes label selector semantics: every matchLabels pair and every expression; an empty selector selects everything. */
export const selects = (selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean => {
  if (!selector) return false;
  const pairs = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return (
    pairs &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const value = labels[key];
      switch (operator) {
        case 'In':
          return value !== undefined && values.includes(value);
        case 'NotIn':
          return value === undefined || !values.includes(value);
        case 'Exists':
          return value !== undefined;
        case 'DoesNotExist':
          return value === undefined;
        default:
          return false;
      }
    })
  );
};

/** The tightest budget among those selecting the pods; a budget the controller has not counted yet allows nothing. */
const tightestBudget = (budgets: readonly V1PodDisruptionBudget[], labels: Readonly<Record<string, string>>): WorkloadHealth['budget'] =>
  budgets
    .filter((pdb) => selects(pdb.spec?.selector, labels))
    .map((pdb) => ({ name: pdb.metadata?.name ?? '', disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0 }))
    .sort((a, b) => a.disruptionsAllowed - b.disruptionsAllowed)[0];

const healthOf = (deployment: V1Deployment, budgets: readonly V1PodDisruptionBudget[]): WorkloadHealth => {
  const status = deployment.status;
  const budget = tightestBudget(budgets, deployment.spec?.template.metadata?.labels ?? {});
  // The API leaves out zero counts (omitempty).
  return { ready: status?.readyReplicas ?? 0, updated: status?.updatedReplicas ?? 0, available: status?.availableReplicas ?? 0, ...(budget ? { budget } : {}) };
};

/** A node that has joined: Ready, and its GPUs allocatable. */
const joined = (node: V1Node): boolean =>
  (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') && Number(node.status?.allocatable?.[GPU_RESOURCE] ?? 0) > 0;

/**
 * What Kubernetes shows of the pods and nodes the scaler sizes. A workload costs two calls, in
 * parallel: a get of its Deployment's status subresource (the rollout counts and the pod
 * template's labels) and a list of the PodDisruptionBudgets of its namespace, matched here (a
 * budget cannot be found by the Deployment's name). A pool's nodes are one list by label.
 */
export class KubernetesHealth implements ClusterHealth {
  public constructor(
    private readonly policy: Policy,
    private readonly access: ClusterAccess,
  ) {}

  public async workload(target: WorkloadTarget): Promise<WorkloadHealth> {
    const { apps, policy } = await this.access.clients(clusterOf(this.policy, target));
    const name = deploymentOf(target);
    const { namespace } = target;
    const [deployment, budgets] = await Promise.all([
      callKubernetes({ target: target.id, verb: 'get', resource: 'deployments/status', kind: 'Deployment', namespace, name }, () =>
        apps.readNamespacedDeploymentStatus({ name, namespace }),
      ),
      callKubernetes({ target: target.id, verb: 'list', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespace }, () =>
        policy.listNamespacedPodDisruptionBudget({ namespace }),
      ),
    ]);
    return healthOf(deployment, budgets.items);
  }

  public async gpuNodes(pool: NodeGroupTarget): Promise<number> {
    const { core } = await this.access.clients(pool.cluster);
    const nodes = await callKubernetes({ target: pool.id, verb: 'list', resource: 'nodes', kind: 'Node' }, () =>
      core.listNode({ labelSelector: `${NODEGROUP_LABEL}=${pool.nodegroup}` }),
    );
    return nodes.items.filter(joined).length;
  }
}
