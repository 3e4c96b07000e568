import { ResourceInUseException, ThrottlingException as EksThrottlingException } from '@aws-sdk/client-eks';
import { ThrottlingException as SsmThrottlingException } from '@aws-sdk/client-ssm';
import { ApiException } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { scalingErrorOf } from '../../shared/adapters/k8s/kubernetesErrors.ts';
import type { Intent } from '../../shared/domain/intent.ts';
import { webhookPayload } from '../support/payloads.ts';
import { type Call, type Fault, faultWorld, type FaultWorld, type Outcome } from './support/faults.ts';

// The worker protocol under faults: each fault point of the table meets each kind of intent on
// a fresh deployment on the emulator; the queue is pumped until it is empty, then the ledger
// counts what reached the emulator. Faults fire once, in the worker, on the first matching call
// made for an intent of the row's kind.

// ---------------------------------------------------------------------------------------------
// Intent kinds: each scenario makes intents of its kind for a node group and for a workload.

type Kind = Intent['source'];

interface Scenario {
  start: string;
  /** The GPU pool's node group when the deployment is made. */
  pool?: { min: number; max: number; desired: number };
  /** What happened before, without faults. */
  setup?: (w: FaultWorld) => Promise<void>;
  act: (w: FaultWorld) => Promise<void>;
}

