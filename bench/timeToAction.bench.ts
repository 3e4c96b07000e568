import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient, UpdateNodegroupConfigCommand } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageCommand, type Message, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CloudWatchMetricSource } from '../shared/adapters/aws/cloudWatchMetricSource.ts';
import { EksNodeGroupScaler } from '../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../shared/adapters/aws/eventBridgeSink.ts';
import { SqsIntentQueue } from '../shared/adapters/aws/sqsIntentQueue.ts';
import { SqsRetryBackoff } from '../shared/adapters/aws/sqsRetryBackoff.ts';
import { SsmStateStore } from '../shared/adapters/aws/ssmStateStore.ts';
import { ssmToken } from '../shared/adapters/aws/webhookToken.ts';
import { type ClusterAccess, kubeClients } from '../shared/adapters/k8s/clusterAccess.ts';
import { KubernetesWorkloads } from '../shared/adapters/k8s/kubernetesWorkloads.ts';
import { type Policy, type PolicyInput, validatePolicy } from '../shared/domain/policy.ts';
import { type Clock, type NodeGroupScaler, systemClock, type WorkloadScaler } from '../shared/ports.ts';
import { awsClientConfig, useFakeAwsEnv } from '../test/support/awsClients.ts';
import { ManualClock } from '../test/support/clock.ts';
import { functionUrlEvent, lambdaContext, sqsEvent } from '../test/support/lambda.ts';
import { startMotoServer } from '../test/support/motoServer.ts';
import { webhookPayload } from '../test/support/payloads.ts';
import { type KubeApiServer, startKubeApiServer } from '../test/e2e/k8s/setup/kubeApiServer.ts';
import { ROOT } from '../infra/build.ts';
import { type BenchRow, importHandlers, median, withoutEmptyMetricsWarning } from './measure.ts';
import { MemoryTickRecordStore } from '../shared/adapters/local/memoryTickRecordStore.ts';

/** Measured rounds per flow, after the warm-up rounds (first connections, caches, JIT). */
const ROUNDS = 100;
const WARMUP = 10;
const CLUSTER = 'bench';
const NAMESPACE = 'bench';
const TOKEN = 'bench-token';
/** A size no run reaches: every round scales up by one. */
const MAX = 500;
/** Where test/e2e/k8s/setup/build-kube-apiserver.sh leaves it. */
const KUBE_APISERVER = join(process.env.GPU_AUTOSCALER_CACHE_DIR ?? join(ROOT, '.cache'), 'bin', 'kube-apiserver');
// An admin's `kubectl scale` sends a merge patch, as the scaler does.
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

type Target = { kind: 'eks-nodegroup'; nodegroup: string } | { kind: 'deployment'; name: string };

/**
 * A policy of one target that scales up by one on every round, so that no round is held:
 * for notifications a rule without cooldown; for ticks a one-minute window per round, each
 * asking one more than the last, entered at the minute the tick runs.
 */
const benchPolicy = (target: Target, by: 'alert' | 'schedule'): Policy => {
  const id = 'target';
  const document: PolicyInput = {
    version: 1,
    timezone: 'UTC',
    defaults: { cooldown: '0s' },
    targets: [
      target.kind === 'eks-nodegroup'
        ? { id, kind: 'eks-nodegroup', cluster: CLUSTER, nodegroup: target.nodegroup, min: 1, max: MAX }
        : { id, kind: 'deployment', cluster: CLUSTER, namespace: NAMESPACE, name: target.name, min: 1, max: MAX },
    ],
    rules: by === 'alert' ? [{ id: 'up', alert: 'BenchScaleUp', matchers: [`target=${id}`], target: id, action: { type: 'step', by: 1 }, cooldown: '0s' }] : [],
    schedules:
      by === 'schedule'
        ? Array.from({ length: WARMUP + ROUNDS }, (_, minute) => ({
            id: `minute-${minute}`,
            start: clockTime(minute),
            end: clockTime(minute + 1),
            targets: { [id]: { desired: 2 + minute } },
          }))
        : [],
  };
  const result = validatePolicy(document);
  if (!result.ok) throw new Error(`invalid bench policy: ${JSON.stringify(result.issues)}`);
  return result.policy;
};

const clockTime = (minute: number): string => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** The calls of one round: name, start (performance.now()) and milliseconds. */
type Calls = { name: string; start: number; ms: number }[];

