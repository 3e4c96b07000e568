import { AppsV1Api, CoreV1Api, KubernetesObjectApi, loadAllYaml, PatchStrategy, PolicyV1Api, setHeaderOptions } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterAccess } from '../../../shared/adapters/k8s/clusterAccess.ts';
import { kubeconfigAccess } from '../../../shared/adapters/k8s/kubeconfigAccess.ts';
import { GPU_RESOURCE, NODEGROUP_LABEL } from '../../../shared/adapters/k8s/kubernetesHealth.ts';
import { KubernetesWorkloads } from '../../../shared/adapters/k8s/kubernetesWorkloads.ts';
import { MemoryFifoQueue } from '../../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../../shared/adapters/local/memoryStateStore.ts';
import { SimulatedCluster } from '../../../shared/adapters/local/simulatedCluster.ts';
import type { WorkerDeps } from '../../../shared/app/applyIntent.ts';
import { fifoGroupOf } from '../../../shared/app/gpuView.ts';
import type { Decision } from '../../../shared/domain/decision.ts';
import type { Intent } from '../../../shared/domain/intent.ts';
import type { Policy } from '../../../shared/domain/policy.ts';
import { isWorkload } from '../../../shared/domain/policyLookups.ts';
import { type RecordFailure, scalingWorker } from '../../../shared/hosts/scalingWorker.ts';
import { ManualClock } from '../../support/clock.ts';
import { alert, alertIntent } from '../../support/intents.ts';
import { deployment, policyWith, SHIPPED_RBAC } from './setup/shippedPolicy.ts';
import { startKubeApiServer } from './setup/kubeApiServer.ts';
import type { KubeApiServer } from './setup/kubeApiServer.ts';

// The runbooks' health checks around a step, on a real kube-apiserver with the RBAC rendered
// from the shipped policy. There is no kubelet nor controller manager: the test writes what
// they would, the Deployment's and the PodDisruptionBudget's status subresources, and Nodes.

const NAMESPACES = ['ml', 'tensafe', 'hsof', 'medical-kg'];
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** TenSafe's API pods wait for Ready (HSOF's 300 s) and scale on latency with a 1-minute cooldown. */
const readyApi = policyWith((document) => {
  document.targets = document.targets.map((t) => (t.id === 'api' ? { ...t, waitForReady: true } : t));
});
/** worker-llm's queue rule with a 1-minute cooldown, so the nodes are what its pods wait for. */
const quickLlm = policyWith((document) => {
  document.rules = (document.rules ?? []).map((r) => (r.id === 'llm-queue-buildup' ? { ...r, cooldown: '1m' } : r));
});