const scenarios: Record<Kind, Scenario> = {
  /** One notification: pods pending on the GPU pool (node group) and app's CPU (Deployment). */
  alert: {
    start: '2026-11-23T10:00:00-05:00',
    act: async (w) => {
      const payload = webhookPayload([
        { alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers' }, fingerprint: 'gpu1' },
        { alertname: 'AppHighCPU', labels: { service: 'app' }, fingerprint: 'cpu1' },
      ]);
      expect((await w.post(JSON.stringify(payload))).statusCode).toBe(200);
      await w.pump();
    },
  },
  /**
   * Ticks: at 03:01 the GPU pool, idle for an hour, shrinks 3 -> 1 (node group); at 10:00 the
   * peak window raises app to 5 (Deployment).
   */
  tick: {
    start: '2026-11-24T02:00:00-05:00',
    pool: { min: 1, max: 20, desired: 3 },
    setup: async (w) => {
      await w.tick();
      await w.pump();
      w.clock.advance(61 * 60);
    },
    act: async (w) => {
      await w.tick();
      await w.pump();
      w.clock.advance(7 * 3600);
      await w.tick();
      await w.pump();
    },
  },
  /** The runbook's emergencies: a node group and a Deployment set by hand, each with its key. */
  emergency: {
    start: '2026-11-23T10:00:00-05:00',
    act: async (w) => {
      for (const [target, replicas] of [['gpu-pool', 3], ['api', 10]] as const) {
        const request = { action: 'set', target, replicas, reason: 'INC-12', actor: 'oncall', idempotencyKey: `inc-12-${target}` };
        const answer = await w.emergency(request).catch((error: unknown) => ({ ok: false, error }));
        // An emergency that did not see its outcome is retried by the operator, with the same key.
        if (!answer.ok) await w.emergency(request);
      }
      await w.pump();
    },
  },
  /** worker-llm's queue builds up at peak: its pods wait for the pool, which a coupling intent grows. */
  coupling: {
    start: '2026-11-23T10:00:00-05:00',
    act: async (w) => {
      const payload = webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llm1' }]);
      expect((await w.post(JSON.stringify(payload))).statusCode).toBe(200);
      await w.pump();
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Fault points

const is = (service: Call['service'], command: string) => (call: Call) => call.service === service && call.command === command;
const writesPending = (call: Call) => typeof call.input['Value'] === 'string' && (call.input['Value'] as string).includes('"pending"');
const targetOf = (call: Call) => (typeof call.input['Value'] === 'string' ? (JSON.parse(call.input['Value'] as string) as { target: string }).target : '');

/** The state write that finishes an action: the next write for a target after its pending one. */
const finishingWrite = (): ((call: Call) => boolean) => {
  const pendingFor = new Set<string>();
  return (call) => {
    if (!is('ssm', 'PutParameterCommand')(call)) return false;
    if (writesPending(call)) {
      pendingFor.add(targetOf(call));
      return false;
    }
    return pendingFor.has(targetOf(call));
  };
};

/** A record's read of its target's live size: DescribeNodegroup, or the workload's scale. */
const liveSizeRead = (call: Call) => is('eks', 'DescribeNodegroupCommand')(call) || is('k8s', 'get')(call);

/** The n-th call that matches (a batch's later record, say). */
const nth = (n: number, on: (call: Call) => boolean): ((call: Call) => boolean) => {
  let seen = 0;
  return (call) => on(call) && ++seen === n;
};

const crash = () => Object.assign(new Error('the function was stopped'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } });
const kube = (code: number, reason: string) => (call: Call) =>
  scalingErrorOf(new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', status: 'Failure', reason, code, message: `${reason} (injected)` }), {}), {
    target: String(call.input['target']), verb: 'patch', resource: 'deployments/scale', kind: 'Deployment', namespace: 'ml', name: String(call.input['target']),
  });
const kubeTimeout = (call: Call) =>
  scalingErrorOf(Object.assign(new Error('no answer from the API server within 10000 ms'), { name: 'TimeoutError' }), {
    target: String(call.input['target']), verb: 'patch', resource: 'deployments/scale', kind: 'Deployment', namespace: 'ml', name: String(call.input['target']),
  });

const ssmThrottled = () => new SsmThrottlingException({ Message: 'Rate exceeded', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });

interface Point {
  point: string;
  fault: () => Fault;
  /** Pass the worker a context with this little time left. */
  remainingMs?: number;
}

const points: Point[] = [
  { point: 'pending write fails', fault: () => ({ on: (c) => is('ssm', 'PutParameterCommand')(c) && writesPending(c), effect: { kind: 'throw', error: crash } }) },
  { point: 'finishing write fails', fault: () => ({ on: finishingWrite(), effect: { kind: 'throw', error: crash } }) },
  { point: 'PutEvents fails', fault: () => ({ on: is('events', 'PutEventsCommand'), effect: { kind: 'throw', error: crash } }) },
  { point: 'killed before publishing', fault: () => ({ on: is('events', 'PutEventsCommand'), effect: { kind: 'kill' } }) },
  { point: 'killed in the EKS call', fault: () => ({ on: is('eks', 'UpdateNodegroupConfigCommand'), effect: { kind: 'kill', after: true } }) },
  { point: 'killed in the Kubernetes call', fault: () => ({ on: is('k8s', 'patch'), effect: { kind: 'kill', after: true } }) },
  { point: 'killed before finishing write', fault: () => ({ on: finishingWrite(), effect: { kind: 'kill' } }) },
  {
    // Just above the worker's floor (it starts no record with under 20 s left, so at 1 s it
    // would start none): the batch's first record starts, and Lambda stops it in the second, at
    // the live size every record reads once (its group's state it may have read already).
    point: 'killed at 2nd record, 21 s left',
    remainingMs: 21_000,
    fault: () => ({ on: nth(2, liveSizeRead), effect: { kind: 'kill' } }),
  },
  { point: 'SSM throttled: GetParameters', fault: () => ({ on: is('ssm', 'GetParametersCommand'), effect: { kind: 'throw', error: () => ssmThrottled() } }) },
  {
    point: 'SSM throttled: PutParameter',
    fault: () => ({ on: (c) => is('ssm', 'PutParameterCommand')(c) && writesPending(c), effect: { kind: 'throw', error: () => ssmThrottled() } }),
  },
  {
    point: 'EKS ResourceInUseException',
    fault: () => ({ on: is('eks', 'UpdateNodegroupConfigCommand'), effect: { kind: 'throw', error: () => new ResourceInUseException({ message: 'Nodegroup is currently being updated', $metadata: { httpStatusCode: 409 } }) } }),
  },
  {
    point: 'EKS ThrottlingException',
    fault: () => ({ on: is('eks', 'UpdateNodegroupConfigCommand'), effect: { kind: 'throw', error: () => new EksThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }) } }),
  },
  { point: 'Kubernetes 409', fault: () => ({ on: is('k8s', 'patch'), effect: { kind: 'throw', error: kube(409, 'Conflict') } }) },
  { point: 'Kubernetes 429', fault: () => ({ on: is('k8s', 'patch'), effect: { kind: 'throw', error: kube(429, 'TooManyRequests') } }) },
  { point: 'Kubernetes timeout, not acted', fault: () => ({ on: is('k8s', 'patch'), effect: { kind: 'throw', error: kubeTimeout } }) },
  { point: 'Kubernetes timeout, acted', fault: () => ({ on: is('k8s', 'patch'), effect: { kind: 'throw', error: kubeTimeout, after: true } }) },
];

