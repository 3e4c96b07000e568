import { Document, isMap, isSeq } from 'yaml';
import type { Policy, WorkloadTarget } from '../domain/policy.ts';
import { clusterOf, deploymentOf, isWorkload } from '../domain/policyLookups.ts';

/** The Kubernetes user the worker's IAM role maps to (EKS access entry or aws-auth `username`). */
export const KUBERNETES_USER = 'gpu-autoscaler';

export interface RenderOptions {
  /** Where the policy came from, named in the header. */
  source: string;
}

/** One file to write under `<out>/k8s/`: `rbac.yaml`, or `rbac.<cluster>.yaml` for a policy with several clusters. */
export interface RbacFile {
  cluster: string;
  fileName: string;
  text: string;
}

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

interface RenderedRule {
  rule: PolicyRule;
  /** Why the rule is there; written above it. */
  note: string;
}

const LABELS = { 'app.kubernetes.io/name': KUBERNETES_USER };

const namesOf = (targets: readonly WorkloadTarget[], kind: WorkloadTarget['kind']): string[] =>
  [...new Set(targets.filter((t) => t.kind === kind).map((t) => t.name))].sort();

/**
 * The rules of one namespace. A rule without resourceNames would reach every object of its
 * resource, so a rule is written only when the policy names at least one object for it.
 */
const rulesFor = (targets: readonly WorkloadTarget[]): RenderedRule[] => {
  const deployments = namesOf(targets, 'deployment');
  const hpas = namesOf(targets, 'hpa');
  const rollouts = [...new Set(targets.map(deploymentOf))].sort();
  return [
    {
      rule: { apiGroups: ['apps'], resources: ['deployments/status'], resourceNames: rollouts, verbs: ['get'] },
      note: 'Whether the pods of the last step are Ready (ready, updated, available replicas): the status\nsubresource only, read.',
    },
    {
      rule: { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['list'] },
      note: 'The PodDisruptionBudget that selects a workload\'s pods, checked before a scale-down. A budget\ncannot be found by the Deployment\'s name, and a list changes nothing.',
    },
    ...(deployments.length > 0
      ? [
          {
            rule: { apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: deployments, verbs: ['get', 'patch'] },
            note: 'The replicas of the Deployments the policy names, through the scale subresource only.',
          },
          {
            rule: { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: ['list'] },
            note:
              'Finds an HPA that scales one of those Deployments, which the scaler refuses to fight. A list\n' +
              'cannot be limited to names, and it changes nothing.',
          },
        ]
      : []),
    ...(hpas.length > 0
      ? [
          {
            rule: { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], resourceNames: hpas, verbs: ['get', 'patch'] },
            note: 'The minReplicas and maxReplicas of the HPAs the policy names.',
          },
        ]
      : []),
  ];
};

const meta = (namespace: string) => ({ name: KUBERNETES_USER, namespace, labels: LABELS });

/** A Role in `namespace`, or the ClusterRole without one. */
const roleDocument = (namespace: string | undefined, rules: readonly RenderedRule[]): Document => {
  const metadata = namespace === undefined ? { name: KUBERNETES_USER, labels: LABELS } : meta(namespace);
  const doc = new Document({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: namespace === undefined ? 'ClusterRole' : 'Role', metadata, rules: rules.map((r) => r.rule) });
  const nodes = doc.get('rules');
  if (isSeq(nodes)) {
    rules.forEach((rendered, index) => {
      const node = nodes.items[index];
      if (!isMap(node)) return;
      node.commentBefore = rendered.note.split('\n').map((line) => ` ${line}`).join('\n');
      // `verbs: [get, patch]`, as kubectl users read and write rules.
      for (const pair of node.items) if (isSeq(pair.value)) pair.value.flow = true;
    });
  }
  return doc;
};

const bindingDocument = (namespace: string): Document =>
  new Document({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(namespace),
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBERNETES_USER }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: KUBERNETES_USER },
  });

/** The label EKS managed node groups put on their nodes; the scaler lists a pool's nodes by it. */
const NODE_RULE: RenderedRule = {
  rule: { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
  note:
    'Whether a GPU node group\'s new nodes joined (Ready, nvidia.com/gpu allocatable), listed by their\n' +
    'eks.amazonaws.com/nodegroup label. Nodes belong to no namespace, so this is a ClusterRole;\nRBAC cannot limit a list to a label, and it changes nothing.',
};

const clusterRoleDocuments = (): Document[] => {
  const role = roleDocument(undefined, [NODE_RULE]);
  const binding = new Document({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: KUBERNETES_USER, labels: LABELS },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBERNETES_USER }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: KUBERNETES_USER },
  });
  return [role, binding];
};

const header = (options: RenderOptions, cluster: string): string =>
  [
    ` Kubernetes RBAC for gpu-autoscaler in cluster ${cluster}, rendered from ${options.source} by \`npm run render\`.`,
    ' Do not edit: change the policy, render again and apply (`kubectl apply -f <this file>`).',
    '',
    ' What the autoscaler may do: resize the Deployments the policy names through their scale',
    ' subresource, and move the bounds of the HPAs it names; read those Deployments\' status, list',
    ' disruption budgets and, where the policy has GPU pools, nodes; nothing else, and nothing that',
    ' can change a Deployment itself (images, commands, resource requests), nor any object it does',
    ' not name. One Role and one RoleBinding per namespace of the policy\'s workloads, and a',
    ' ClusterRole and its binding for the nodes.',
    '',
    ` \`${KUBERNETES_USER}\` is the Kubernetes user the worker's IAM role maps to (EKS access entry or`,
    " aws-auth `username`); give that mapping no groups, or its groups' bindings apply too.",
  ].join('\n');

/** The Roles and RoleBindings the worker needs, per cluster of the policy. */
export const renderKubernetesRbac = (policy: Policy, options: RenderOptions): RbacFile[] => {
  const byCluster = new Map<string, Map<string, WorkloadTarget[]>>();
  for (const target of policy.targets.filter(isWorkload)) {
    const cluster = clusterOf(policy, target);
    const namespaces = byCluster.get(cluster) ?? new Map<string, WorkloadTarget[]>();
    namespaces.set(target.namespace, [...(namespaces.get(target.namespace) ?? []), target]);
    byCluster.set(cluster, namespaces);
  }
  return [...byCluster].map(([cluster, namespaces]) => {
    // A GPU workload's pods wait for its pool's nodes to join: the scaler lists them.
    const pools = [...namespaces.values()].flat().some((t) => t.pool !== undefined);
    const nodes = pools ? `---\n# --- nodes (cluster-scoped) ---\n${clusterRoleDocuments().map((doc) => doc.toString({ lineWidth: 0 })).join('---\n')}` : '';
    const body = [...namespaces]
      .map(([namespace, targets]) => {
        const [role, binding] = [roleDocument(namespace, rulesFor(targets)), bindingDocument(namespace)].map((doc) => doc.toString({ lineWidth: 0 }));
        return `# --- namespace ${namespace} ---\n${role}---\n${binding}`;
      })
      .join('---\n');
    const text = `${header(options, cluster).split('\n').map((line) => `#${line}`).join('\n')}\n${body}${nodes}`;
    return { cluster, fileName: byCluster.size === 1 ? 'rbac.yaml' : `rbac.${cluster}.yaml`, text };
  });
};
