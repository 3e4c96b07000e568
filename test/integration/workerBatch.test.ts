import { type Message, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { EksNodeGroupScaler } from '../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../../shared/adapters/aws/eventBridgeSink.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SqsRetryBackoff } from '../../shared/adapters/aws/sqsRetryBackoff.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { fifoGroupOf } from '../../shared/app/gpuView.ts';
import { scalingWorker } from '../../shared/hosts/scalingWorker.ts';
import type { StateStore } from '../../shared/ports.ts';
import { lambdaContext, sqsEventOfReceived } from '../support/lambda.ts';
import { webhookPayload } from '../support/payloads.ts';
import { deploy } from './support/deployment.ts';
import { quietLogs } from './support/quietLogs.ts';

type World = Awaited<ReturnType<typeof deploy>>;

const received = async (world: World): Promise<Message[]> =>
  (await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];

// One worker batch holding several records of a FIFO group, on the emulator: what it reads, and
// that it decides as batches of one record would, also while a policy change has an intent of
// the group's target queued under its former group.
describe('a worker batch on the emulator', () => {
  quietLogs();

  it('reads a pool group\'s state once for the records of one batch but for each record\'s own, and decides them as batches of one would', async () => {
    // Prepare: a pool and two of its workloads alert at once; their three intents share the pool's group
    const notification = JSON.stringify(
      webhookPayload([
        { alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers' }, fingerprint: 'gpu1' },
        { alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llm1' },
        { alertname: 'RLTrainingQueueHigh', labels: { service: 'worker-rl' }, fingerprint: 'rl1' },
      ]),
    );
    const notified = async (world: World) => {
      await world.post(notification);
      const messages = await received(world);
      expect(messages.map((m) => m.Attributes?.MessageGroupId)).toEqual(['gpu-pool', 'gpu-pool', 'gpu-pool']);
      return messages;
    };
    const together = await deploy('2026-11-23T10:00:00-05:00');
    const apart = await deploy('2026-11-23T10:00:00-05:00');
    const batch = await notified(together);
    const oneByOne = await notified(apart);

    const reads: string[][] = [];
    together.clients.ssm.middlewareStack.add(
      (next) => async (args) => {
        const names = (args.input as { Names?: string[] }).Names;
        if (names) reads.push(names.map((n) => n.slice(`${together.prefix}/targets/`.length)));
        return next(args);
      },
      { step: 'initialize', name: 'recordReads' },
    );

    // Act
    const response = await together.worker(sqsEventOfReceived(batch), lambdaContext('scaling-worker'));
    for (const message of oneByOne) await apart.worker(sqsEventOfReceived([message]), lambdaContext('scaling-worker'));

    // Assess: the group's four documents read once; each later record reads only its own again
    // (the one it writes), where each record read all four
    expect(response.batchItemFailures).toEqual([]);
    expect(reads).toEqual([['gpu-pool', 'worker-llm', 'worker-rl', 'training-workers'], ['worker-llm'], ['worker-rl']]);
    // ...and every record saw what the one before it wrote: the same documents as one record per batch
    for (const id of ['gpu-pool', 'worker-llm', 'worker-rl']) {
      const [a, b] = [await together.state(id), await apart.state(id)];
      expect(a.generation, id).toBeGreaterThan(0);
      expect(a, id).toEqual(b);
    }
  });


  // Red team 12: a policy change put worker-llm into gpu-pool's group while an operator's pause
  // of it was still queued under its former group, worker-llm. Lambda runs the two groups'
  // batches at once. Was: the gpu-pool batch decided worker-llm's alert on the copy of its
  // document that the batch's first record had read, and wrote over the pause.
  it('an operator pause decided at the same time under the target\'s former group is kept by the batch of its new group', async () => {
    // Prepare: alerts of worker-rl, then of worker-llm, in gpu-pool's group; the pause under worker-llm's
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const { clients, policy, clock } = world;
    await world.post(JSON.stringify(webhookPayload([{ alertname: 'RLTrainingQueueHigh', labels: { service: 'worker-rl' }, fingerprint: 'rl1' }])));
    await world.post(JSON.stringify(webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llm1' }])));
    const a = await received(world);
    expect(a.map((m) => [m.Attributes?.MessageGroupId, JSON.parse(m.Body ?? '{}').target])).toEqual([['gpu-pool', 'worker-rl'], ['gpu-pool', 'worker-llm']]);
    const pause = { id: 'em-pause-llm', target: 'worker-llm', createdAt: clock.now().toISOString(), source: 'emergency', alerts: [], command: { action: 'pause', ttl: 3600 }, reason: 'INC-7 bad model rollout', actor: 'jane' };
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: world.queueUrl, MessageBody: JSON.stringify(pause), MessageGroupId: 'worker-llm', MessageDeduplicationId: pause.id }));
    const b = await received(world);
    expect(b.map((m) => m.Attributes?.MessageGroupId)).toEqual(['worker-llm']);
    const ssm = new SsmStateStore(clients.ssm, world.prefix);
    const report = { decided: () => undefined, failed: () => undefined, backoffFailed: () => undefined };
    const deps = (store: StateStore) => ({
      store, queue: new SqsIntentQueue(clients.sqs, world.queueUrl, fifoGroupOf(policy)), nodeGroups: new EksNodeGroupScaler(clients.eks),
      workloads: world.workloads, events: new EventBridgeSink(clients.events, 'default'), clock,
    });
    const backoff = new SqsRetryBackoff(clients.sqs, world.queueUrl, world.dlqUrl);
    const former = scalingWorker(policy, deps(ssm), report, backoff);
    // The former group's batch runs once the new group's first record has written
    let paused = false;
    const racing: StateStore = {
      getMany: (ids) => ssm.getMany(ids),
      list: () => ssm.list(),
      put: async (state) => {
        await ssm.put(state);
        if (paused) return;
        paused = true;
        expect((await former(sqsEventOfReceived(b), lambdaContext('scaling-worker'))).batchItemFailures).toEqual([]);
      },
    };

    // Act
    const answer = await scalingWorker(policy, deps(racing), report, backoff)(sqsEventOfReceived(a), lambdaContext('scaling-worker'));

    // Assess: the alert was held by the pause, which the state keeps with its answer
    expect(answer.batchItemFailures).toEqual([]);
    const llm = await world.state('worker-llm');
    expect(llm.pause?.reason).toBe('INC-7 bad model rollout');
    expect(llm.emergencies?.map((e) => e.intent)).toContain('em-pause-llm');
    expect(llm.history.at(-1)).toMatchObject({ code: 'Paused' });
    expect(world.workloads.snapshot()['worker-llm']?.desired).toBe(2);
  });
});
