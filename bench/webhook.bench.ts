import { CreateQueueCommand, SendMessageBatchCommand, type SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { fifoGroupOf } from '../shared/app/gpuView.ts';
import { SqsIntentQueue } from '../shared/adapters/aws/sqsIntentQueue.ts';
import { ssmToken } from '../shared/adapters/aws/webhookToken.ts';
import { loadPolicyFile } from '../shared/policyFile.ts';
import { systemClock } from '../shared/ports.ts';
import { awsClientConfig, useFakeAwsEnv } from '../test/support/awsClients.ts';
import { startMotoServer } from '../test/support/motoServer.ts';
import { type BenchRow, median } from './measure.ts';
import { QUEUE_SHARDS, scalePolicy, shardedQueue, stormPayload } from './scalePolicy.ts';

const ALERTS = 100;

/** The handler's factory, imported once the environment it reads at import is set. */
let buildHandler: typeof import('../functions/alertmanager-webhook/handler.ts').buildHandler;

/**
 * The webhook handler on a 100-alert payload, end to end against the emulator (token from
 * SSM, parse, route, 10 SendMessageBatch calls), as a ratio to the same 10 SendMessageBatch
 * calls made directly with the SDK: what the handler adds on top of the queue it must reach.
 */
export const benchWebhook = async (): Promise<BenchRow[]> => {
  const moto = await startMotoServer();
  try {
    useFakeAwsEnv(moto.endpoint);
    Object.assign(process.env, { STATE_PREFIX: '/bench/x', QUEUE_URL: `${moto.endpoint}/q`, TOKEN_PARAMETER: '/bench/token', POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' });
    const config = awsClientConfig(moto.endpoint);
    const sqs = new SQSClient(config);
    const ssm = new SSMClient(config);
    await ssm.send(new PutParameterCommand({ Name: '/bench/token', Value: 'bench-token', Type: 'SecureString' }));
    const { buildHandler: build } = await import('../functions/alertmanager-webhook/handler.ts');
    buildHandler = build;
    const policy = loadPolicyFile('policy.yaml');
    const token = ssmToken(ssm, '/bench/token');

    let round = 0;
    const payload = () => {
      round += 1;
      return JSON.stringify({
        version: '4', status: 'firing', receiver: 'gpu-autoscaler', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://127.0.0.1:9093', truncatedAlerts: 0,
        alerts: Array.from({ length: ALERTS }, (_, i) => ({
          status: 'firing', labels: { alertname: 'GPUPodsPending', nodegroup: 'gpu-workers', pod: `p${i}` }, annotations: {},
          startsAt: new Date(Date.UTC(2026, 10, 23, 0, 0, round)).toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint: `f${i}`,
        })),
      });
    };
    const event = (body: string) => ({ version: '2.0', rawPath: '/', headers: { authorization: 'Bearer bench-token' }, body, isBase64Encoded: false, requestContext: { http: { method: 'POST' } } }) as unknown as APIGatewayProxyEventV2;
    const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

    // moto's FIFO deduplication scans the queue, so every run gets a fresh queue (made
    // outside the timing) and the two kinds of run alternate.
    let queueUrl = '';
    const freshQueue = async () => {
      queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `bench-${++round}.fifo`, Attributes: { FifoQueue: 'true' } }))).QueueUrl ?? '';
    };
    const handler = () => buildHandler({ policy, queue: new SqsIntentQueue(sqs, queueUrl), clock: systemClock, token });
    const webhookRun = async () => {
      const response = await handler()(event(payload()), context);
      if (typeof response === 'object' && response.statusCode !== 200) throw new Error(`webhook answered ${response.statusCode}`);
    };
    const rawRun = async () => {
      for (let b = 0; b < ALERTS / 10; b++) {
        await sqs.send(new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `${i}`, MessageBody: `{"round":${round},"i":${b * 10 + i}}`, MessageGroupId: 'gpu-pool', MessageDeduplicationId: `raw-${round}-${b}-${i}` })),
        }));
      }
    };
    const times = { webhook: [] as number[], raw: [] as number[] };
    for (let i = 0; i < 12; i++) {
      for (const [kind, run] of [['webhook', webhookRun], ['raw', rawRun]] as const) {
        await freshQueue();
        const started = performance.now();
        await run();
        if (i >= 2) times[kind].push(performance.now() - started);
      }
    }
    const endToEnd = median(times.webhook);
    const rawBatches = median(times.raw);
    return [
      { name: `${ALERTS} x SendMessageBatch entries sent directly (10 calls)`, value: `${rawBatches.toFixed(1)} ms` },
      { name: `webhook handler, ${ALERTS}-alert payload end to end`, value: `${endToEnd.toFixed(1)} ms`, ratio: endToEnd / rawBatches, floor: 'the raw SendMessageBatch calls' },
      ...(await benchStorm(sqs, ssm, event, context)),
    ];
  } finally {
    await moto.stop();
  }
};