describe('readiness, disruption budgets and joined GPU nodes, on a real kube-apiserver', () => {
  let kube: KubeApiServer | undefined;
  let admin: { core: CoreV1Api; apps: AppsV1Api; policy: PolicyV1Api; objects: KubernetesObjectApi };
  let asScaler: ClusterAccess;

  /** What the Deployment controller and the kubelet would report: `ready` of the pods Ready. */
  const podsReady = async (namespace: string, name: string, ready: number): Promise<void> => {
    const { spec } = await admin.apps.readNamespacedDeployment({ name, namespace });
    const replicas = spec?.replicas ?? 0;
    await admin.apps.patchNamespacedDeploymentStatus(
      { name, namespace, body: { status: { replicas, updatedReplicas: replicas, readyReplicas: ready, availableReplicas: ready } } },
      mergePatch,
    );
  };

  const replicasOf = async (namespace: string, name: string): Promise<number | undefined> =>
    (await admin.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;

  /** The worker's wiring as deployed, with local queue, state and node groups, and Kubernetes through the scaler's own token. */
  const worker = (policy: Policy, start: string) => {
    const clock = new ManualClock(start);
    const store = new MemoryStateStore();
    const queue = new MemoryFifoQueue(clock, { groupOf: fifoGroupOf(policy) });
    const nodeGroups = new SimulatedCluster(policy, clock);
    const kubernetes = new KubernetesWorkloads(policy, asScaler);
    const deps: WorkerDeps = { store, queue, nodeGroups, workloads: kubernetes, health: kubernetes, events: { publish: async () => undefined }, clock };
    const decisions: Decision[] = [];
    const failures: RecordFailure[] = [];
    const scaler = scalingWorker(policy, deps, { decided: (d) => decisions.push(d), failed: (f) => failures.push(f), backoffFailed: () => undefined }, queue);
    return {
      clock,
      nodeGroups,
      send: async (intent: Intent) => {
        await queue.send([intent]);
        await queue.drain(scaler);
        const failure = failures.shift();
        if (failure) throw failure.kind === 'unusable' ? new Error(failure.problems.join('; ')) : failure.error;
      },
      last: (target: string) => decisions.findLast((d) => d.target === target),
      all: (target: string) => decisions.filter((d) => d.target === target),
    };
  };

  beforeAll(async () => {
    kube = await startKubeApiServer();
    const kc = kube.kubeConfig(kube.adminToken);
    admin = { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), policy: kc.makeApiClient(PolicyV1Api), objects: KubernetesObjectApi.makeApiClient(kc) };
    asScaler = kubeconfigAccess(kube.kubeConfig(kube.scalerToken));
    for (const name of NAMESPACES) await admin.core.createNamespace({ body: { metadata: { name } } });
    const rbac: KubernetesObject[] = loadAllYaml(SHIPPED_RBAC);
    // One API server stands for both clusters: the ClusterRole is the same in each file.
    const seen = new Set<string>();
    for (const doc of rbac) {
      const key = `${doc.kind}/${doc.metadata?.namespace ?? ''}/${doc.metadata?.name ?? ''}`;
      if (!seen.has(key)) await admin.objects.create(doc);
      seen.add(key);
    }
    for (const target of policyWith().targets.filter(isWorkload)) {
      await admin.apps.createNamespacedDeployment({ namespace: target.namespace, body: deployment(target.namespace, target.name, target.min) });
      await podsReady(target.namespace, target.name, target.min);
    }
  });

  afterAll(async () => {
    await kube?.stop();
  });

  it('holds the next step while its pods are not Ready (WaitingForReady), then reports StepNotReady after readyTimeout, and steps again once Ready', async () => {
    // Prepare: api at 3, all Ready
    const w = worker(readyApi, '2026-11-23T10:00:00-05:00');
    const latency = (at: Date) => alertIntent('api', [alert('APIHighLatency', ['api-high-latency'])], at);

    // Act: P95 > 100 ms adds 4 pods; their pods never become Ready
    await w.send(latency(w.clock.now()));
    expect(await replicasOf('tensafe', 'tensafe-server')).toBe(7);
    await podsReady('tensafe', 'tensafe-server', 3);
    w.clock.advance(120);
    await w.send(latency(w.clock.now()));

    // Assess: past the 1-minute cooldown, the next step waits for the last
    expect(w.last('api')).toMatchObject({ verdict: 'hold', from: 7, to: 7, cause: { code: 'ScaleUp' }, limitedBy: { code: 'WaitingForReady' } });
    expect(w.last('api')?.limitedBy?.message).toBe('3 of 7 replica(s) Ready: the next scale-up waits for the last step (3m left of 5m)');

    // Act: 5 minutes on, still 3 of 7
    w.clock.advance(180);
    await w.send(latency(w.clock.now()));

    // Assess
    expect(w.last('api')).toMatchObject({ verdict: 'hold', to: 7, limitedBy: { code: 'StepNotReady' } });
    expect(await replicasOf('tensafe', 'tensafe-server')).toBe(7);

    // Act: the pods become Ready
    await podsReady('tensafe', 'tensafe-server', 7);
    w.clock.advance(60);
    await w.send(latency(w.clock.now()));

    // Assess
    expect(w.last('api')).toMatchObject({ verdict: 'scale', from: 7, to: 11, cause: { code: 'ScaleUp' } });
    expect(await replicasOf('tensafe', 'tensafe-server')).toBe(11);
    expect(w.all('api').map((d) => d.reasons[0]?.code)).toEqual(['ScaleUp', 'WaitingForReady', 'StepNotReady', 'ScaleUp']);
  });

  it('holds a scale-down while the PodDisruptionBudget selecting the pods allows no disruption', async () => {
    // Prepare: app at 5, Ready; a PDB whose status (the disruption controller's) says 0
    const w = worker(policyWith(), '2026-11-23T10:00:00-05:00');
    await admin.apps.patchNamespacedDeploymentScale({ name: 'app', namespace: 'ml', body: { spec: { replicas: 5 } } }, mergePatch);
    await podsReady('ml', 'app', 5);
    await admin.policy.createNamespacedPodDisruptionBudget({ namespace: 'ml', body: { metadata: { name: 'app-pdb', namespace: 'ml' }, spec: { minAvailable: 5, selector: { matchLabels: { app: 'app' } } } } });
    await admin.policy.patchNamespacedPodDisruptionBudgetStatus(
      { name: 'app-pdb', namespace: 'ml', body: { status: { disruptionsAllowed: 0, currentHealthy: 5, desiredHealthy: 5, expectedPods: 5, observedGeneration: 1 } } },
      mergePatch,
    );
    const lowCpu = () => alertIntent('app', [alert('AppLowCPU', ['app-low-cpu'])], w.clock.now());

    // Act
    await w.send(lowCpu());

    // Assess
    expect(w.last('app')).toMatchObject({ verdict: 'hold', from: 5, to: 5, cause: { code: 'ScaleDown' }, limitedBy: { code: 'DisruptionBudgetExhausted' } });
    expect(w.last('app')?.limitedBy?.message).toBe('PodDisruptionBudget app-pdb allows 0 disruption(s): scale-down held');
    expect(await replicasOf('ml', 'app')).toBe(5);

    // Act: the budget allows one again
    await admin.policy.patchNamespacedPodDisruptionBudgetStatus({ name: 'app-pdb', namespace: 'ml', body: { status: { disruptionsAllowed: 1 } } }, mergePatch);
    w.clock.advance(600);
    await w.send(lowCpu());

    // Assess
    expect(w.last('app')).toMatchObject({ verdict: 'scale', from: 5, to: 4 });
    expect(await replicasOf('ml', 'app')).toBe(4);
  });

  it("keeps worker-llm's pods waiting until the pool's new node is Ready with nvidia.com/gpu; one that does not join in time raises NodesNotJoined", async () => {
    // Prepare: worker-llm at 3 (+ worker-rl 1 = 4 GPUs), on the pool's one node of 4 GPUs, joined
    const w = worker(quickLlm, '2026-11-23T10:00:00-05:00');
    const node = async (name: string, labels: Record<string, string>, ready: boolean) => {
      await admin.core.createNode({ body: { metadata: { name, labels } } });
      await admin.core.patchNodeStatus(
        {
          name,
          body: {
            status: {
              conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', message: 'set by the test' }],
              allocatable: { [GPU_RESOURCE]: '4', cpu: '48', memory: '192Gi', pods: '110' },
              capacity: { [GPU_RESOURCE]: '4', cpu: '48', memory: '192Gi', pods: '110' },
            },
          },
        },
        mergePatch,
      );
    };
    await node('gpu-1', { [NODEGROUP_LABEL]: 'gpu-workers' }, true);
    // Another node group's GPU node is not the pool's
    await node('other-gpu-1', { [NODEGROUP_LABEL]: 'gpu-nodes' }, true);
    await admin.apps.patchNamespacedDeploymentScale({ name: 'worker-llm', namespace: 'ml', body: { spec: { replicas: 3 } } }, mergePatch);
    await podsReady('ml', 'worker-llm', 3);
    const queueBuildup = () => alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'])], w.clock.now());

    // Act: 3 -> 4 needs 5 GPUs, a second node
    await w.send(queueBuildup());

    // Assess: the pool was asked and grew (simulated EKS); the pods wait for its node in Kubernetes
    expect(w.nodeGroups.snapshot()['gpu-pool']?.desired).toBe(2);
    expect(w.last('worker-llm')).toMatchObject({ source: 'coupling', verdict: 'hold', from: 3, to: 3, limitedBy: { code: 'WaitingForNodes' } });
    expect(w.last('worker-llm')?.limitedBy?.message).toBe('pool gpu-pool has 1 node(s) Ready with nvidia.com/gpu, 2 needed for 4: the pods follow once its nodes have joined (15m left of 15m)');

    // Act: no node appears within joinTimeout (15 min)
    w.clock.advance(15 * 60);
    await w.send(queueBuildup());

    // Assess
    expect(w.last('worker-llm')).toMatchObject({ verdict: 'hold', from: 3, to: 3, limitedBy: { code: 'NodesNotJoined' } });
    expect(w.last('worker-llm')?.limitedBy?.message).toBe('pool gpu-pool has 1 node(s) Ready with nvidia.com/gpu, 2 needed for 4 15m after it grew (joinTimeout 15m): its new nodes have not joined');
    expect(await replicasOf('ml', 'worker-llm')).toBe(3);

    // Act: the node registers NotReady, then becomes Ready with its GPUs
    await node('gpu-2', { [NODEGROUP_LABEL]: 'gpu-workers' }, false);
    w.clock.advance(60);
    await w.send(queueBuildup());
    const whileNotReady = w.last('worker-llm');
    await admin.core.patchNodeStatus({ name: 'gpu-2', body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'set by the test' }] } } }, mergePatch);
    w.clock.advance(60);
    await w.send(queueBuildup());

    // Assess: released
    expect(whileNotReady).toMatchObject({ verdict: 'hold', limitedBy: { code: 'NodesNotJoined' } });
    expect(w.last('worker-llm')).toMatchObject({ verdict: 'scale', from: 3, to: 4, cause: { code: 'ScaleUp' } });
    expect(await replicasOf('ml', 'worker-llm')).toBe(4);
  });
});