/** Records every command the client sends, with its time (serialisation, signing, HTTP and parsing). */
const timed = <T extends SQSClient | SSMClient | EKSClient | EventBridgeClient | CloudWatchClient>(client: T, calls: Calls): T => {
  (client.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => async (args: unknown) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        calls.push({ name: context.commandName.replace(/Command$/, ''), start: started, ms: performance.now() - started });
      }
    },
    { step: 'initialize', name: 'benchTimer' },
  );
  return client;
};

/** The same for the Kubernetes clients: each method of the API classes the adapters call. */
const timedApi = <T extends object>(api: T, calls: Calls): T =>
  new Proxy(api, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          calls.push({ name: String(key), start: started, ms: performance.now() - started });
        }
      };
    },
  });

/** The moment a port's scaling call returned: the action, as the user sees it. */
const actionClock = () => {
  let at = 0;
  let count = 0;
  const mark = () => {
    at = performance.now();
    count += 1;
  };
  return {
    nodeGroups: (scaler: NodeGroupScaler): NodeGroupScaler => ({ current: (t) => scaler.current(t), scaleTo: async (...args) => void (await scaler.scaleTo(...args), mark()) }),
    workloads: (scaler: WorkloadScaler): WorkloadScaler => ({ current: (t) => scaler.current(t), scaleTo: async (...args) => void (await scaler.scaleTo(...args), mark()) }),
    get at() {
      return at;
    },
    get count() {
      return count;
    },
  };
};

/** Why the Kubernetes half cannot run here, if it cannot. */
const kubernetesMissing = (): string | undefined => {
  if (!existsSync(KUBE_APISERVER)) return `${KUBE_APISERVER} is absent (bash test/e2e/k8s/setup/build-kube-apiserver.sh builds it)`;
  if (spawnSync('sh', ['-c', 'command -v etcd']).status !== 0) return 'etcd is not installed (Debian package etcd-server)';
  return undefined;
};

const noWorkloads: WorkloadScaler = {
  current: () => Promise.reject(new Error('the bench policy has no workload here')),
  scaleTo: () => Promise.reject(new Error('the bench policy has no workload here')),
};

type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

interface Round {
  /** Milliseconds from the start to the scaling call's return. */
  action: number;
  /** Milliseconds from the start to the message's deletion: the round trip the floor makes. */
  deleted: number;
  calls: Calls;
}

interface Flow {
  name: string;
  /** One notification or tick through to the scaling call and the deleted message. */
  round: (i: number) => Promise<Round>;
  /** The floor: SendMessage, ReceiveMessage, the scaling call alone, DeleteMessage. */
  floor: (i: number) => Promise<Round>;
  floorLabel: string;
  /** Scaling calls the flow made, checked against the rounds it ran. */
  actions: () => number;
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

/** Median milliseconds per round spent in each call, in the order the calls are made. */
const breakdown = (rounds: readonly Round[]): string => {
  const names = [...new Set(rounds.flatMap((r) => r.calls.map((c) => c.name)))];
  const parts = names.map((name) => {
    const per = rounds.map((r) => r.calls.filter((c) => c.name === name));
    const count = median(per.map((c) => c.length));
    return `${name}${count > 1 ? ` x${count}` : ''} ${median(per.map((c) => c.reduce((sum, x) => sum + x.ms, 0))).toFixed(1)}`;
  });
  const rest = median(rounds.map((r) => r.deleted - busy(r.calls)));
  return `${parts.join(', ')}, outside the calls ${rest.toFixed(1)} (ms, median per round)`;
};

/** Milliseconds during which at least one call was under way: calls made at once count once. */
const busy = (calls: Calls): number => {
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const { start, ms } of [...calls].sort((a, b) => a.start - b.start)) {
    total += Math.max(0, start + ms - Math.max(start, end));
    end = Math.max(end, start + ms);
  }
  return total;
};

