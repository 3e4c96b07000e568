import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { KubernetesObject, V1ResourceAttributes, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterAccess } from '../../../shared/adapters/k8s/clusterAccess.ts';
import { kubeconfigAccess } from '../../../shared/adapters/k8s/kubeconfigAccess.ts';
import { KubernetesWorkloads } from '../../../shared/adapters/k8s/kubernetesWorkloads.ts';
import { MemoryFifoQueue } from '../../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryMetricSource } from '../../../shared/adapters/local/memoryMetricSource.ts';
import { MemoryStateStore } from '../../../shared/adapters/local/memoryStateStore.ts';
import { SimulatedCluster } from '../../../shared/adapters/local/simulatedCluster.ts';
import { applyIntent, type WorkerDeps } from '../../../shared/app/applyIntent.ts';
import { fifoGroupOf } from '../../../shared/app/gpuView.ts';
import { tick } from '../../../shared/app/tick.ts';
import type { Decision } from '../../../shared/domain/decision.ts';
import type { Intent } from '../../../shared/domain/intent.ts';
import type { Policy, Target } from '../../../shared/domain/policy.ts';
import { isWorkload } from '../../../shared/domain/policyLookups.ts';
import { PermanentScalingError } from '../../../shared/errors.ts';
import { type RecordFailure, scalingWorker } from '../../../shared/hosts/scalingWorker.ts';
import { KUBERNETES_USER, renderKubernetesRbac } from '../../../shared/render/kubernetesRbac.ts';
import { ManualClock } from '../../support/clock.ts';
import { alert, alertIntent, emergencyIntent, tickIntent } from '../../support/intents.ts';
import { deployment, policyWith, SHIPPED_RBAC } from './setup/shippedPolicy.ts';
import { startKubeApiServer } from './setup/kubeApiServer.ts';
import type { KubeApiServer } from './setup/kubeApiServer.ts';

const NAMESPACES = ['ml', 'tensafe', 'hsof', 'medical-kg', 'other'];

const shipped = policyWith();
const workloads = shipped.targets.filter(isWorkload);
const byId = <T extends Target>(targets: readonly T[], id: string): T => {
  const found = targets.find((t) => t.id === id);
  if (!found) throw new Error(`the shipped policy has no target "${id}"`);
  return found;
};

/** The training job queue the `training-queue` metric rule reads. */
const TRAINING_QUEUE = { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'tensafe-training-jobs' } };

// An admin's `kubectl scale` and `kubectl patch` send merge patches too.
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const hpa = (namespace: string, name: string, scales: string, minReplicas: number, maxReplicas: number): V2HorizontalPodAutoscaler => ({
  metadata: { name, namespace },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: scales },
    minReplicas,
    maxReplicas,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
  },
});

const codes = (decision: Decision | undefined): string[] => decision?.reasons.map((r) => r.code) ?? [];

