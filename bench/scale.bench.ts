import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { EksNodeGroupScaler } from '../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../shared/adapters/aws/eventBridgeSink.ts';
import { SsmStateStore } from '../shared/adapters/aws/ssmStateStore.ts';
import { SsmTickRecordStore } from '../shared/adapters/aws/ssmTickRecordStore.ts';
import { fifoGroupOf } from '../shared/app/gpuView.ts';
import type { Policy, WorkloadTarget } from '../shared/domain/policy.ts';
import { compactState, initialState, MAX_STATE_BYTES, targetStateSchema } from '../shared/domain/state.ts';
import type { WorkloadScaler } from '../shared/ports.ts';
import { workerConcurrencyOf } from '../infra/build.ts';
import { awsClientConfig, useFakeAwsEnv } from '../test/support/awsClients.ts';
import { ManualClock } from '../test/support/clock.ts';
import { functionUrlEvent, lambdaContext, sqsEventOfReceived } from '../test/support/lambda.ts';
import { startMotoServer } from '../test/support/motoServer.ts';
import { documentBytes, fullestState, LONGEST, TYPICAL_LONG } from '../test/support/worstState.ts';
import { type BenchRow, importHandlers, withoutEmptyMetricsWarning } from './measure.ts';
import { QUEUE_SHARDS, scaleNodeGroups, scalePolicy, shardedQueue, stormPayload } from './scalePolicy.ts';

/**
 * AWS's default quotas, per second, for one account and Region (or one queue):
 * - SSM: GetParameter, GetParameters and GetParametersByPath share 40 TPS; PutParameter has its
 *   own, lower default, 3 TPS (Parameter Store's "Max throughput" rows of
 *   https://docs.aws.amazon.com/general/latest/gr/ssm.html; higher throughput, a paid account
 *   setting, raises them: https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html).
 * - SQS FIFO: 300 API calls per second per API action and queue without high-throughput mode,
 *   a batch call counting once (3,000 messages with batches of 10):
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 * - EventBridge PutEvents: 10,000 TPS in us-east-1, less elsewhere; 400 is taken here, under
 *   the smallest Regions' defaults (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
 * - EKS publishes no request rate for DescribeNodegroup / UpdateNodegroupConfig; its API
 *   throttles with ThrottlingException (retryable here). 10 per second is taken as a planning
 *   figure, the order of AWS's other control-plane APIs.
 * - Lambda: 1,000 concurrent executions per Region, 100 of them never reservable:
 *   https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
const QUOTAS: Record<string, { perSecond: number; pool: string }> = {
  'SSM.GetParameter': { perSecond: 40, pool: 'SSM reads' },
  'SSM.GetParameters': { perSecond: 40, pool: 'SSM reads' },
  'SSM.GetParametersByPath': { perSecond: 40, pool: 'SSM reads' },
  'SSM.PutParameter': { perSecond: 3, pool: 'SSM PutParameter' },
  'SQS.SendMessageBatch': { perSecond: 300, pool: 'SQS SendMessageBatch' },
  'SQS.ReceiveMessage': { perSecond: 300, pool: 'SQS ReceiveMessage' },
  'SQS.DeleteMessageBatch': { perSecond: 300, pool: 'SQS DeleteMessageBatch' },
  'EKS.DescribeNodegroup': { perSecond: 10, pool: 'EKS node group calls' },
  'EKS.UpdateNodegroupConfig': { perSecond: 10, pool: 'EKS node group calls' },
  'EventBridge.PutEvents': { perSecond: 400, pool: 'EventBridge PutEvents' },
};
const LAMBDA_CONCURRENCY = 1000;
const LAMBDA_UNRESERVED = 100;

/** One AWS call: `Service.Command` and when it was sent (performance.now()). */
interface Call {
  api: string;
  at: number;
}

/** Counts every command a client sends by name, as the integration tests count calls. */
const counted = <T extends SSMClient | SQSClient | EKSClient | EventBridgeClient>(client: T, service: string, calls: Call[]): T => {
  (client.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => (args: unknown) => {
      calls.push({ api: `${service}.${context.commandName.replace(/Command$/, '')}`, at: performance.now() });
      return next(args);
    },
    { step: 'initialize', name: 'scaleBenchCounter' },
  );
  return client;
};

/** Deployments in memory: the Kubernetes API of each cluster is not an AWS quota; its calls are counted apart. */
class CountingWorkloads implements WorkloadScaler {
  readonly #sizes = new Map<string, number>();
  public calls = 0;

