import { readFileSync } from 'node:fs';
import { ApiException, AppsV1Api, AutoscalingV2Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterAccess, type KubeClients, kubeClients } from '../../../shared/adapters/k8s/clusterAccess.ts';
import { KubernetesWorkloads } from '../../../shared/adapters/k8s/kubernetesWorkloads.ts';
import { MemoryFifoQueue, VISIBILITY_TIMEOUT_SECONDS } from '../../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../../shared/adapters/local/memoryStateStore.ts';
import { SimulatedCluster } from '../../../shared/adapters/local/simulatedCluster.ts';
import { emergency } from '../../../shared/app/emergency.ts';
import { fifoGroupOf } from '../../../shared/app/gpuView.ts';
import { receiveAlerts } from '../../../shared/app/receiveAlerts.ts';
import { tick } from '../../../shared/app/tick.ts';
import type { Decision } from '../../../shared/domain/decision.ts';
import type { Intent } from '../../../shared/domain/intent.ts';
import { type Policy, type PolicyInput, validatePolicy, type WorkloadTarget } from '../../../shared/domain/policy.ts';
import { isWorkload } from '../../../shared/domain/policyLookups.ts';
import { scalingWorker } from '../../../shared/hosts/scalingWorker.ts';
import { parseEmergencyRequest } from '../../../shared/app/emergency.ts';
import { ManualClock } from '../../support/clock.ts';
import { webhookPayload } from '../../support/payloads.ts';
import { startKubeApiServer, type KubeApiServer } from './setup/kubeApiServer.ts';

// The Kubernetes half of the fault suite (test/integration/faults.test.ts holds the AWS half):
// the worker scales real Deployments on a real kube-apiserver, and the API server's answers to
// the scale patch are replaced, once, by a 409, a 429 or a timeout (before the patch reached
// the server, or after it landed and the answer was lost). Each case ends where its fault-free
// run ends, with nothing lost, nothing doubled and every action audited.

const policy: Policy = (() => {
  const result = validatePolicy(parse(readFileSync('policy.yaml', 'utf8')) as PolicyInput);
  if (!result.ok) throw new Error('the shipped policy is invalid');
  return result.policy;
})();
const workloads = policy.targets.filter(isWorkload);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

type Kind = Intent['source'];
type Effect = { code: number; reason: string; after?: boolean } | { timeout: true; after: boolean };

interface Armed {
  kind: Kind;
  effect: Effect;
  fired: number;
}

/**
 * The scaler's clients, with the Deployment scale patch of an intent of the armed kind answered
 * by the fault instead of (or after) the API server.
 */
const faultyAccess = (clients: KubeClients, armed: { current?: Armed }, intentKind: () => Kind | undefined): ClusterAccess => {
  const apps = new Proxy(clients.apps, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'patchNamespacedDeploymentScale' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const fault = armed.current;
        if (!fault || fault.fired > 0 || intentKind() !== fault.kind) return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        fault.fired += 1;
        if (fault.effect.after) await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if ('timeout' in fault.effect) throw Object.assign(new Error('no answer from the API server within 10000 ms'), { name: 'TimeoutError' });
        const { code, reason } = fault.effect;
        throw new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', status: 'Failure', reason, code, message: `${reason} (injected)` }), {});
      };
    },
  });
  return { clients: async () => ({ ...clients, apps }) };
};

