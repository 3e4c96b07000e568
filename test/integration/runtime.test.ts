import { ResourceInUseException, ThrottlingException } from '@aws-sdk/client-eks';
import { type ChangeMessageVisibilityBatchCommandInput, type ChangeMessageVisibilityBatchCommandOutput, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { lambdaContext, sqsEventOfReceived } from '../support/lambda.ts';
import { describe, expect, it } from 'vitest';
import { webhookPayload } from '../support/payloads.ts';
import { logger } from '../../shared/observability.ts';
import { parseWebhookLog } from '../../shared/replay/webhookLog.ts';
import { deploy, STATUS_TOKEN, TOKEN } from './support/deployment.ts';

/** Runs `fn` with INFO logging and returns the structured log lines it wrote. */
const captureLogs = async (fn: () => Promise<unknown>): Promise<Record<string, unknown>[]> => {
  const lines: Record<string, unknown>[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const level = logger.getLevelName();
  logger.setLogLevel('INFO');
  process.stdout.write = ((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
    logger.setLogLevel(level);
  }
  return lines;
};

const podsPending = (fingerprint = 'gpu1', startsAt = '2026-11-23T15:00:00.000Z') =>
  JSON.stringify(webhookPayload([{ alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers' }, fingerprint, startsAt }]));

describe('AWS runtime on the emulator', () => {
  it('follows one alert from the webhook through the queue to the node group', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    world.clients.resetCalls();

    // Act
    let response = { statusCode: 0, body: '' } as Awaited<ReturnType<typeof world.post>>;
    const webhookLines = await captureLogs(async () => {
      response = await world.post(podsPending());
    });

    // Assess: acknowledged only once queued; the webhook writes no state
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ queued: [{ target: 'gpu-pool', alertname: 'GPUPodsPending', rules: ['gpu-pods-pending'] }], ignored: [] });
    expect(world.clients.calls).toMatchObject({ SendMessageBatchCommand: 1 });
    expect(world.clients.calls.PutParameterCommand).toBeUndefined();

    // Act
    world.clients.resetCalls();
    let pumped = { processed: 0, failed: 0 };
    const lines = await captureLogs(async () => {
      pumped = await world.pump();
    });

    // Assess: one state read, one scaling call, and two state writes for the applied intent: one
    // records the action as pending before the call, one finishes it after the audit event
    expect(pumped).toEqual({ processed: 1, failed: 0 });
    expect(await world.nodegroupSize()).toBe(2);
    expect(world.clients.calls).toMatchObject({ GetParametersCommand: 1, UpdateNodegroupConfigCommand: 1, PutParameterCommand: 2, PutEventsCommand: 1 });
    expect(await world.state('gpu-pool')).toMatchObject({ desired: 2, generation: 1, history: [{ from: 1, to: 2, code: 'ScaleUp' }] });

    // Assess: the notification is logged as `backtest --alerts` reads it back
    const notices = parseWebhookLog(webhookLines.filter((l) => l.message === 'notification received').map((l) => JSON.stringify(l)).join('\n'), 'webhook log');
    expect(notices.map((n) => n.payload.alerts.map((a) => [a.fingerprint, a.status, a.labels.alertname]))).toEqual([[['gpu1', 'firing', 'GPUPodsPending']]]);

    // Assess: the logs follow the alert by its fingerprint and intent id, from payload to node group
    const queued = webhookLines.find((l) => l.message === 'alert queued');
    expect(queued).toMatchObject({ fingerprint: 'gpu1', target: 'gpu-pool', alertname: 'GPUPodsPending' });
    expect(lines.find((l) => l.intentId === queued?.intentId)).toMatchObject({
      message: 'gpu-pool scale 1 -> 2: ScaleUp', target: 'gpu-pool', fingerprints: ['gpu1'], from: 1, to: 2,
    });
  });

  it('queues one intent for a target\'s alerts of one notification', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const alerts = Array.from({ length: 25 }, (_, i) => ({ alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers', pod: `p${i}` }, fingerprint: `fp${i}` }));
    world.clients.resetCalls();

    // Act
    const response = await world.post(JSON.stringify(webhookPayload(alerts)));

    // Assess: every alert is acknowledged, all under the one intent of their target
    const queued = JSON.parse(response.body ?? '{}').queued as { target: string; intent: string }[];
    expect(queued).toHaveLength(25);
    expect(new Set(queued.map((q) => q.intent)).size).toBe(1);
    expect(world.clients.calls.SendMessageBatchCommand).toBe(1);
  });

  it('sends one SendMessageBatch per 10 intents', async () => {
    // Prepare: two alerts for each of the policy's 12 targets, one intent per target
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const byTarget: [string, Record<string, string>][] = [
      ['AppHighCPU', { service: 'app' }],
      ['LLMQueueBuildup', { service: 'worker-llm' }],
      ['RLTrainingQueueHigh', { service: 'worker-rl' }],
      ['APIHighCPU', { service: 'tensafe' }],
      ['TrainingGPUBusy', { service: 'tensafe-training' }],
      ['GPUPodsPending', { nodegroup: 'gpu-workers' }],
      ['HSOFGPUBusy', { service: 'hsof' }],
      ['HSOFGPUPodsPending', { nodegroup: 'gpu-nodes' }],
      ['EmbeddingHighCPU', { service: 'embedding-service' }],
      ['RerankingHighCPU', { service: 'reranking-service' }],
      ['DoclingVLMHighCPU', { service: 'docling-vlm-service' }],
      ['GPUManagementHighCPU', { service: 'gpu-management-service' }],
    ];
    const alerts = byTarget.flatMap(([alertname, labels], t) =>
      [0, 1].map((i) => ({ alertname, labels: { ...labels, pod: `p${i}` }, fingerprint: `fp${t}-${i}` })),
    );
    world.clients.resetCalls();

    // Act
    const response = await world.post(JSON.stringify(webhookPayload(alerts)));

    // Assess: 12 intents, one per target, in two batches of at most 10
    const queued = JSON.parse(response.body ?? '{}').queued as { target: string; intent: string }[];
    expect(queued).toHaveLength(24);
    expect(new Set(queued.map((q) => q.target)).size).toBe(12);
    expect(new Set(queued.map((q) => q.intent)).size).toBe(12);
    expect(world.clients.calls.SendMessageBatchCommand).toBe(2);
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
    // The redelivery changed nothing, so nothing was written either
    expect(world.clients.calls.PutParameterCommand).toBeUndefined();
    expect(await world.state('gpu-pool')).toMatchObject({ generation: 1, history: [{ code: 'ScaleUp' }] });
  });

  it.each([
    { crash: 'before the scaling call (the pending record was not written)', at: 'pending' as const, code: 'ScaleUp' },
    { crash: 'between the scaling call and the state write that finishes it', at: 'done' as const, code: 'RecoveredUnrecordedAction' },
  ])('scales once when the worker stops $crash', async ({ at, code }) => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    world.failStateWrite(at);
    await world.post(podsPending());
    world.clients.resetCalls();

    // Act
    const pumped = await world.pump();

    // Assess: one scaling call in all; the redelivery finishes or makes the action, never repeats it
    expect(pumped).toEqual({ processed: 1, failed: 1 });
    expect(world.clients.calls.UpdateNodegroupConfigCommand).toBe(1);
    expect(await world.nodegroupSize()).toBe(2);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ code });
    expect((await world.state('gpu-pool')).pending).toBeUndefined();
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

    // Assess: the pending record says the first attempt did not act, so the redelivery acts
    expect(pumped).toEqual({ processed: 1, failed: 1 });
    expect(await world.nodegroupSize()).toBe(3);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ code: 'PendingActionRetried', from: 2, to: 3 });
  });

  it('hides a throttled intent for a short backoff, not the 6-minute visibility timeout', async () => {
    // Prepare: EKS throttles the next update (past the SDK's own retries)
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.tick();
    await world.pump();
    world.clock.advance(6 * 60);
    world.clients.eks.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateNodegroupConfigCommand') throw new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } });
        return next(args);
      },
      { step: 'initialize', name: 'throttled' },
    );
    const visibility: number[] = [];
    const refused: unknown[] = [];
    world.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'ChangeMessageVisibilityBatchCommand') {
          visibility.push(...((args.input as ChangeMessageVisibilityBatchCommandInput).Entries ?? []).map((e) => e.VisibilityTimeout ?? -1));
          refused.push(...((result.output as ChangeMessageVisibilityBatchCommandOutput).Failed ?? []));
        }
        return result;
      },
      { step: 'initialize', name: 'visibility' },
    );
    await world.post(podsPending());
    world.clients.resetCalls();

    // Act: one delivery, as the event source mapping makes it
    const { Messages = [] } = await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }));
    const { batchItemFailures } = await world.worker(sqsEventOfReceived(Messages), lambdaContext('scaling-worker'));

    // Assess: returned with one ChangeMessageVisibilityBatch of 15-30 s, and hidden meanwhile
    expect(batchItemFailures).toHaveLength(1);
    expect(world.clients.calls.ChangeMessageVisibilityBatchCommand).toBe(1);
    expect(visibility).toHaveLength(1);
    expect(refused).toEqual([]);
    expect(visibility[0]).toBeGreaterThanOrEqual(15);
    expect(visibility[0]).toBeLessThanOrEqual(30);
    const again = await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10 }));
    expect(again.Messages ?? []).toEqual([]);
  });

  it('answers 503 when the queue refuses the intents, so Alertmanager retries', async () => {
    // Prepare: a webhook whose queue no longer exists
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: world.queueUrl }));

    // Act
    const response = await world.post(podsPending());

    // Assess
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body ?? '{}').error).toMatch(/^could not queue 1 intent\(s\): /);
  });

  it('moves an intent for a missing node group to the DLQ after five receives', async () => {
    // Prepare: the policy names a cluster that does not exist
    const world = await deploy('2026-11-23T10:00:00-05:00', undefined, (policy) => ({
      ...policy,
      targets: policy.targets.map((t) => (t.kind === 'eks-nodegroup' ? { ...t, cluster: 'gone' } : t)),
    }));
    await world.post(podsPending());

    // Act
    const pumped = await world.pump();

    // Assess
    expect(pumped).toEqual({ processed: 0, failed: 5 });
    const { Messages = [] } = await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(Messages.map((m) => JSON.parse(m.Body ?? '{}').target)).toEqual(['gpu-pool']);
  });

  it('moves a message that is not an intent to the DLQ, and the other targets go on', async () => {
    // Prepare: a stray message in the pool's group
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.clients.sqs.send(new SendMessageCommand({ QueueUrl: world.queueUrl, MessageBody: '{"not":"an intent"}', MessageGroupId: 'gpu-pool', MessageDeduplicationId: 'stray-1' }));

    // Act: the emergency function's wait runs the worker, as it would in AWS
    const outcome = await world.emergency({ action: 'set', target: 'app', replicas: 4, reason: 'INC-5', actor: 'oncall' });
    await world.pump();

    // Assess
    expect(outcome).toMatchObject({ ok: true, outcomes: [{ target: 'app', decision: { code: 'EmergencySet', to: 4 } }] });
    expect(world.workloads.snapshot().app?.desired).toBe(4);
    const { Messages = [] } = await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(Messages.map((m) => m.Body)).toEqual(['{"not":"an intent"}']);
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
    const paused = await world.emergency({ action: 'pause', target: 'gpu-pool', ttl: '30m', reason: 'INC-9 node image rollout', actor: 'oncall' });
    await world.post(podsPending());
    await world.pump();

    // Assess
    expect(paused).toMatchObject({ ok: true, outcomes: [{ status: 'applied', decision: { code: 'PauseSet' } }] });
    expect(await world.nodegroupSize()).toBe(1);
    expect((await world.state('gpu-pool')).history.at(-1)).toMatchObject({ code: 'Paused' });
  });

  it('answers an emergency that grows a GPU workload on a paused pool with a warning, and leaves the node group alone', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.emergency({ action: 'pause', target: 'gpu-pool', ttl: '30m', reason: 'INC-9 node image rollout', actor: 'oncall' });

    // Act
    const answer = await world.emergency({ action: 'set', target: 'worker-llm', replicas: 6, reason: 'INC-10', actor: 'oncall' });
    await world.pump();

    // Assess
    expect(answer).toMatchObject({ ok: true, outcomes: [{ status: 'applied', decision: { code: 'EmergencySet', to: 6 }, warning: expect.stringMatching(/^pool gpu-pool is paused until 2026-11-23T15:30:00.000Z and does not grow for it: /) }] });
    expect(await world.nodegroupSize()).toBe(1);
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

  it('reports per-target status behind its own bearer token', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.post(podsPending());
    await world.pump();

    // Act
    const denied = await world.status({ 'x-no-token': '1' });
    const allowed = await world.status({ authorization: `Bearer ${STATUS_TOKEN}` });

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

  it('explains one target, loading decide() on first use, and refuses a target given twice rather than explain the last', async () => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const authorization = `Bearer ${STATUS_TOKEN}`;
    await world.post(podsPending());
    await world.pump();

    // Act
    const one = await world.status({ authorization }, '/explain?target=gpu-pool');
    const twice = await world.status({ authorization }, '/explain?target=gpu-pool&target=api');

    // Assess
    expect(one.statusCode).toBe(200);
    expect(JSON.parse(one.body ?? '{}')).toMatchObject({ target: 'gpu-pool', history: [{ code: 'ScaleUp' }] });
    expect(twice.statusCode).toBe(400);
    expect(JSON.parse(twice.body ?? '{}')).toMatchObject({ error: 'invalid explain request: target: give one target: target=ID, once' });
  });

  it.each([
    { token: 'status', opens: { status: 200, webhook: 401 } },
    { token: 'webhook', opens: { status: 401, webhook: 200 } },
  ])('with the $token token, status answers $opens.status and the webhook $opens.webhook', async ({ token, opens }) => {
    // Prepare
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const authorization = `Bearer ${token === 'status' ? STATUS_TOKEN : TOKEN}`;
    world.clients.resetCalls();

    // Act
    const answers = { status: (await world.status({ authorization })).statusCode, webhook: (await world.post(podsPending(), { authorization })).statusCode };

    // Assess: the status token queues nothing
    expect(answers).toEqual(opens);
    expect(world.clients.calls.SendMessageBatchCommand).toBe(opens.webhook === 200 ? 1 : undefined);
  });
});