  public current(target: WorkloadTarget): Promise<number> {
    this.calls += 1;
    return Promise.resolve(this.#sizes.get(target.id) ?? target.min);
  }

  public scaleTo(target: WorkloadTarget, desired: number): Promise<void> {
    this.calls += 1;
    this.#sizes.set(target.id, desired);
    return Promise.resolve();
  }
}

type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** Calls per API over a phase: the total, per minute, and the busiest second. */
const rates = (calls: readonly Call[], minutes: number): Map<string, { total: number; perMinute: number; peak: number }> => {
  const byApi = new Map<string, number[]>();
  for (const c of calls) byApi.set(c.api, [...(byApi.get(c.api) ?? []), c.at]);
  const out = new Map<string, { total: number; perMinute: number; peak: number }>();
  for (const [api, times] of [...byApi].sort(([a], [b]) => a.localeCompare(b))) {
    let peak = 0;
    let start = 0;
    // Sliding one-second window over the sorted send times.
    for (let end = 0; end < times.length; end++) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= 1000) start += 1;
      peak = Math.max(peak, end - start + 1);
    }
    out.set(api, { total: times.length, perMinute: times.length / minutes, peak });
  }
  return out;
};

/** One row per API: calls a minute and the peak second, each against the quota per second (x60 for a minute). */
const rateRows = (calls: readonly Call[], minutes: number, peakNote: string): BenchRow[] => {
  const rows: BenchRow[] = [];
  // Calls that share a quota are summed against it.
  const pools = new Map<string, Call[]>();
  for (const c of calls) {
    const pool = QUOTAS[c.api]?.pool ?? c.api;
    pools.set(pool, [...(pools.get(pool) ?? []), c]);
  }
  for (const [api, r] of rates(calls, minutes)) {
    const quota = QUOTAS[api];
    rows.push({
      name: `  ${api}: ${r.total} call(s), ${r.perMinute.toFixed(0)}/min`,
      value: `${r.peak}/s peak`,
      ...(quota ? { ratio: r.perMinute / (quota.perSecond * 60), floor: `${quota.perSecond}/s x 60 (peak ${(r.peak / quota.perSecond).toFixed(2)}x ${peakNote})` } : {}),
    });
  }
  for (const [pool, members] of pools) {
    const quota = Object.values(QUOTAS).find((q) => q.pool === pool);
    const apis = new Set(members.map((c) => c.api));
    if (!quota || apis.size < 2) continue;
    const r = rates(members.map((c) => ({ ...c, api: pool })), minutes).get(pool);
    if (r) rows.push({ name: `  ${pool} together: ${r.perMinute.toFixed(0)}/min`, value: `${r.peak}/s peak`, ratio: r.perMinute / (quota.perSecond * 60), floor: `${quota.perSecond}/s x 60 (peak ${(r.peak / quota.perSecond).toFixed(2)}x)` });
  }
  return rows;
};

/**
 * 1,000 targets on 20 clusters and 40 GPU pools, on the AWS emulator with the real handlers
 * and SDK clients: one minute tick, a whole reconcile interval (every target compared with its
 * live size once, each in its own minute), and an alert storm (one notification with every
 * target's alert, through the webhook, the FIFO queue and the worker at its event source's
 * maximum concurrency). Prints, per AWS API, calls a minute as a ratio to the default quota
 * and the busiest second seen here, where the emulator answers faster than AWS does (so the
 * peaks are upper bounds for the same concurrency).
 */
