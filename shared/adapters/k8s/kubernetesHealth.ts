import type { V1Deployment } from '@kubernetes/client-node';
import * as z from '../../domain/zod.ts';
import type { WorkloadHealth } from '../../domain/decide/context.ts';
import type { NodeGroupTarget, Policy, WorkloadTarget } from '../../domain/policy.ts';
import { clusterOf, deploymentOf } from '../../domain/policyLookups.ts';
import type { ClusterHealth } from '../../ports.ts';
import type { ClusterAccess } from './clusterAccess.ts';
import { callKubernetes } from './kubernetesErrors.ts';

/** The label EKS managed node groups put on their nodes. */
export const NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';

/** The extended resource the NVIDIA device plugin advertises on a GPU node. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

const labelSelectorSchema = z.object({
  matchLabels: z.optional(z.record(z.string(), z.string())),
  matchExpressions: z.optional(z.array(z.object({ key: z.string(), operator: z.string(), values: z.optional(z.array(z.string())) }))),
});
type LabelSelector = z.infer<typeof labelSelectorSchema>;

/** What the scaler reads of a PodDisruptionBudget, which the generic client returns untyped. */
const budgetSchema = z.object({
  metadata: z.object({ name: z.string() }),
  spec: z._default(z.object({ selector: z.optional(labelSelectorSchema) }), {}),
  /** Absent until the disruption controller has counted the pods. */
  status: z.optional(z.object({ disruptionsAllowed: z.optional(z.int()) })),
});
type Budget = z.infer<typeof budgetSchema>;

/** Kubernetes label selector semantics: every matchLabels pair and every expression; an empty selector selects everything. */
export const selects = (selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean => {
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
const tightestBudget = (budgets: readonly Budget[], labels: Readonly<Record<string, string>>): WorkloadHealth['budget'] =>
  budgets
    .filter((pdb) => selects(pdb.spec.selector, labels))
    .map((pdb) => ({ name: pdb.metadata.name, disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0 }))
    .sort((a, b) => a.disruptionsAllowed - b.disruptionsAllowed)[0];

const healthOf = (deployment: V1Deployment, budgets: readonly Budget[]): WorkloadHealth => {
  const status = deployment.status;
  const budget = tightestBudget(budgets, deployment.spec?.template.metadata?.labels ?? {});
  // The API leaves out zero counts (omitempty).
  return { ready: status?.readyReplicas ?? 0, updated: status?.updatedReplicas ?? 0, available: status?.availableReplicas ?? 0, ...(budget ? { budget } : {}) };
};

/** What the scaler reads of a Node, which the generic client returns untyped: parsed here. */
const nodeSchema = z.object({
  status: z._default(
    z.object({
      conditions: z._default(z.array(z.object({ type: z.string(), status: z.string() })), []),
      allocatable: z._default(z.record(z.string(), z.string()), {}),
    }),
    { conditions: [], allocatable: {} },
  ),
});

/** A node that has joined: Ready, and its GPUs allocatable. */
const joined = (item: unknown): boolean => {
  const node = nodeSchema.safeParse(item);
  if (!node.success) return false;
  const { conditions, allocatable } = node.data.status;
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True') && Number(allocatable[GPU_RESOURCE] ?? 0) > 0;
};

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
    const { apps, objects } = await this.access.clients(clusterOf(this.policy, target));
    const name = deploymentOf(target);
    const { namespace } = target;
    const [deployment, budgets] = await Promise.all([
      callKubernetes({ target: target.id, verb: 'get', resource: 'deployments/status', kind: 'Deployment', namespace, name }, () =>
        apps.readNamespacedDeploymentStatus({ name, namespace }),
      ),
      callKubernetes({ target: target.id, verb: 'list', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespace }, () =>
        objects.list('policy/v1', 'PodDisruptionBudget', namespace),
      ),
    ]);
    // The API server validated each budget; the few fields read here are parsed all the same.
    return healthOf(deployment, budgets.items.flatMap((item) => budgetSchema.safeParse(item).data ?? []));
  }

  public async gpuNodes(pool: NodeGroupTarget): Promise<number> {
    const { objects } = await this.access.clients(pool.cluster);
    const nodes = await callKubernetes({ target: pool.id, verb: 'list', resource: 'nodes', kind: 'Node' }, () =>
      objects.list('v1', 'Node', undefined, undefined, undefined, undefined, undefined, `${NODEGROUP_LABEL}=${pool.nodegroup}`),
    );
    return nodes.items.filter(joined).length;
  }
}
