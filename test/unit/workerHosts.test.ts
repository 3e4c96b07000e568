import '../support/awsClients.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryFifoQueue } from '../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { SimulatedCluster } from '../../shared/adapters/local/simulatedCluster.ts';
import type { Intent } from '../../shared/domain/intent.ts';
import { RetryableScalingError } from '../../shared/errors.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import type { RetryBackoff, RetryEntry, StateStore } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';
import { alert, alertIntent, emergencyIntent } from '../support/intents.ts';
import { lambdaContext, sqsEvent } from '../support/lambda.ts';
import { importWorker } from '../support/handlerModules.ts';
import { retryDelaySeconds } from '../../shared/hosts/scalingWorker.ts';

type WorkerModule = Awaited<ReturnType<typeof importWorker>>;

const policy = loadPolicyFile('policy.yaml');
/** The longest a record waits after its first failed delivery (the worker's backoff, jitter included). */
const FIRST_RETRY_SECONDS = 30;
// Tuesday 03:00 in New York: off-peak, every target at its minimum.
const OFF_PEAK = '2026-11-24T03:00:00-05:00';

let worker: WorkerModule;

beforeAll(async () => {
  worker = await importWorker();
});

/** A state store whose next read of a target fails with the error it is given. */
const faultyStore = () => {
  const inner = new MemoryStateStore();
  const faults = new Map<string, Error>();
  const store: StateStore = {
    getMany: async (ids) => {
      for (const id of ids) {
        const fault = faults.get(id);
        faults.delete(id);
        if (fault) throw fault;
      }
      return inner.getMany(ids);
    },
    list: () => inner.list(),
    put: (state) => inner.put(state),
  };
  return { store, failNextRead: (target: string, error: Error) => faults.set(target, error) };
};

// ---------------------------------------------------------------------------------------------
// The two hosts of the worker: the Lambda handler on SQS batches, and the local runtime's queue.

interface Round {
  /** Intent ids the worker decided (they are in their target's state). */
  applied: string[];
  /** Intent ids back in the queue for a later delivery. */
  returned: string[];
}

interface Host {
  /** The first delivery of every message; `fault` makes the next state read of a target fail. */
  first(messages: readonly Intent[], faults: Record<string, Error>): Promise<Round>;
  /** Once the first retry's backoff passed (not the 6-minute visibility timeout): the returned messages again. */
  again(): Promise<Round>;
}

const appliedIn = async (store: StateStore, messages: readonly Intent[]): Promise<string[]> => {
  const states = await store.getMany([...new Set(messages.map((m) => m.target))]);
  return messages.filter((m) => states.get(m.target)?.recentIntents.includes(m.id)).map((m) => m.id);
};

/**
 * The worker Lambda, fed SQS batches as the event source mapping would: the same in-memory FIFO
 * queue as the local runtime's, the records it returns hidden for the backoff it sets.
 */
const lambdaHost = (): Host => {
  const clock = new ManualClock(OFF_PEAK);
  const { store, failNextRead } = faultyStore();
  const cluster = new SimulatedCluster(policy, clock);
  const queue = new MemoryFifoQueue(clock);
  const handler = worker.buildHandler(policy, { store, queue, nodeGroups: cluster, workloads: cluster, events: { publish: async () => undefined }, clock }, queue);
  let sent: Intent[] = [];
  const round = async (): Promise<Round> => {
    await queue.drain((event) => handler(event, lambdaContext('scaling-worker')));
    return { applied: await appliedIn(store, sent), returned: queue.snapshot().messages.map((m) => m.intent) };
  };
  return {
    first: async (messages, faults) => {
      for (const [target, error] of Object.entries(faults)) failNextRead(target, error);
      sent = [...messages];
      await queue.send(messages);
      return round();
    },
    again: async () => {
      clock.advance(FIRST_RETRY_SECONDS);
      return round();
    },
  };
};

/** The local runtime (`npm start`): its in-memory FIFO queue drained by its worker. */
const localHost = (): Host => {
  const clock = new ManualClock(OFF_PEAK);
  const { store, failNextRead } = faultyStore();
  const autoscaler = new LocalAutoscaler({ policy, clock, store, print: () => undefined });
  let sent: Intent[] = [];
  const round = async (): Promise<Round> => {
    await autoscaler.drain();
    return { applied: await appliedIn(store, sent), returned: autoscaler.queue.snapshot().messages.map((m) => m.intent) };
  };
  return {
    first: async (messages, faults) => {
      for (const [target, error] of Object.entries(faults)) failNextRead(target, error);
      sent = [...messages];
      await autoscaler.queue.send(messages);
      return round();
    },
    again: async () => {
      clock.advance(FIRST_RETRY_SECONDS);
      return round();
    },
  };
};