export const benchScale = async (): Promise<BenchRow[]> => {
  const moto = await startMotoServer();
  try {
    useFakeAwsEnv(moto.endpoint);
    const prefix = '/bench/scale';
    const handlers = await importHandlers({ STATE_PREFIX: prefix, QUEUE_URL: `${moto.endpoint}/import.fifo`, TOKEN_PARAMETER: '/bench/scale-token' });
    const config = awsClientConfig(moto.endpoint);
    const setup = { sqs: new SQSClient(config), eks: new EKSClient(config), ssm: new SSMClient(config) };
    const policy: Policy = scalePolicy();
    const concurrency = workerConcurrencyOf(policy);

    // The world, outside the counts: clusters, node groups, the queue, the token, every target's state.
    const role = 'arn:aws:iam::123456789012:role/bench';
    const groups = scaleNodeGroups(policy);
    for (const cluster of new Set(groups.map((g) => g.cluster))) {
      await setup.eks.send(new CreateClusterCommand({ name: cluster, roleArn: role, resourcesVpcConfig: {} }));
    }
    for (const g of groups) {
      await setup.eks.send(new CreateNodegroupCommand({ clusterName: g.cluster, nodegroupName: g.nodegroup, nodeRole: role, subnets: ['subnet-1'], scalingConfig: { minSize: g.size, maxSize: 20, desiredSize: g.size } }));
    }
    const queueUrls: string[] = [];
    for (let i = 0; i < QUEUE_SHARDS; i++) {
      const { QueueUrl = '' } = await setup.sqs.send(new CreateQueueCommand({ QueueName: `scale-intents-${i}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '360' } }));
      queueUrls.push(QueueUrl);
    }
    await setup.ssm.send(new PutParameterCommand({ Name: '/bench/scale-token', Value: 'bench-token', Type: 'SecureString' }));
    const seedStore = new SsmStateStore(setup.ssm, prefix);
    for (let i = 0; i < policy.targets.length; i += 20) {
      await Promise.all(policy.targets.slice(i, i + 20).map((t) => seedStore.put({ ...initialState(t.id), generation: 1, desired: t.min })));
    }

    const calls: Call[] = [];
    const clients = {
      ssm: counted(new SSMClient(config), 'SSM', calls),
      sqs: counted(new SQSClient(config), 'SQS', calls),
      eks: counted(new EKSClient(config), 'EKS', calls),
      events: counted(new EventBridgeClient(config), 'EventBridge', calls),
    };
    const clock = new ManualClock('2026-11-23T10:00:00Z');
    const store = new SsmStateStore(clients.ssm, prefix);
    const queue = shardedQueue(clients.sqs, queueUrls, fifoGroupOf(policy));
    const workloads = new CountingWorkloads();
    const worker = handlers.worker.buildHandler(policy, {
      store, queue, nodeGroups: new EksNodeGroupScaler(clients.eks), workloads, events: new EventBridgeSink(clients.events, 'default'), clock,
    }, { retryAfter: () => Promise.resolve(), deadLetter: () => Promise.reject(new Error('no dead-letter queue in the bench')) }) as unknown as WorkerHandler; // a returned record fails the bench (below)
    const tick = handlers.tick.buildHandler({ policy, store, ticks: new SsmTickRecordStore(clients.ssm, prefix), queue, clock, metrics: { read: () => Promise.resolve(new Map()) } });

    /** Lambda's SQS event source: `concurrency` pollers, each a receive, a worker batch and a batch delete. */
    const drain = async (): Promise<{ batches: number; failures: number }> => {
      let batches = 0;
      let failures = 0;
      const poller = async (QueueUrl: string) => {
        for (let idle = 0; idle < 3; ) {
          const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0 }));
          if (Messages.length === 0) {
            const { Attributes = {} } = await setup.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
            const left = Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
            idle = left === 0 ? idle + 1 : 0;
            await new Promise((resolve) => setTimeout(resolve, 50));
            continue;
          }
          batches += 1;
          const { batchItemFailures } = await worker(sqsEventOfReceived(Messages), lambdaContext('scaling-worker'));
          failures += batchItemFailures.length;
          if (batchItemFailures.length > 0) throw new Error(`the worker returned ${batchItemFailures.length} record(s): ${JSON.stringify(batchItemFailures[0])}`);
          await clients.sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
        }
      };
      // One poller per queue: the emulator's stand-in for the event source's concurrency.
      await Promise.all(queueUrls.map(poller));
      return { batches, failures };
    };
    const phase = async (run: () => Promise<unknown>): Promise<{ calls: Call[]; ms: number }> => {
      calls.length = 0;
      const started = performance.now();
      await withoutEmptyMetricsWarning(run);
      return { calls: [...calls], ms: performance.now() - started };
    };

    const rows: BenchRow[] = [
      { name: `policy: ${policy.targets.length} targets, ${groups.length} GPU pools on ${new Set(groups.map((g) => g.cluster)).size} clusters, ${new Set(policy.targets.map((t) => fifoGroupOf(policy)(t.id))).size} FIFO groups`, value: '' },
    ];

    // One tick in steady state: every target has a state and nothing changes; only the targets
    // whose reconcile minute this is are queued.
    let tickMs = 0;
    let queued = 0;
    const oneTick = await phase(async () => {
      const started = performance.now();
      const answer = (await tick({}, lambdaContext('schedule-tick'))) as { queued: string[] };
      tickMs = performance.now() - started;
      queued = answer.queued.length;
    });
    rows.push({ name: `one tick: ${queued} target(s) queued for their reconcile minute`, value: `${tickMs.toFixed(0)} ms`, detail: 'wall time of the tick handler on the emulator' });
    rows.push(...rateRows(oneTick.calls, 1, 'here'));
    await withoutEmptyMetricsWarning(drain);

    // A whole reconcile interval: a tick a minute, each followed by the worker's deliveries.
    const minutes = policy.defaults.reconcileEvery / 60;
    const tickTimes: number[] = [];
    let reconciled = 0;
    const round = await phase(async () => {
      for (let m = 0; m < minutes; m++) {
        clock.advance(60);
        const started = performance.now();
        const answer = (await tick({}, lambdaContext('schedule-tick'))) as { queued: string[] };
        tickTimes.push(performance.now() - started);
        reconciled += answer.queued.length;
        await drain();
      }
    });
    rows.push({ name: `reconcile round: ${minutes} ticks, ${reconciled} reconcile(s)`, value: `${(round.ms / 1000).toFixed(1)} s`, detail: `ticks ${tickTimes.map((t) => t.toFixed(0)).join(', ')} ms` });
    rows.push(...rateRows(round.calls, minutes, 'here'));

    // The alert storm: every target alerting in one notification.
    clock.advance(60);
    // The token as a constant: Powertools' parameter provider keeps the first emulator's endpoint
    // for the process (the webhook bench's, when both run); one cached read a minute is no load.
    const webhook = handlers.webhook.buildHandler({ policy, queue, clock, token: () => Promise.resolve('bench-token') });
    let webhookMs = 0;
    let drained = { batches: 0, failures: 0 };
    const storm = await phase(async () => {
      const started = performance.now();
      const body = JSON.stringify(stormPayload(policy, clock.now().toISOString()));
      const response = (await webhook(functionUrlEvent(body, { authorization: 'Bearer bench-token' }), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2;
      if (response.statusCode !== 200) throw new Error(`the webhook answered ${response.statusCode}: ${String(response.body).slice(0, 300)}`);
      webhookMs = performance.now() - started;
      drained = await drain();
    });
    rows.push({
      name: `alert storm: ${policy.targets.length} alerts, webhook ${webhookMs.toFixed(0)} ms, ${drained.batches} worker batches`,
      value: `${(storm.ms / 1000).toFixed(1)} s`,
      detail: `worker concurrency ${concurrency} (the event source's maximumConcurrency; ${QUEUE_SHARDS} pollers on ${QUEUE_SHARDS} queues here); Kubernetes calls (per cluster, not an AWS quota): ${workloads.calls}`,
    });
    rows.push(...rateRows(storm.calls, Math.max(1, storm.ms / 60_000), 'here'));
    rows.push({
      name: `Lambda: reserved ${concurrency + 16} of ${LAMBDA_CONCURRENCY} (${LAMBDA_UNRESERVED} stay unreserved)`,
      value: `${concurrency} worker`,
      ratio: (concurrency + 16) / (LAMBDA_CONCURRENCY - LAMBDA_UNRESERVED),
      floor: `${LAMBDA_CONCURRENCY - LAMBDA_UNRESERVED} reservable`,
    });
    rows.push(...stateRows());
    return rows;
  } finally {
    await moto.stop();
  }
};

/**
 * State at scale: the document of a target holding as much as STATE_LIMITS allow, with the
 * longest texts its schemas allow, against SSM's 4,096-byte Standard tier, before and after
 * compactState (the same bytes test/unit/stateSize.test.ts asserts).
 */
const stateRows = (): BenchRow[] =>
  [
    { label: 'busy target, 30-character ids (2 vetoes, 1 unsent event, 4 keyed commands)', sizes: TYPICAL_LONG, busy: true },
    { label: 'busy target, longest ids and fingerprints', sizes: LONGEST, busy: true },
    { label: 'fullest the schemas allow (12 vetoes, 8 dropped vetoes, 8 failing readings, 4 unsent events, 32 keyed commands)', sizes: LONGEST, busy: false },
  ].map(({ label, sizes, busy }) => {
    const fullest = fullestState(sizes);
    const state = busy ? { ...fullest, alerts: fullest.alerts.map((a, i) => (i < 2 ? a : { ...a, veto: undefined })), outbox: fullest.outbox?.slice(0, 1), readings: undefined, droppedVetoes: undefined, emergencyKeys: fullest.emergencyKeys?.slice(-4) } : fullest;
    const bytes = documentBytes(compactState(targetStateSchema.parse(state)));
    return { name: `state document: ${label}`, value: `${bytes} bytes`, ratio: bytes / MAX_STATE_BYTES, floor: `SSM Standard's ${MAX_STATE_BYTES} (${documentBytes(state)} before compactState)` };
  });