const rowsOf = (flow: Flow, rounds: readonly Round[], floors: readonly Round[]): BenchRow[] => {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const rows: BenchRow[] = [{ name: `${flow.name} (${rounds.length} rounds)`, value: '' }];
  for (const [point, label] of [['action', 'to the scaling call'], ['deleted', 'to the message deleted']] as const) {
    for (const p of [50, 99]) {
      const value = percentile(rounds.map((r) => r[point]), p);
      const floor = percentile(floors.map((r) => r[point]), p);
      rows.push({ name: `  ${label}, p${p}`, value: ms(value), ratio: value / floor, floor: `floor p${p} ${ms(floor)}` });
    }
  }
  // The issue's floor: the message's whole round trip (SendMessage, ReceiveMessage, DeleteMessage)
  // plus the scaling call alone, against the time until the call, which is what users feel (the
  // worker deletes the message after acting).
  for (const p of [50, 99]) {
    const value = percentile(rounds.map((r) => r.action), p);
    const floor = percentile(floors.map((r) => r.deleted), p);
    rows.push({ name: `  to the scaling call, p${p}, against the whole round trip`, value: ms(value), ratio: value / floor, floor: `floor p${p} ${ms(floor)} (with DeleteMessage)` });
  }
  rows.push({ name: `  where a round's time goes`, value: '', detail: breakdown(rounds) });
  rows.push({ name: `  the floor: ${flow.floorLabel}`, value: '', detail: breakdown(floors) });
  return rows;
};

/**
 * Time to action: an Alertmanager notification posted to the webhook handler, or a schedule
 * tick, through the SQS FIFO queue to the worker and its scaling call (EKS
 * UpdateNodegroupConfig on the emulator; the Deployment's scale subresource on a real
 * kube-apiserver), as a ratio to the floor measured in the same run: SendMessage,
 * ReceiveMessage, the same scaling call alone and DeleteMessage. The real handlers and SDK
 * clients; the queue is read as Lambda's event source mapping does, one receive per round.
 */