const kinds: Kind[] = ['alert', 'tick', 'emergency', 'coupling'];

/** Runs a kind's scenario on a fresh deployment, with `point`'s fault armed for that kind's intents. */
const run = async (kind: Kind, point?: Point): Promise<Outcome> => {
  const scenario = scenarios[kind];
  const w = await faultWorld(scenario.start, scenario.pool);
  try {
    await scenario.setup?.(w);
    w.forget();
    if (point) {
      if (point.remainingMs) w.timeLeft(point.remainingMs);
      const fault = point.fault();
      w.inject({ ...fault, on: (call) => call.intent?.source === kind && fault.on(call) });
    }
    await scenario.act(w);
    // Level-triggered: the next reconcile tick delivers an intent to every target, which
    // publishes what a failed PutEvents left in an outbox.
    const every = w.policy.defaults.reconcileEvery;
    w.clock.advance(every - ((w.clock.now().getTime() / 1000) % every));
    await w.tick();
    await w.pump();
    return await w.outcome();
  } finally {
    w.release();
  }
};

const baselines = new Map<Kind, Promise<Outcome>>();
const baseline = (kind: Kind): Promise<Outcome> => {
  if (!baselines.has(kind)) baselines.set(kind, run(kind));
  return baselines.get(kind) as Promise<Outcome>;
};

const totals = { injected: 0, lost: 0, doubles: 0, unaudited: 0 };

describe('the worker protocol under faults, on the emulator', () => {
  afterAll(() => {
    // The suite's one line, over every case of the table.
    console.log(`faults injected: ${totals.injected}, intents lost: ${totals.lost}, double actions: ${totals.doubles}, actions without an audit event: ${totals.unaudited}`);
    expect({ lost: totals.lost, doubles: totals.doubles, unaudited: totals.unaudited }).toEqual({ lost: 0, doubles: 0, unaudited: 0 });
  });

  it.each(kinds)('acts on %s intents without faults (the baseline each fault is held to)', async (kind) => {
    // Act
    const outcome = await baseline(kind);

    // Assess: the scenario scaled something, and the ledger finds nothing wrong without faults
    expect(outcome.detail.calls.filter((c) => c.from !== c.to).length).toBeGreaterThan(0);
    expect({ lost: outcome.detail.lost, doubles: outcome.detail.doubles, unaudited: outcome.detail.unaudited, stuck: outcome.stuck }).toEqual({ lost: [], doubles: [], unaudited: [], stuck: 0 });
  });

  const table = points.flatMap((point) => kinds.map((kind) => ({ ...point, kind })));
  it.each(table)('$kind intents, $point: nothing lost, nothing doubled, every action audited', async ({ kind, ...point }) => {
    // Act
    const expected = await baseline(kind);
    const outcome = await run(kind, point);
    totals.injected += outcome.injected;
    totals.lost += outcome.lost;
    totals.doubles += outcome.doubles;
    totals.unaudited += outcome.unaudited;

    // Assess: the fault fired, and the deployment ends where it ends without it
    expect(outcome.injected).toBeGreaterThan(0);
    expect({ lost: outcome.detail.lost, doubles: outcome.detail.doubles, unaudited: outcome.detail.unaudited, stuck: outcome.stuck }).toEqual({ lost: [], doubles: [], unaudited: [], stuck: 0 });
    expect(outcome.sizes).toEqual(expected.sizes);
  });
});