describe('Kubernetes workloads on a real kube-apiserver, driven by the use cases', () => {
  let kube: KubeApiServer | undefined;
  let admin: { core: CoreV1Api; apps: AppsV1Api; autoscaling: AutoscalingV2Api; objects: KubernetesObjectApi };
  let asScaler: ClusterAccess;
  let scalerAuthorization: AuthorizationV1Api;

  /**
   * Replaces the scaler's Roles and RoleBindings with those of `text`, as `kubectl apply` of a
   * freshly rendered file would, and waits until the authorizer, which learns of RBAC changes
   * through a watch, answers `check` as expected.
   */
  const applyRbac = async (text: string, check: { attributes: V1ResourceAttributes; allowed: boolean }): Promise<void> => {
    for (const namespace of NAMESPACES) {
      for (const kind of ['RoleBinding', 'Role']) {
        await admin.objects.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name: KUBERNETES_USER, namespace } }).catch((error: unknown) => {
          if (!(error instanceof ApiException && error.code === 404)) throw error;
        });
      }
    }
    // The node-listing ClusterRole and its binding are cluster-wide: replaced too.
    for (const kind of ['ClusterRoleBinding', 'ClusterRole']) {
      await admin.objects.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name: KUBERNETES_USER } }).catch((error: unknown) => {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
      });
    }
    const rbac: KubernetesObject[] = loadAllYaml(text);
    for (const doc of rbac) await admin.objects.create(doc);
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const review = await scalerAuthorization.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: check.attributes } } });
      if ((review.status?.allowed ?? false) === check.allowed) return;
      await sleep(50);
    }
    throw new Error(`RBAC never answered ${JSON.stringify(check)}`);
  };

  /** The Deployment's own spec.replicas, read as admin: what the cluster would run. */
  const replicasOf = async (namespace: string, name: string): Promise<number | undefined> =>
    (await admin.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;

  const kubectlScale = (namespace: string, name: string, replicas: number) =>
    admin.apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } } }, mergePatch);

  /**
   * The worker's wiring with local queue, state and node groups, and Kubernetes for the
   * workloads, reached with the scaler's own token (user gpu-autoscaler, RBAC as shipped).
   */
  const worker = (policy: Policy, start: string, access: ClusterAccess = asScaler) => {
    const clock = new ManualClock(start);
    const store = new MemoryStateStore();
    const queue = new MemoryFifoQueue(clock, { groupOf: fifoGroupOf(policy) }); // as deployed: a GPU pool and its workloads share a group
    const metrics = new MemoryMetricSource();
    const nodeGroups = new SimulatedCluster(policy, clock);
    const kubernetes = new KubernetesWorkloads(policy, access);
    /** The audit events the worker published. */
    const published: Decision[] = [];
    const deps: WorkerDeps = { store, queue, nodeGroups, workloads: kubernetes, events: { publish: async (events) => void published.push(...events) }, clock };
    const decisions: Decision[] = [];
    const failures: RecordFailure[] = [];
    const scaler = scalingWorker(policy, deps, { decided: (d) => decisions.push(d), failed: (f) => failures.push(f), backoffFailed: () => undefined }, queue);
    /** The worker until the queue is empty; a record it could not apply fails the test. */
    const drain = async (): Promise<void> => {
      await queue.drain(scaler);
      const failure = failures.shift();
      if (failure) throw failure.kind === 'unusable' ? new Error(failure.problems.join('; ')) : failure.error;
    };
    return {
      clock,
      store,
      metrics,
      deps,
      nodeGroups,
      kubernetes,
      decisions,
      published,
      /** The minute tick, then the worker until the queue is empty. */
      tick: async () => {
        await tick(policy, { store, queue, clock, metrics });
        await drain();
      },
      send: async (intent: Intent) => {
        await queue.send([intent]);
        await drain();
      },
      last: (target: string) => decisions.findLast((d) => d.target === target),
      scalings: (target: string) => decisions.filter((d) => d.target === target && d.verdict === 'scale'),
    };
  };

  beforeAll(async () => {
    kube = await startKubeApiServer();
    const kc = kube.kubeConfig(kube.adminToken);
    admin = {
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      autoscaling: kc.makeApiClient(AutoscalingV2Api),
      objects: KubernetesObjectApi.makeApiClient(kc),
    };
    asScaler = kubeconfigAccess(kube.kubeConfig(kube.scalerToken));
    scalerAuthorization = kube.kubeConfig(kube.scalerToken).makeApiClient(AuthorizationV1Api);

    for (const name of NAMESPACES) await admin.core.createNamespace({ body: { metadata: { name } } });
    const rbac: KubernetesObject[] = loadAllYaml(SHIPPED_RBAC);
    for (const doc of rbac) await admin.objects.create(doc);

    for (const target of workloads) {
      // An `hpa` target names the HPA; here it scales a Deployment of the same name.
      await admin.apps.createNamespacedDeployment({ namespace: target.namespace, body: deployment(target.namespace, target.name, target.min) });
      if (target.kind === 'hpa') {
        await admin.autoscaling.createNamespacedHorizontalPodAutoscaler({
          namespace: target.namespace,
          body: hpa(target.namespace, target.name, target.name, target.min, target.max),
        });
      }
    }
    // Outside the shipped policy: a namespace the shipped RBAC does not cover, a Deployment beside the
    // policy's in one it does, and a Deployment an HPA owns.
    await admin.apps.createNamespacedDeployment({ namespace: 'other', body: deployment('other', 'app', 2) });
    await admin.apps.createNamespacedDeployment({ namespace: 'ml', body: deployment('ml', 'unlisted', 1) });
    await admin.apps.createNamespacedDeployment({ namespace: 'ml', body: deployment('ml', 'batch', 1) });
    await admin.autoscaling.createNamespacedHorizontalPodAutoscaler({ namespace: 'ml', body: hpa('ml', 'batch-hpa', 'batch', 1, 4) });
  });

  beforeEach(async () => {
    // Every test starts from the sizes the objects were created with.
    for (const target of workloads) {
      if (target.kind === 'hpa') {
        await admin.autoscaling.patchNamespacedHorizontalPodAutoscaler(
          { name: target.name, namespace: target.namespace, body: { spec: { minReplicas: target.min, maxReplicas: target.max } } },
          mergePatch,
        );
      } else {
        await kubectlScale(target.namespace, target.name, target.min);
      }
    }
  });

  afterAll(async () => {
    await kube?.stop();
  });

  it('scales worker-llm up on LLMQueueBuildup, and down one step on LLMQueueIdle after the scale-down delay', async () => {
    // Prepare: Monday 10:00 in New York; the first tick enters the peak window (worker-llm 4)
    const w = worker(shipped, '2026-11-23T10:00:00-05:00');
    await w.tick();
    expect(await replicasOf('ml', 'worker-llm')).toBe(4);

    // Act: the queue builds up once the window's scaling has cooled down (10 min)
    w.clock.advance(600);
    await w.send(alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'])], w.clock.now()));

    // Assess
    expect(w.last('worker-llm')).toMatchObject({ from: 4, to: 5, verdict: 'scale', reasons: [{ code: 'ScaleUp' }] });
    expect(await replicasOf('ml', 'worker-llm')).toBe(5);
    expect(await w.nodeGroups.current(byId(shipped.targets, 'gpu-pool'))).toBe(2); // 5 + 2 GPUs on 4-GPU nodes, simulated

    // Act: the queue drains; 16 minutes after the scale-up the idle alert may act
    w.clock.advance(960);
    await w.send(
      alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'], { status: 'resolved' }), alert('LLMQueueIdle', ['llm-queue-idle'])], w.clock.now()),
    );

    // Assess
    expect(w.last('worker-llm')).toMatchObject({ from: 5, to: 4, verdict: 'scale', reasons: [{ code: 'ScaleDown' }] });
    expect(await replicasOf('ml', 'worker-llm')).toBe(4);
  });

  it('sets app to 2 when the off-peak window opens at 01:00 in New York', async () => {
    // Prepare: 23:00, inside the evening window (app 3)
    const w = worker(shipped, '2026-11-23T23:00:00-05:00');
    await w.tick();
    expect(await replicasOf('ml', 'app')).toBe(3);

    // Act
    w.clock.advance(2 * 3600);
    await w.tick();

    // Assess
    expect(w.last('app')).toMatchObject({ at: '2026-11-24T06:00:00.000Z', from: 3, to: 2, reasons: [{ code: 'ScheduleEntry' }] });
    expect(await replicasOf('ml', 'app')).toBe(2);
  });

  it('scales the training workers to zero once the job queue has stayed empty for 30 minutes', async () => {
    // Prepare: the peak window's entry at 10:00 has grown the GPU pool for worker-llm (a
    // workload asking for nodes in that same tick would wait for the next: its pods wait for
    // the pool, and a re-evaluation asks no more); then three jobs wait through a minute, and
    // the tick gives one worker per job once the pool has the nodes for them
    const w = worker(shipped, '2026-11-23T10:00:00-05:00');
    await w.tick();
    w.metrics.put(TRAINING_QUEUE, 3, w.clock.now());
    w.clock.advance(60);
    await w.tick();
    expect(await replicasOf('tensafe', 'tensafe-training-worker')).toBe(3);
    w.metrics.put(TRAINING_QUEUE, 0, w.clock.now());

    // Act: 20 minutes of an empty queue is not yet idle
    w.clock.advance(20 * 60);
    await w.tick();

    // Assess
    expect(await replicasOf('tensafe', 'tensafe-training-worker')).toBe(3);

    // Act: 30 minutes is
    w.clock.advance(10 * 60);
    await w.tick();

    // Assess: all the way to zero in one step (maxStepDown 10)
    expect(w.last('training-workers')).toMatchObject({ from: 3, to: 0, verdict: 'scale' });
    expect(await replicasOf('tensafe', 'tensafe-training-worker')).toBe(0);
    expect(await w.kubernetes.current(byId(workloads, 'training-workers'))).toBe(0); // the scale subresource leaves out a zero
  });

  it("moves the HSOF HPA's minReplicas with a schedule and leaves its Deployment and metrics to it", async () => {
    // Prepare: a policy where HSOF keeps 4 at peak (pre-scaled from 08:30) and 2 in the evening
    const policy = policyWith((document) => {
      for (const schedule of document.schedules ?? []) {
        if (schedule.id === 'peak') schedule.targets['hsof'] = { desired: 4 };
        if (schedule.id === 'normal-evening') schedule.targets['hsof'] = { desired: 2 };
      }
    });
    const w = worker(policy, '2026-11-23T08:30:00-05:00');

    // Act
    await w.tick();

    // Assess
    expect(w.last('hsof')).toMatchObject({ from: 2, to: 4, verdict: 'scale' });
    expect(codes(w.last('hsof'))).toEqual(['ScheduleEntry', 'HpaBounds']);
    const raised = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });
    expect(raised.spec).toMatchObject({ minReplicas: 4, maxReplicas: 10, scaleTargetRef: { kind: 'Deployment', name: 'hsof-main' } });
    expect(raised.spec?.metrics).toEqual(hpa('hsof', 'hsof-main', 'hsof-main', 2, 10).spec?.metrics);
    expect(await replicasOf('hsof', 'hsof-main')).toBe(2);

    // Act: the evening window begins
    w.clock.advance(9.5 * 3600);
    await w.tick();

    // Assess: down conservatively, one replica at a time (HSOF's own rule)
    expect(w.last('hsof')).toMatchObject({ from: 4, to: 3, verdict: 'scale', limitedBy: { code: 'OneStepAtATime' } });
    expect(codes(w.last('hsof'))).toContain('HpaBounds');
    const lowered = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });
    expect(lowered.spec).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
  });

  it('HSOF emergency "scale to 2 replicas" pins the HPA at 2 and gives it its range back on resume', async () => {
    // Prepare: HSOF's HPA floor at 6
    const w = worker(shipped, '2026-11-23T10:00:00-05:00');
    await admin.autoscaling.patchNamespacedHorizontalPodAutoscaler(
      { name: 'hsof-main', namespace: 'hsof', body: { spec: { minReplicas: 6, maxReplicas: 10 } } },
      mergePatch,
    );
    await w.tick();

    // Act: the runbook's emergency, then an alert while pinned
    await w.send(emergencyIntent('hsof', { action: 'set', replicas: 2 }, w.clock.now()));
    const pinned = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });
    w.clock.advance(600);
    await w.send(alertIntent('hsof', [alert('HSOFGPUBusy', ['hsof-gpu-busy'])], w.clock.now()));
    const stillPinned = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });

    // Assess: minReplicas = maxReplicas = 2, so the HPA runs exactly 2 pods and cannot move them
    expect(pinned.spec).toMatchObject({ minReplicas: 2, maxReplicas: 2 });
    expect(w.last('hsof')).toMatchObject({ verdict: 'hold', limitedBy: { code: 'Paused' } });
    expect(stillPinned.spec).toMatchObject({ minReplicas: 2, maxReplicas: 2 });

    // Act: resume
    await w.send(emergencyIntent('hsof', { action: 'resume' }, w.clock.now()));

    // Assess: the HPA's range is back, the firing alert acts from there
    const released = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });
    expect(w.last('hsof')).toMatchObject({ verdict: 'scale', hpa: 'release', from: 2, to: 3 });
    expect(released.spec).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
  });

  it('shadow mode: every target decided, recorded and audited, and not a single Kubernetes write (counted)', async () => {
    // Prepare: every target in shadow; every call the scaler's clients make is counted by name
    const calls: string[] = [];
    const counted = <T extends object>(api: T): T =>
      new Proxy(api, {
        get: (target, name, receiver) => {
          const value: unknown = Reflect.get(target, name, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.push(String(name));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const counting: ClusterAccess = {
      clients: async (cluster) => {
        const clients = await asScaler.clients(cluster);
        return { apps: counted(clients.apps), autoscaling: counted(clients.autoscaling), objects: counted(clients.objects) };
      },
    };
    const shadow = policyWith((doc) => {
      doc.defaults = { ...doc.defaults, mode: 'shadow' };
    });
    const w = worker(shadow, '2026-11-23T10:00:00-05:00', counting);
    const hsofBefore = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });

    // Act: the peak window opens, LLMQueueBuildup fires after the cooldown, the runbook's HSOF emergency
    await w.tick();
    w.clock.advance(600);
    await w.send(alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'])], w.clock.now()));
    await w.send(emergencyIntent('hsof', { action: 'set', replicas: 4 }, w.clock.now()));

    // Assess: decided and recorded as if applied, each audit event marked shadow
    expect(w.scalings('worker-llm').map((d) => `${d.from}->${d.to} ${d.reasons[0]?.code}`)).toEqual(['2->4 ScheduleEntry', '4->5 ScaleUp']);
    expect(w.scalings('hsof').at(-1)).toMatchObject({ to: 4, shadow: true });
    expect((await w.store.get('worker-llm'))?.desired).toBe(5);
    expect(w.published.filter((d) => d.verdict === 'scale').length).toBeGreaterThanOrEqual(3);
    expect(w.published.every((d) => d.shadow === true)).toBe(true);
    // Assess: the live sizes were read, and nothing was written: not a patch, not a replace
    expect(calls.filter((name) => name.startsWith('read') || name.startsWith('list')).length).toBeGreaterThan(0);
    expect(calls.filter((name) => !name.startsWith('read') && !name.startsWith('list'))).toEqual([]);
    expect(await replicasOf('ml', 'worker-llm')).toBe(2);
    const hsofAfter = await admin.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'hsof-main', namespace: 'hsof' });
    expect(hsofAfter.metadata?.resourceVersion).toBe(hsofBefore.metadata?.resourceVersion);
    console.info(`shadow on kube-apiserver: ${calls.length} calls, 0 writes (${[...new Set(calls)].join(', ')})`);
  });

  it('adopts a manual scale (onDrift: adopt): the next decision starts from the live size, and it stays', async () => {
    // Prepare: peak sets app to 5, then someone runs `kubectl scale --replicas=7`
    const w = worker(shipped, '2026-11-23T10:00:00-05:00');
    await w.tick();
    await kubectlScale('ml', 'app', 7);

    // Act: the next decision, after the cooldown
    w.clock.advance(300);
    await w.send(alertIntent('app', [alert('AppHighCPU', ['app-high-cpu'])], w.clock.now()));

    // Assess
    expect(w.last('app')).toMatchObject({ from: 7, to: 8, verdict: 'scale' });
    expect(codes(w.last('app'))).toContain('DriftDetected');
    expect(await replicasOf('ml', 'app')).toBe(8);

    // Act: the alert resolves; ticks and forced evaluations follow
    await w.send(alertIntent('app', [alert('AppHighCPU', ['app-high-cpu'], { status: 'resolved' })], w.clock.now()));
    for (let minute = 0; minute < 3; minute += 1) {
      w.clock.advance(60);
      await w.tick();
      await w.send(emergencyIntent('app', { action: 'evaluateNow' }, w.clock.now()));
    }

    // Assess: no oscillation
    expect(w.scalings('app').map((d) => [d.from, d.to])).toEqual([[2, 5], [7, 8]]);
    expect(await replicasOf('ml', 'app')).toBe(8);
  });

  it('restores a manual scale once (onDrift: restore), then leaves it', async () => {
    // Prepare
    const policy = policyWith((document) => {
      document.targets = document.targets.map((t) => (t.id === 'app' ? { ...t, onDrift: 'restore' as const } : t));
    });
    const w = worker(policy, '2026-11-23T10:00:00-05:00');
    await w.tick();
    await kubectlScale('ml', 'app', 7);

    // Act: the next decision
    w.clock.advance(60);
    await w.send(emergencyIntent('app', { action: 'evaluateNow' }, w.clock.now()));

    // Assess
    expect(w.last('app')).toMatchObject({ from: 7, to: 5, verdict: 'scale' });
    expect(codes(w.last('app'))).toContain('DriftRestored');
    expect(await replicasOf('ml', 'app')).toBe(5);

    // Act: ticks and forced evaluations follow
    for (let minute = 0; minute < 3; minute += 1) {
      w.clock.advance(60);
      await w.tick();
      await w.send(emergencyIntent('app', { action: 'evaluateNow' }, w.clock.now()));
    }

    // Assess: restored once, then steady
    expect(w.scalings('app').map((d) => [d.from, d.to])).toEqual([[2, 5], [7, 5]]);
    expect(await replicasOf('ml', 'app')).toBe(5);
  });

  it('refuses to scale a Deployment the policy does not name, in a namespace whose Role it has (403)', async () => {
    // Prepare: the same namespace as app, which the scaler may scale
    const { apps } = await asScaler.clients('tensafe-prod');
    const scale = (name: string) => apps.patchNamespacedDeploymentScale({ name, namespace: 'ml', body: { spec: { replicas: 3 } } }, mergePatch);
    const statusOf = (call: Promise<unknown>) =>
      call.then(
        () => 200,
        (error: unknown) => (error instanceof ApiException ? error.code : Promise.reject(error)),
      );
    // A policy that names the Deployment, run against the RBAC rendered from the shipped one
    const target = { id: 'unlisted', kind: 'deployment' as const, cluster: 'tensafe-prod', namespace: 'ml', name: 'unlisted', min: 1, max: 4 };
    const policy = policyWith((document) => {
      document.targets.push(target);
    });
    const w = worker(policy, '2026-11-23T10:00:00-05:00');

    // Act
    const statuses = { named: await statusOf(scale('app')), unnamed: await statusOf(scale('unlisted')) };
    const applied = applyIntent(policy, tickIntent(target.id, w.clock.now()), w.deps);

    // Assess
    expect(statuses).toEqual({ named: 200, unnamed: 403 });
    await expect(applied).rejects.toThrow(
      'target "unlisted": forbidden (403): Kubernetes user "gpu-autoscaler" may not get deployments/scale "unlisted" in namespace "ml"; ' +
        'render infra/k8s/rbac.yaml from this policy (npm run render) and apply it',
    );
    expect(await replicasOf('ml', 'unlisted')).toBe(1);
  });

  it.each([
    {
      case: 'a namespace the SHIPPED_RBAC does not cover',
      rbac: 'committed' as const,
      target: { id: 'other-app', kind: 'deployment' as const, cluster: 'tensafe-prod', namespace: 'other', name: 'app', min: 1, max: 4 },
      message:
        'target "other-app": forbidden (403): Kubernetes user "gpu-autoscaler" may not get deployments/scale "app" in namespace "other"; ' +
        'render infra/k8s/rbac.yaml from this policy (npm run render) and apply it: its Role in namespace "other" names each Deployment and HPA the policy scales there',
    },
    {
      case: 'a Deployment that does not exist',
      rbac: 'rendered' as const,
      target: { id: 'ghost', kind: 'deployment' as const, cluster: 'tensafe-prod', namespace: 'ml', name: 'ghost', min: 1, max: 4 },
      message: 'target "ghost": Deployment ml/ghost not found (404)',
    },
    {
      case: 'an HPA that does not exist',
      rbac: 'rendered' as const,
      target: { id: 'ghost-hpa', kind: 'hpa' as const, cluster: 'tensafe-prod', namespace: 'hsof', name: 'ghost', min: 1, max: 4 },
      message: 'target "ghost-hpa": HorizontalPodAutoscaler hsof/ghost not found (404)',
    },
    {
      case: 'a Deployment an HPA scales, declared as a deployment target',
      rbac: 'rendered' as const,
      target: { id: 'batch', kind: 'deployment' as const, cluster: 'tensafe-prod', namespace: 'ml', name: 'batch', min: 1, max: 4 },
      message:
        'target "batch": Deployment ml/batch is scaled by HorizontalPodAutoscaler ml/batch-hpa, which would undo every change to its replicas; ' +
        "declare the target as kind: hpa with name: batch-hpa, so the scaler moves the HPA's minReplicas instead",
    },
  ])('refuses $case with a clear error and changes nothing (SHIPPED_RBAC $rbac)', async ({ rbac, target, message }) => {
    // Prepare: past SHIPPED_RBAC, with the Role rendered from this policy, which names the target
    const policy = policyWith((document) => {
      document.targets.push(target);
    });
    const w = worker(policy, '2026-11-23T10:00:00-05:00');
    const reach: V1ResourceAttributes =
      target.kind === 'hpa'
        ? { namespace: target.namespace, group: 'autoscaling', resource: 'horizontalpodautoscalers', name: target.name, verb: 'get' }
        : { namespace: target.namespace, group: 'apps', resource: 'deployments', subresource: 'scale', name: target.name, verb: 'get' };
    const [rendered] = renderKubernetesRbac(policy, { source: 'test policy' });
    if (rbac === 'rendered') await applyRbac(rendered?.text ?? '', { attributes: reach, allowed: true });

    try {
      // Act
      const applied = applyIntent(policy, tickIntent(target.id, w.clock.now()), w.deps);

      // Assess
      await expect(applied).rejects.toThrow(PermanentScalingError);
      await expect(applied).rejects.toThrow(message);
      expect(await w.store.get(target.id)).toBeUndefined();
      expect(await replicasOf('other', 'app')).toBe(2);
      expect(await replicasOf('ml', 'batch')).toBe(1);
    } finally {
      if (rbac === 'rendered') await applyRbac(SHIPPED_RBAC, { attributes: reach, allowed: false });
    }
  });
});