export const benchTimeToAction = async (): Promise<{ rows: BenchRow[]; skipped?: string }> => {
  const moto = await startMotoServer();
  let kube: KubeApiServer | undefined;
  try {
    useFakeAwsEnv(moto.endpoint);
    delete process.env.KUBECONFIG;
    const handlers = await importHandlers({ STATE_PREFIX: '/bench/import', QUEUE_URL: `${moto.endpoint}/import.fifo`, TOKEN_PARAMETER: '/bench/token' });
    const config = awsClientConfig(moto.endpoint);
    const setup = { sqs: new SQSClient(config), eks: new EKSClient(config), ssm: new SSMClient(config) };
    await setup.ssm.send(new PutParameterCommand({ Name: '/bench/token', Value: TOKEN, Type: 'SecureString' }));
    const role = 'arn:aws:iam::123456789012:role/bench';
    await setup.eks.send(new CreateClusterCommand({ name: CLUSTER, roleArn: role, resourcesVpcConfig: {} }));
    const nodegroup = (name: string) =>
      setup.eks.send(new CreateNodegroupCommand({ clusterName: CLUSTER, nodegroupName: name, nodeRole: role, subnets: ['subnet-1'], scalingConfig: { minSize: 1, maxSize: MAX, desiredSize: 1 } }));

    const skipped = kubernetesMissing();
    if (!skipped) kube = await startKubeApiServer({ log: () => undefined });
    let apps: AppsV1Api | undefined;
    if (kube) {
      apps = kube.kubeConfig(kube.adminToken).makeApiClient(AppsV1Api);
      const core = kube.kubeConfig(kube.adminToken).makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    }
    const deployment = async (name: string) => {
      await apps?.createNamespacedDeployment({
        namespace: NAMESPACE,
        body: {
          metadata: { name, labels: { app: name } },
          spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `registry.invalid/${name}:1` }] } } },
        },
      });
    };

    let queues = 0;
    /** One flow's own queue, state prefix and timed clients. */
    const world = async (calls: Calls) => {
      const n = ++queues;
      const { QueueUrl = '' } = await setup.sqs.send(new CreateQueueCommand({ QueueName: `bench-action-${n}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }));
      const clients = {
        sqs: timed(new SQSClient(config), calls),
        ssm: timed(new SSMClient(config), calls),
        eks: timed(new EKSClient(config), calls),
        events: timed(new EventBridgeClient(config), calls),
        cloudWatch: timed(new CloudWatchClient(config), calls),
      };
      const queue = new SqsIntentQueue(clients.sqs, QueueUrl);
      const store = new SsmStateStore(clients.ssm, `/bench/action-${n}`);
      /**
       * Lambda's event source mapping, one round: a long poll already waiting when the message
       * is sent (as the mapping's pollers always are), the worker, the delete of what it took.
       */
      const deliver = async (worker: WorkerHandler): Promise<number> => {
        const { Messages = [] } = await clients.sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 5 }),
        );
        if (Messages.length !== 1) throw new Error(`expected one message on the queue, got ${Messages.length}`);
        const { batchItemFailures } = await worker(sqsEvent(Messages.map(recordOf)), lambdaContext('scaling-worker'));
        if (batchItemFailures.length > 0) throw new Error(`the worker returned ${batchItemFailures.length} record(s) to the queue`);
        for (const m of Messages) await clients.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
        return performance.now();
      };
      /** The floor: the same queue round trip around the scaling call alone. */
      const floorRound = async (i: number, scale: () => Promise<unknown>): Promise<Omit<Round, 'calls'>> => {
        const started = performance.now();
        const received = clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 5 }));
        await clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ floor: i }), MessageGroupId: 'floor', MessageDeduplicationId: `floor-${i}` }));
        const { Messages = [] } = await received;
        if (Messages.length !== 1) throw new Error(`expected one message on the queue, got ${Messages.length}`);
        await scale();
        const action = performance.now() - started;
        for (const m of Messages) await clients.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
        return { action, deleted: performance.now() - started };
      };
      /**
       * Puts the state document back as a parameter of one version, between rounds: moto keeps
       * every version and slows as they pile up (GetParameters about 5 ms at 20 versions, 10 ms
       * at 220), where SSM keeps the last 100 and reads alike.
       */
      const forgetVersions = async (): Promise<void> => {
        const name = `/bench/action-${n}/targets/target`;
        const { Parameter } = await setup.ssm.send(new GetParameterCommand({ Name: name }));
        if (!Parameter?.Value) return;
        await setup.ssm.send(new DeleteParameterCommand({ Name: name }));
        await setup.ssm.send(new PutParameterCommand({ Name: name, Value: Parameter.Value, Type: 'String' }));
      };
      return { clients, queue, backoff: new SqsRetryBackoff(clients.sqs, QueueUrl, undefined), store, deliver, floorRound, forgetVersions };
    };

    /** Wires one flow: a notification or a tick, acting on a node group or a Deployment. */
    const flow = async (name: string, target: Target, by: 'alert' | 'schedule'): Promise<Flow> => {
      const calls: Calls = [];
      const w = await world(calls);
      const policy = benchPolicy(target, by);
      const acted = actionClock();
      const manual = new ManualClock('2026-11-23T00:00:30Z');
      const clock: Clock = by === 'schedule' ? manual : systemClock;
      const floorCalls: Calls = [];
      const floorWorld = await world(floorCalls);
      let workloads = noWorkloads;
      let scaleFloor: (i: number) => Promise<unknown>;
      let floorLabel: string;
      if (target.kind === 'eks-nodegroup') {
        await nodegroup(target.nodegroup);
        const floorGroup = `${target.nodegroup}-floor`;
        await nodegroup(floorGroup);
        scaleFloor = (i) =>
          floorWorld.clients.eks.send(new UpdateNodegroupConfigCommand({ clusterName: CLUSTER, nodegroupName: floorGroup, scalingConfig: { minSize: 1, maxSize: MAX, desiredSize: 2 + i } }));
        floorLabel = 'SendMessage + ReceiveMessage + UpdateNodegroupConfig + DeleteMessage';
      } else {
        if (!kube) throw new Error('no kube-apiserver');
        await deployment(target.name);
        await deployment(`${target.name}-floor`);
        const kubeConfig = kube.kubeConfig(kube.adminToken);
        const clients = kubeClients(kubeConfig);
        const access: ClusterAccess = { clients: async () => ({ ...clients, apps: timedApi(clients.apps, calls), autoscaling: timedApi(clients.autoscaling, calls) }) };
        workloads = new KubernetesWorkloads(policy, access);
        const floorApps = timedApi(kubeConfig.makeApiClient(AppsV1Api), floorCalls);
        scaleFloor = (i) => floorApps.patchNamespacedDeploymentScale({ name: `${target.name}-floor`, namespace: NAMESPACE, body: { spec: { replicas: 2 + i } } }, MERGE_PATCH);
        floorLabel = 'SendMessage + ReceiveMessage + the scale patch + DeleteMessage';
      }
      const worker = handlers.worker.buildHandler(policy, {
        store: w.store,
        queue: w.queue,
        nodeGroups: acted.nodeGroups(new EksNodeGroupScaler(w.clients.eks)),
        workloads: acted.workloads(workloads),
        events: new EventBridgeSink(w.clients.events, 'default'),
        clock,
      }, w.backoff) as unknown as WorkerHandler;

      let trigger: (i: number) => Promise<void>;
      if (by === 'alert') {
        const webhook = handlers.webhook.buildHandler({ policy, queue: w.queue, clock, token: ssmToken(w.clients.ssm, '/bench/token') });
        const firstStart = Date.now() - 3_600_000;
        trigger = async (i) => {
          // The same alert firing again (a new startsAt, so a new intent), as Alertmanager repeats it.
          const body = JSON.stringify(webhookPayload([{ alertname: 'BenchScaleUp', labels: { target: 'target' }, fingerprint: 'bench', startsAt: new Date(firstStart + i * 1000).toISOString() }]));
          const response = (await webhook(functionUrlEvent(body, { authorization: `Bearer ${TOKEN}` }), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2;
          if (response.statusCode !== 200) throw new Error(`the webhook answered ${response.statusCode}: ${response.body}`);
        };
      } else {
        const tick = handlers.tick.buildHandler({ policy, store: w.store, ticks: new MemoryTickRecordStore(), queue: w.queue, clock, metrics: new CloudWatchMetricSource(w.clients.cloudWatch) });
        trigger = async (i) => {
          if (i > 0) manual.advance(60);
          const { queued } = (await tick({}, lambdaContext('schedule-tick'))) as { queued: string[] };
          if (queued.length !== 1) throw new Error(`the tick queued ${queued.length} intents, not one`);
        };
      }
      return {
        name,
        round: async (i) => {
          calls.length = 0;
          const started = performance.now();
          // The worker's poll is under way while the webhook or tick runs, and the worker acts
          // while they finish (logs, metrics, the tick's counters), as the two functions do.
          const delivered = w.deliver(worker);
          await trigger(i);
          const deleted = (await delivered) - started;
          const round = { action: acted.at - started, deleted, calls: [...calls] };
          if (i % 10 === 9) await w.forgetVersions();
          return round;
        },
        floor: async (i) => {
          floorCalls.length = 0;
          const times = await floorWorld.floorRound(i, () => scaleFloor(i));
          return { ...times, calls: [...floorCalls] };
        },
        floorLabel,
        actions: () => acted.count,
      };
    };

    const flows: Flow[] = [
      await flow('Alertmanager notification -> EKS UpdateNodegroupConfig', { kind: 'eks-nodegroup', nodegroup: 'notified' }, 'alert'),
      await flow('schedule tick -> EKS UpdateNodegroupConfig', { kind: 'eks-nodegroup', nodegroup: 'ticked' }, 'schedule'),
      ...(kube
        ? [
            await flow('Alertmanager notification -> Deployment scale patch', { kind: 'deployment', name: 'notified' }, 'alert'),
            await flow('schedule tick -> Deployment scale patch', { kind: 'deployment', name: 'ticked' }, 'schedule'),
          ]
        : []),
    ];
    const rows: BenchRow[] = [];
    for (const f of flows) {
      const rounds: Round[] = [];
      const floors: Round[] = [];
      // The flow and its floor alternate, so that a busy moment weighs on both alike.
      await withoutEmptyMetricsWarning(async () => {
        for (let i = 0; i < WARMUP + ROUNDS; i++) {
          const round = await f.round(i);
          const floor = await f.floor(i);
          if (i >= WARMUP) {
            rounds.push(round);
            floors.push(floor);
          }
        }
      });
      if (f.actions() !== WARMUP + ROUNDS) throw new Error(`${f.name}: ${f.actions()} scaling calls for ${WARMUP + ROUNDS} rounds; some were held`);
      rows.push(...rowsOf(f, rounds, floors));
    }
    return { rows, ...(skipped ? { skipped: `the Kubernetes half is skipped: ${skipped}` } : {}) };
  } finally {
    await kube?.stop();
    await moto.stop();
  }
};

const recordOf = (m: Message) => ({
  messageId: m.MessageId ?? '',
  body: m.Body ?? '',
  group: m.Attributes?.MessageGroupId ?? '',
  receives: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
  deduplicationId: m.Attributes?.MessageDeduplicationId ?? '',
});