// ---------------------------------------------------------------------------------------------
// Scenarios: one batch, then its redelivery once the first retry's backoff passed.

const at = new Date(OFF_PEAK);
const appCpu = alertIntent('app', [alert('AppHighCPU', ['app-high-cpu'])], at, 'app-cpu');
const appLatency = alertIntent('app', [alert('AppHighLatency', ['app-high-latency'])], at, 'app-latency');
const apiDouble = { ...emergencyIntent('api', { action: 'double' }, at), id: 'api-double' };
const hsofSet = { ...emergencyIntent('hsof', { action: 'set', replicas: 4 }, at), id: 'hsof-set' };
// Typed as an intent, but no timestamp the schema accepts: what a stray or corrupted message looks like.
const appStray: Intent = { ...alertIntent('app', [alert('AppHighCPU', ['app-high-cpu'])], at, 'app-stray'), createdAt: 'yesterday' };

interface Scenario {
  case: string;
  messages: Intent[];
  faults: Record<string, Error>;
  first: Round;
  again: Round;
}

const scenarios: Scenario[] = [
  {
    case: 'a permanent failure on app, an emergency on api: api applied, the app message behind the failure skipped and retried',
    messages: [appCpu, appLatency, apiDouble],
    faults: { app: new Error('AccessDeniedException: not authorized to perform ssm:GetParameters') },
    first: { applied: ['api-double'], returned: ['app-cpu', 'app-latency'] },
    again: { applied: ['app-cpu', 'app-latency', 'api-double'], returned: [] },
  },
  {
    case: 'a retryable failure on api: its group waits for the retry, app and hsof go on',
    messages: [apiDouble, appCpu, hsofSet],
    faults: { api: new RetryableScalingError('ThrottlingException: Rate exceeded') },
    first: { applied: ['app-cpu', 'hsof-set'], returned: ['api-double'] },
    again: { applied: ['api-double', 'app-cpu', 'hsof-set'], returned: [] },
  },
  {
    case: 'a message that is not an intent: moved to the dead-letter queue alone, its group and the others go on',
    messages: [appStray, appCpu, apiDouble],
    faults: {},
    first: { applied: ['app-cpu', 'api-double'], returned: [] },
    again: { applied: ['app-cpu', 'api-double'], returned: [] },
  },
  {
    case: 'no failure: every message applied at once',
    messages: [appCpu, appLatency, apiDouble],
    faults: {},
    first: { applied: ['app-cpu', 'app-latency', 'api-double'], returned: [] },
    again: { applied: ['app-cpu', 'app-latency', 'api-double'], returned: [] },
  },
];

describe('Worker: the Lambda handler and the local runtime process records alike', () => {
  it.each(scenarios)('$case', async ({ messages, faults, first, again }) => {
    for (const host of [lambdaHost(), localHost()]) {
      // Act
      const firstRound = await host.first(messages, faults);
      const againRound = await host.again();

      // Assess
      expect({ first: firstRound, again: againRound }).toEqual({ first, again });
    }
  });
});

/** The Lambda worker on the simulated cluster at off-peak, with the given retry backoff. */
const lambdaWorker = (backoff: RetryBackoff, workerPolicy = policy) => {
  const clock = new ManualClock(OFF_PEAK);
  const store = new MemoryStateStore();
  const cluster = new SimulatedCluster(policy, clock);
  const handler = worker.buildHandler(workerPolicy, { store, queue: { send: async () => undefined }, nodeGroups: cluster, workloads: cluster, events: { publish: async () => undefined }, clock }, backoff);
  return { clock, store, cluster, handler };
};

/** One batch of the intents as first deliveries, `m0`, `m1`, ..., each in `groupOf` its intent's group. */
const firstDeliveries = (intents: readonly Intent[], groupOf: (intent: Intent) => string) =>
  sqsEvent(intents.map((intent, i) => ({ messageId: `m${i}`, group: groupOf(intent), body: JSON.stringify(intent), receives: 1 })));