const STORM_ROUNDS = 5;

/**
 * One notification of 1,000 alerts, one per target of the scale bench's 1,000-target policy:
 * the webhook queues one intent per target in SendMessageBatch calls of 10 (each well under
 * 256 KiB), against the same intents sent directly in the same calls, at once. Both go to
 * QUEUE_SHARDS fresh queues of the emulator by FIFO group (see shardedQueue: moto slows with
 * the messages a queue holds).
 */
const benchStorm = async (sqs: SQSClient, ssm: SSMClient, event: (body: string) => APIGatewayProxyEventV2, context: Context): Promise<BenchRow[]> => {
  const policy = scalePolicy();
  const groupOf = fifoGroupOf(policy);
  const token = ssmToken(ssm, '/bench/token');
  let round = 0;
  const freshQueues = async () => {
    round += 1;
    const urls: string[] = [];
    for (let i = 0; i < QUEUE_SHARDS; i++) {
      urls.push((await sqs.send(new CreateQueueCommand({ QueueName: `storm-${round}-${i}.fifo`, Attributes: { FifoQueue: 'true' } }))).QueueUrl ?? '');
    }
    return urls;
  };
  let sent: { url: string; entries: SendMessageBatchRequestEntry[] }[] = [];
  const times = { webhook: [] as number[], raw: [] as number[] };
  let intents = 0;
  for (let i = 0; i < STORM_ROUNDS; i++) {
    const urls = await freshQueues();
    // The batches the webhook sent, kept for the raw run: the same bodies, groups and ids.
    const recording = counting(sqs, (url, entries) => sent.push({ url, entries }));
    sent = [];
    const queue = shardedQueue(recording, urls, groupOf);
    const body = JSON.stringify(stormPayload(policy, new Date(Date.UTC(2026, 10, 23, 1, 0, i)).toISOString()));
    let started = performance.now();
    const response = await buildHandler({ policy, queue, clock: systemClock, token })(event(body), context);
    if (typeof response === 'object' && response.statusCode !== 200) throw new Error(`webhook answered ${response.statusCode}`);
    times.webhook.push(performance.now() - started);
    const targets = sent.flatMap((b) => b.entries.map((e) => (JSON.parse(e.MessageBody ?? '{}') as { target: string }).target));
    if (new Set(targets).size !== targets.length) throw new Error('more than one intent for a target');
    intents = targets.length;
    const rawUrls = await freshQueues();
    started = performance.now();
    await Promise.all(sent.map((b) => sqs.send(new SendMessageBatchCommand({ QueueUrl: rawUrls[urls.indexOf(b.url)], Entries: b.entries }))));
    times.raw.push(performance.now() - started);
  }
  const webhook = median(times.webhook);
  const raw = median(times.raw);
  return [
    { name: `${intents} intents as ${sent.length} SendMessageBatch calls sent directly`, value: `${raw.toFixed(1)} ms` },
    { name: `webhook handler, ${policy.targets.length}-alert notification (1 intent per target)`, value: `${webhook.toFixed(1)} ms`, ratio: webhook / raw, floor: 'the raw SendMessageBatch calls' },
  ];
};

/** The client, telling `seen` each SendMessageBatch it sends. */
const counting = (sqs: SQSClient, seen: (url: string, entries: SendMessageBatchRequestEntry[]) => void): SQSClient =>
  new Proxy(sqs, {
    get(target, key, receiver) {
      if (key !== 'send') return Reflect.get(target, key, receiver);
      return (command: SendMessageBatchCommand) => {
        if (command instanceof SendMessageBatchCommand) seen(command.input.QueueUrl ?? '', command.input.Entries ?? []);
        return target.send(command);
      };
    },
  });