describe('the worker protocol under Kubernetes faults, on a real kube-apiserver', () => {
  let kube: KubeApiServer | undefined;
  let admin: { apps: AppsV1Api; autoscaling: AutoscalingV2Api };
  let clients: KubeClients;

  beforeAll(async () => {
    kube = await startKubeApiServer();
    const kc = kube.kubeConfig(kube.adminToken);
    const core = kc.makeApiClient(CoreV1Api);
    admin = { apps: kc.makeApiClient(AppsV1Api), autoscaling: kc.makeApiClient(AutoscalingV2Api) };
    clients = kubeClients(kc);
    for (const namespace of new Set(workloads.map((t) => t.namespace))) await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (const t of workloads) {
      await admin.apps.createNamespacedDeployment({
        namespace: t.namespace,
        body: {
          metadata: { name: t.name, namespace: t.namespace },
          spec: { replicas: t.min, selector: { matchLabels: { app: t.name } }, template: { metadata: { labels: { app: t.name } }, spec: { containers: [{ name: t.name, image: 'registry.invalid/x:1' }] } } },
        },
      });
      if (t.kind === 'hpa') {
        await admin.autoscaling.createNamespacedHorizontalPodAutoscaler({
          namespace: t.namespace,
          body: { metadata: { name: t.name, namespace: t.namespace }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: t.name }, minReplicas: t.min, maxReplicas: t.max } },
        });
      }
    }
  });

  afterAll(async () => {
    await kube?.stop();
  });

  /** Every workload back at its min, as created. */
  const reset = async (): Promise<void> => {
    for (const t of workloads) {
      if (t.kind === 'hpa') {
        await admin.autoscaling.patchNamespacedHorizontalPodAutoscaler({ name: t.name, namespace: t.namespace, body: { spec: { minReplicas: t.min, maxReplicas: t.max } } }, mergePatch);
      } else {
        await admin.apps.patchNamespacedDeploymentScale({ name: t.name, namespace: t.namespace, body: { spec: { replicas: t.min } } }, mergePatch);
      }
    }
  };

  /** Runs a kind's scenario with the fault (if any) armed for its intents; returns the ledger's counts. */
  const run = async (kind: Kind, effect?: Effect) => {
    await reset();
    const clock = new ManualClock('2026-11-23T10:00:00-05:00');
    // The queue's own clock moves a visibility timeout per round: a failed record comes back at
    // once, as the emulator pump makes it, while the decisions' clock stands still.
    const queueClock = new ManualClock('2026-11-23T10:00:00-05:00');
    const queue = new MemoryFifoQueue(queueClock, { groupOf: fifoGroupOf(policy) });
    const intents = new Map<string, Intent>();
    const sending = queue.send.bind(queue);
    queue.send = async (sent) => {
      for (const i of sent) intents.set(i.id, i);
      await sending(sent);
    };
    const store = new MemoryStateStore();
    const armed: { current?: Armed } = effect ? { current: { kind, effect, fired: 0 } } : {};
    let current: Intent | undefined;
    const real = new KubernetesWorkloads(policy, faultyAccess(clients, armed, () => current?.source));
    const calls: { target: string; intent: string; from: number; to: number }[] = [];
    const kubernetes = {
      current: (t: WorkloadTarget) => real.current(t),
      scaleTo: async (t: WorkloadTarget, desired: number, token: string, options?: { pin?: boolean }) => {
        const from = await real.current(t);
        await real.scaleTo(t, desired, token, options);
        calls.push({ target: t.id, intent: token, from, to: desired });
      },
    };
    const audits: Decision[] = [];
    /** Actions recorded as pending before their call: decisions that scaled, reported or not. */
    const recorded = new Set<string>();
    const decisions: Decision[] = [];
    const deps = {
      store: {
        getMany: (ids: readonly string[]) => {
          current = [...intents.values()].find((i) => i.target === ids[0] && !decisions.some((d) => d.intentId === i.id)) ?? current;
          return store.getMany(ids);
        },
        list: () => store.list(),
        put: (s: Parameters<MemoryStateStore['put']>[0]) => {
          if (s.pending) recorded.add(`${s.target} ${s.pending.audit.intent}`);
          return store.put(s);
        },
      },
      queue,
      nodeGroups: new SimulatedCluster(policy, clock),
      workloads: kubernetes,
      events: { publish: async (ds: readonly Decision[]) => void audits.push(...ds) },
      clock,
    };
    const worker = scalingWorker(policy, deps, { decided: (d) => decisions.push(d), failed: () => undefined, backoffFailed: () => undefined }, queue);
    const drain = async () => {
      for (let round = 0; round < 10; round += 1) {
        await queue.drain(worker);
        if (queue.snapshot().messages.length === 0) break;
        queueClock.advance(VISIBILITY_TIMEOUT_SECONDS);
      }
    };

    if (kind === 'alert') await receiveAlerts(policy, webhookPayload([{ alertname: 'AppHighCPU', labels: { service: 'app' }, fingerprint: 'cpu1' }]), { queue, clock });
    if (kind === 'tick') await tick(policy, { store, queue, clock });
    if (kind === 'coupling') await receiveAlerts(policy, webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llm1' }]), { queue, clock });
    if (kind === 'emergency') {
      const request = parseEmergencyRequest({ action: 'set', target: 'api', replicas: 10, reason: 'INC-12', actor: 'oncall', idempotencyKey: 'inc-12' });
      await emergency(policy, request, { queue, store, clock, sleep: drain, timeoutMs: 10_000, pollMs: 0 });
    }
    await drain();

    const changing = calls.filter((c) => c.from !== c.to);
    const scaled = new Set([...recorded, ...decisions.filter((d) => d.verdict === 'scale').map((d) => `${d.target} ${d.intentId}`)]);
    const doubles = [...new Set(changing.map((c) => c.target))].reduce((n, target) => {
      const mine = changing.filter((c) => c.target === target).length;
      return n + Math.max(0, mine - [...scaled].filter((k) => k.startsWith(`${target} `)).length);
    }, 0);
    const sizes = Object.fromEntries(await Promise.all(workloads.map(async (t) => [t.id, await real.current(t)] as const)));
    return {
      injected: armed.current?.fired ?? 0,
      lost: [...intents.values()].filter((i) => !decisions.some((d) => d.intentId === i.id)).length + queue.snapshot().deadLetters.length,
      doubles,
      unaudited: changing.filter((c) => !audits.some((a) => a.verdict === 'scale' && a.target === c.target && a.intentId === c.intent && a.to === c.to)).length,
      sizes,
    };
  };

  const effects: { fault: string; effect: Effect }[] = [
    { fault: 'Kubernetes 409', effect: { code: 409, reason: 'Conflict' } },
    { fault: 'Kubernetes 429', effect: { code: 429, reason: 'TooManyRequests' } },
    { fault: 'Kubernetes timeout, not acted', effect: { timeout: true, after: false } },
    { fault: 'Kubernetes timeout, acted', effect: { timeout: true, after: true } },
  ];
  const kinds: Kind[] = ['alert', 'tick', 'emergency', 'coupling'];
  const baselines = new Map<Kind, Awaited<ReturnType<typeof run>>>();

  it.each(kinds)('scales on %s intents without faults (the baseline)', async (kind) => {
    // Act
    const outcome = await run(kind);
    baselines.set(kind, outcome);

    // Assess
    expect({ lost: outcome.lost, doubles: outcome.doubles, unaudited: outcome.unaudited }).toEqual({ lost: 0, doubles: 0, unaudited: 0 });
  });

  it.each(effects.flatMap((e) => kinds.map((kind) => ({ ...e, kind }))))('$kind intents, $fault: nothing lost, nothing doubled, every action audited', async ({ kind, effect }) => {
    // Act
    const outcome = await run(kind, effect);

    // Assess
    expect(outcome.injected).toBe(1);
    expect({ lost: outcome.lost, doubles: outcome.doubles, unaudited: outcome.unaudited }).toEqual({ lost: 0, doubles: 0, unaudited: 0 });
    expect(outcome.sizes).toEqual(baselines.get(kind)?.sizes);
  });
});
