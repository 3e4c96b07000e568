import { DescribeNodegroupCommand, ResourceInUseException } from '@aws-sdk/client-eks';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyStructuredResultV2, SQSBatchResponse, SQSEvent, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { EksNodeGroupScaler } from '../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../../shared/adapters/aws/eventBridgeSink.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { ssmToken } from '../../shared/adapters/aws/webhookToken.ts';
import { SimulatedCluster } from '../../shared/adapters/local/simulatedCluster.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import type { StateStore } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';
import {
  createNodegroup,
  createQueues,
  emulatorClients,
  functionUrlEvent,
  lambdaContext,
  pumpQueue,
  putToken,
  uniqueName,
} from './support/aws.ts';

type Handlers = {
  webhook: typeof import('../../functions/alertmanager-webhook/handler.ts');
  worker: typeof import('../../functions/scaling-worker/handler.ts');
  tick: typeof import('../../functions/schedule-tick/handler.ts');
  emergency: typeof import('../../functions/emergency/handler.ts');
  status: typeof import('../../functions/status/handler.ts');
};
let modules: Handlers;

const TOKEN = 'test-token-0123456789';
const podsPending = (fingerprint = 'gpu1', startsAt = '2026-11-23T15:00:00.000Z') =>
  JSON.stringify(webhookPayload([{ alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers' }, fingerprint, startsAt }]));

/**
 * One isolated deployment of the service on the emulator: its own queue, node group, state
 * prefix and token, with the real handlers wired to real SDK clients and a manual clock.
 */
const deploy = async (start: string, nodegroupSize = { min: 1, max: 20, desired: 1 }) => {
  const clients = emulatorClients();
  const run = uniqueName('it');
  const prefix = `/gpu-autoscaler/${run}`;
  const tokenName = `${prefix}/webhook-token`;
  const cluster = `tensafe-${run}`;
  const { queueUrl, dlqUrl } = await createQueues(clients.sqs, run);
  await createNodegroup(clients.eks, cluster, 'gpu-workers', nodegroupSize);
  await putToken(clients.ssm, tokenName, TOKEN);
  const shipped = loadPolicyFile('policy.yaml');
  const policy: Policy = { ...shipped, targets: shipped.targets.map((t) => (t.kind === 'eks-nodegroup' ? { ...t, cluster } : t)) };
  const clock = new ManualClock(start);
  const ssmStore = new SsmStateStore(clients.ssm, prefix);
  let failNextPut = false;
  const store: StateStore = {
    get: (id) => ssmStore.get(id),
    getMany: (ids) => ssmStore.getMany(ids),
    list: () => ssmStore.list(),
    put: async (state) => {
      if (failNextPut) {
        failNextPut = false;
        throw new Error('the function was stopped before it wrote the state');
      }
      return ssmStore.put(state);
    },
  };
  const queue = new SqsIntentQueue(clients.sqs, queueUrl);
  const cluster_ = new SimulatedCluster(policy, clock);
  const workerDeps = { store, queue, nodeGroups: new EksNodeGroupScaler(clients.eks), workloads: cluster_, events: new EventBridgeSink(clients.events, 'default'), clock };
  const webhook = modules.webhook.buildHandler({ policy, queue, clock, token: ssmToken(tokenName) });
  const worker = modules.worker.buildHandler(policy, workerDeps) as unknown as (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
  const tick = modules.tick.buildHandler({ policy, store, queue, clock });
  const pump = () => pumpQueue(clients.sqs, queueUrl, worker);
  const emergency = modules.emergency.buildHandler(policy, {
    queue, store, clock, timeoutMs: 10_000, pollMs: 0,
    // The worker runs between the emergency function's looks at the state, as it would in AWS.
    sleep: async () => void (await pump()),
  });
  return {
    clients,
    policy,
    clock,
    dlqUrl,
    post: async (body: string | undefined, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
      (await webhook(functionUrlEvent(body, headers), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2,
    pump,
    tick: () => tick({}, lambdaContext('schedule-tick')),
    emergency: (request: unknown) => emergency(request, lambdaContext('emergency')) as Promise<{ ok: boolean; outcomes: { status: string; decision?: { code: string } }[] }>,
    nodegroupSize: async () =>
      (await clients.eks.send(new DescribeNodegroupCommand({ clusterName: cluster, nodegroupName: 'gpu-workers' }))).nodegroup?.scalingConfig?.desiredSize,
    state: async (target: string) => {
      const { Parameter } = await clients.ssm.send(new GetParameterCommand({ Name: `${prefix}/targets/${target}` }));
      return JSON.parse(Parameter?.Value ?? '{}') as TargetState;
    },
    failNextStateWrite: () => {
      failNextPut = true;
    },
    workloads: cluster_,
    status: async (headers: Record<string, string>) =>
      (await modules.status.buildHandler({ policy, store: ssmStore, clock, token: ssmToken(tokenName) })(
        functionUrlEvent(undefined, headers, 'GET'),
        lambdaContext('status'),
      )) as APIGatewayProxyStructuredResultV2,
  };
};

beforeAll(async () => {
  // The handler modules build their default wiring from the environment when imported.
  Object.assign(process.env, {
    STATE_PREFIX: '/gpu-autoscaler/import',
    QUEUE_URL: 'http://127.0.0.1:9/queue/import.fifo',
    TOKEN_PARAMETER: '/gpu-autoscaler/import/webhook-token',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  modules = {
    webhook: await import('../../functions/alertmanager-webhook/handler.ts'),
    worker: await import('../../functions/scaling-worker/handler.ts'),
    tick: await import('../../functions/schedule-tick/handler.ts'),
    emergency: await import('../../functions/emergency/handler.ts'),
    status: await import('../../functions/status/handler.ts'),
  };
});

describe('AWS runtime on the emulator', () => {
  it('follows one alert from the webhook through the queue to the node group', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    world.clients.resetCalls();

    // Act
    const response = await world.post(podsPending());

    // Assess: acknowledged only once queued; the webhook writes no state
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ queued: [{ target: 'gpu-pool', alertname: 'GPUPodsPending', rules: ['gpu-pods-pending'] }], ignored: [] });
    expect(world.clients.calls).toMatchObject({ SendMessageBatchCommand: 1 });
    expect(world.clients.calls.PutParameterCommand).toBeUndefined();

    // Act
    world.clients.resetCalls();
    const pumped = await world.pump();

    // Assess: one state read, one scaling call, one state write for the applied intent
    expect(pumped).toEqual({ processed: 1, failed: 0 });
    expect(await world.nodegroupSize()).toBe(2);
    expect(world.clients.calls).toMatchObject({ GetParametersCommand: 1, UpdateNodegroupConfigCommand: 1, PutParameterCommand: 1, PutEventsCommand: 1 });
    expect(await world.state('gpu-pool')).toMatchObject({ desired: 2, generation: 1, history: [{ from: 1, to: 2, code: 'ScaleUp' }] });
  });

  it('sends one SendMessageBatch per 10 intents', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const alerts = Array.from({ length: 25 }, (_, i) => ({ alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers', pod: `p${i}` }, fingerprint: `fp${i}` }));
    world.clients.resetCalls();

    // Act
    const response = await world.post(JSON.stringify(webhookPayload(alerts)));

    // Assess
    expect(JSON.parse(response.body ?? '{}').queued).toHaveLength(25);
    expect(world.clients.calls.SendMessageBatchCommand).toBe(3);
  });

  it('holds a second alert inside the cooldown across two webhooks', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.post(podsPending('first'));
    await world.pump();

    // Act: another pending-pods alert a minute later
    world.clock.advance(60);
    await world.post(podsPending('second'));
    await world.pump();

    // Assess
    expect(await world.nodegroupSize()).toBe(2);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ code: 'CooldownActive', message: 'cooldown of gpu-pods-pending: 4m left of 5m' });
  });

  it('scales once for a duplicate notification and for a redelivered message', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');

    // Act: the HA pair sends the same notification twice; later it is delivered again
    await world.post(podsPending());
    await world.post(podsPending());
    await world.pump();
    await world.post(podsPending());
    world.clients.resetCalls();
    await world.pump();

    // Assess
    expect(await world.nodegroupSize()).toBe(2);
    expect(world.clients.calls.UpdateNodegroupConfigCommand).toBeUndefined();
    expect(await world.state('gpu-pool')).toMatchObject({ generation: 2, history: [{ code: 'ScaleUp' }] });
  });

  it('does not scale twice when the worker stops between the API call and the state write', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    world.failNextStateWrite();
    await world.post(podsPending());
    world.clients.resetCalls();

    // Act
    const pumped = await world.pump();

    // Assess: the redelivery adopts the size the first attempt set
    expect(pumped).toEqual({ processed: 1, failed: 1 });
    expect(world.clients.calls.UpdateNodegroupConfigCommand).toBe(1);
    expect(await world.nodegroupSize()).toBe(2);
    expect(await world.state('gpu-pool')).toMatchObject({ desired: 2, history: [{ code: 'RecoveredUnrecordedAction' }] });
  });

  it('returns the message when an update is already in progress, then applies it', async () => {
    // Prepare: the tick has recorded every target (peak: the pool grew to 2 for its workloads)
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.tick();
    await world.pump();
    world.clock.advance(6 * 60);
    // EKS refuses the next update while another one runs
    let refused = 0;
    world.clients.eks.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateNodegroupConfigCommand' && refused++ === 0) {
          throw new ResourceInUseException({ message: 'Nodegroup gpu-workers is currently being updated', $metadata: { httpStatusCode: 409 } });
        }
        return next(args);
      },
      { step: 'initialize', name: 'updateInProgress' },
    );
    await world.post(podsPending());

    // Act
    const pumped = await world.pump();

    // Assess
    expect(pumped).toEqual({ processed: 1, failed: 1 });
    expect(await world.nodegroupSize()).toBe(3);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ code: 'ScaleUp', from: 2, to: 3 });
  });

  it.each([
    { case: 'no token', headers: {} as Record<string, string>, body: podsPending(), status: 401 },
    { case: 'a wrong token', headers: { authorization: 'Bearer nope' }, body: podsPending(), status: 401 },
    { case: 'malformed JSON', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"version":"4",', status: 400 },
    { case: 'a v3 payload', headers: { authorization: `Bearer ${TOKEN}` }, body: podsPending().replace('"version":"4"', '"version":"3"'), status: 400 },
    { case: 'a body over 4 MiB', headers: { authorization: `Bearer ${TOKEN}` }, body: ' '.repeat(4 * 1024 * 1024 + 1), status: 413 },
  ])('answers $status to $case and queues nothing', async ({ headers, body, status }) => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    world.clients.resetCalls();

    // Act
    const response = await world.post(body, headers);

    // Assess
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body ?? '{}').error).toEqual(expect.any(String));
    expect(world.clients.calls.SendMessageBatchCommand).toBeUndefined();
  });

  it('applies the off-peak window on the tick at 01:00 in the policy zone', async () => {
    // Prepare: the evening window is in force
    const world = await deploy('2026-11-23T23:30:00-05:00');
    await world.tick();
    await world.pump();
    expect((await world.state('app')).desired).toBe(3);

    // Act
    world.clock.advance(90 * 60);
    await world.tick();
    await world.pump();

    // Assess
    expect(await world.state('app')).toMatchObject({ desired: 2, window: 'off-peak' });
    expect((await world.state('app')).history.at(-1)).toMatchObject({ from: 3, to: 2, code: 'ScheduleEntry' });
    expect(world.workloads.snapshot().app?.desired).toBe(2);
  });

  it('holds an alert with reason Paused after an emergency pause', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');

    // Act
    const paused = await world.emergency({ action: 'pause', target: 'gpu-pool', ttl: '30m', reason: 'INC-9 node image rollout' });
    await world.post(podsPending());
    await world.pump();

    // Assess
    expect(paused).toMatchObject({ ok: true, outcomes: [{ status: 'applied', decision: { code: 'PauseSet' } }] });
    expect(await world.nodegroupSize()).toBe(1);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ code: 'Paused' });
  });

  it('shrinks an idle GPU pool to what its workloads need after the idle period', async () => {
    // Prepare: 3 GPU nodes at 02:00, off-peak: worker-llm 2 + worker-rl 1 need 3 GPUs, one node
    const world = await deploy('2026-11-24T02:00:00-05:00', { min: 1, max: 20, desired: 3 });
    await world.tick();
    await world.pump();
    expect(await world.state('gpu-pool')).toMatchObject({ desired: 3, idleSince: '2026-11-24T07:00:00.000Z' });

    // Act
    world.clock.advance(61 * 60);
    await world.tick();
    await world.pump();

    // Assess
    expect(await world.nodegroupSize()).toBe(1);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ from: 3, to: 1, code: 'GpuPoolIdle' });
  });

  it('reports per-target status behind the bearer token', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.post(podsPending());
    await world.pump();

    // Act
    const denied = await world.status({ 'x-no-token': '1' });
    const allowed = await world.status({ authorization: `Bearer ${TOKEN}` });

    // Assess
    expect(denied.statusCode).toBe(401);
    const pool = JSON.parse(allowed.body ?? '{}').targets.find((t: { id: string }) => t.id === 'gpu-pool');
    expect(pool).toMatchObject({
      desired: 2,
      hardBounds: { min: 1, max: 20 },
      cooldowns: { 'gpu-pods-pending': 300 },
      alerts: [{ alertname: 'GPUPodsPending' }],
      lastDecisions: [{ code: 'ScaleUp' }],
    });
  });
});
