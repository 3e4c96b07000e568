import '../support/awsClients.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { VISIBILITY_TIMEOUT_SECONDS } from '../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { SimulatedCluster } from '../../shared/adapters/local/simulatedCluster.ts';
import type { Intent } from '../../shared/domain/intent.ts';
import { RetryableScalingError } from '../../shared/errors.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import type { StateStore } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';
import { alert, alertIntent, emergencyIntent } from '../support/intents.ts';
import { lambdaContext, sqsEvent } from '../support/lambda.ts';
import { importWorker } from '../support/handlerModules.ts';

type WorkerModule = Awaited<ReturnType<typeof importWorker>>;

const policy = loadPolicyFile('policy.yaml');
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
  /** Once the visibility timeout passed: the returned messages again. */
  again(): Promise<Round>;
}

const appliedIn = async (store: StateStore, messages: readonly Intent[]): Promise<string[]> => {
  const states = await store.getMany([...new Set(messages.map((m) => m.target))]);
  return messages.filter((m) => states.get(m.target)?.recentIntents.includes(m.id)).map((m) => m.id);
};

/** The worker Lambda, fed SQS batches as the event source mapping would, the returned records redelivered. */
const lambdaHost = (): Host => {
  const clock = new ManualClock(OFF_PEAK);
  const { store, failNextRead } = faultyStore();
  const cluster = new SimulatedCluster(policy, clock);
  const handler = worker.buildHandler(policy, { store, queue: { send: async () => undefined }, nodeGroups: cluster, workloads: cluster, events: { publish: async () => undefined }, clock });
  let sent: Intent[] = [];
  let pending: { intent: Intent; receives: number }[] = [];
  const deliver = async (): Promise<Round> => {
    const event = sqsEvent(pending.map(({ intent, receives }) => ({ messageId: intent.id, body: JSON.stringify(intent), group: intent.target, receives })));
    const { batchItemFailures } = await handler(event, lambdaContext('scaling-worker'));
    const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
    pending = pending.filter((p) => failed.has(p.intent.id)).map((p) => ({ ...p, receives: p.receives + 1 }));
    return { applied: await appliedIn(store, sent), returned: pending.map((p) => p.intent.id) };
  };
  return {
    first: async (messages, faults) => {
      for (const [target, error] of Object.entries(faults)) failNextRead(target, error);
      sent = [...messages];
      pending = messages.map((intent) => ({ intent, receives: 1 }));
      return deliver();
    },
    again: async () => {
      clock.advance(VISIBILITY_TIMEOUT_SECONDS);
      return deliver();
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
      clock.advance(VISIBILITY_TIMEOUT_SECONDS);
      return round();
    },
  };
};

// ---------------------------------------------------------------------------------------------
// Scenarios: one batch, then its redelivery once the visibility timeout passed.

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
    case: 'a message that is not an intent: its group waits behind it, the other groups go on',
    messages: [appStray, appCpu, apiDouble],
    faults: {},
    first: { applied: ['api-double'], returned: ['app-stray', 'app-cpu'] },
    again: { applied: ['api-double'], returned: ['app-stray', 'app-cpu'] },
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

describe('The Lambda worker near its timeout', () => {
  it('starts no record with under 20 s of its time left: each goes back to the queue untouched', async () => {
    // Prepare: two intents, and 15 s left of the function's time
    const clock = new ManualClock(OFF_PEAK);
    const store = new MemoryStateStore();
    const cluster = new SimulatedCluster(policy, clock);
    const handler = worker.buildHandler(policy, { store, queue: { send: async () => undefined }, nodeGroups: cluster, workloads: cluster, events: { publish: async () => undefined }, clock });
    const intents = [emergencyIntent('api', { action: 'set', replicas: 5 }, clock.now()), emergencyIntent('app', { action: 'set', replicas: 4 }, clock.now())];
    const event = sqsEvent(intents.map((intent, i) => ({ messageId: `m${i}`, group: intent.target, body: JSON.stringify(intent), receives: 1 })));

    // Act
    const result = await handler(event, { ...lambdaContext('scaling-worker'), getRemainingTimeInMillis: () => 15_000 });

    // Assess: both returned, nothing decided, nothing scaled
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm0' }, { itemIdentifier: 'm1' }] });
    expect(store.writes).toBe(0);
    expect(cluster.scaleCalls).toBe(0);
  });
});