describe('The Lambda worker near its timeout', () => {
  it('starts no record with under 20 s of its time left: each goes back to the queue untouched', async () => {
    // Prepare: two intents, and 15 s left of the function's time
    const retries: RetryEntry[] = [];
    const { clock, store, cluster, handler } = lambdaWorker({ retryAfter: async (entries) => void retries.push(...entries), deadLetter: () => Promise.reject(new Error('unused')) });
    const intents = [emergencyIntent('api', { action: 'set', replicas: 5 }, clock.now()), emergencyIntent('app', { action: 'set', replicas: 4 }, clock.now())];
    const event = firstDeliveries(intents, (intent) => intent.target);

    // Act
    const result = await handler(event, { ...lambdaContext('scaling-worker'), getRemainingTimeInMillis: () => 15_000 });

    // Assess: both returned for the next invocation at once, nothing decided, nothing scaled
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm0' }, { itemIdentifier: 'm1' }] });
    expect(retries.map((r) => r.seconds)).toEqual([0, 0]);
    expect(store.writes).toBe(0);
    expect(cluster.scaleCalls).toBe(0);
  });
});

describe('An intent for a target the policy no longer has', () => {
  // Found by red team 7: applyIntent threw a plain error, so the record came back on every
  // delivery with the intents behind it in its group (an emergency included), until all of
  // them were dead-lettered: removing a GPU workload from the policy stalled its pool.
  it('goes to the dead-letter queue alone; the intents behind it in its group are applied', async () => {
    // Prepare: worker-rl's tick intent, queued before the policy dropped it, ahead of an emergency on its pool
    const dead: string[] = [];
    const without = { ...policy, targets: policy.targets.filter((t) => t.id !== 'worker-rl') };
    const { clock, cluster, handler } = lambdaWorker({ retryAfter: () => Promise.reject(new Error('nothing returns')), deadLetter: async (record) => void dead.push(record.messageId) }, without);
    const intents = [{ ...emergencyIntent('worker-rl', { action: 'set', replicas: 2 }, clock.now()), id: 'gone' }, emergencyIntent('gpu-pool', { action: 'set', replicas: 3 }, clock.now())];
    const event = firstDeliveries(intents, () => 'gpu-pool');

    // Act
    const result = await handler(event, lambdaContext('scaling-worker'));

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(dead).toEqual(['m0']);
    expect(cluster.snapshot()['gpu-pool']?.desired).toBe(3);
  });
});

describe('The retry backoff of a returned record', () => {
  // receives: the deliveries so far; each delay is jittered between half the ceiling and the ceiling.
  it.each([
    { receives: 1, least: 15, most: 30 },
    { receives: 2, least: 30, most: 60 },
    { receives: 3, least: 60, most: 120 },
    { receives: 4, least: 120, most: 240 },
    { receives: 5, least: 180, most: 360 },
    { receives: 9, least: 180, most: 360 },
  ])('after $receives receive(s): $least-$most s, never past the queue\'s 360 s visibility timeout', ({ receives, least, most }) => {
    expect(retryDelaySeconds(receives, () => 0)).toBe(least);
    expect(retryDelaySeconds(receives, () => 1)).toBe(most);
  });

  it('a throttled target is retried after its backoff, and the records behind it in its group wait with it', async () => {
    // Prepare: two intents for api, the first throttled
    const clock = new ManualClock(OFF_PEAK);
    const { store, failNextRead } = faultyStore();
    const cluster = new SimulatedCluster(policy, clock);
    const queue = new MemoryFifoQueue(clock);
    const handler = worker.buildHandler(policy, { store, queue, nodeGroups: cluster, workloads: cluster, events: { publish: async () => undefined }, clock }, queue);
    const drain = () => queue.drain((event) => handler(event, lambdaContext('scaling-worker')));
    failNextRead('api', new RetryableScalingError('ThrottlingException: Rate exceeded'));
    await queue.send([apiDouble, { ...emergencyIntent('api', { action: 'set', replicas: 5 }, at), id: 'api-set' }]);

    // Act + Assess: both hidden for the backoff, then both applied in order
    await drain();
    expect(queue.snapshot().messages).toEqual([expect.objectContaining({ intent: 'api-double', inFlight: true }), expect.objectContaining({ intent: 'api-set', inFlight: true })]);
    clock.advance(FIRST_RETRY_SECONDS);
    await drain();
    expect(queue.snapshot().messages).toEqual([]);
    expect(await appliedIn(store, [apiDouble])).toEqual(['api-double']);
  });
});
