import { CreateQueueCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { SqsIntentQueue } from '../shared/adapters/aws/sqsIntentQueue.ts';
import { ssmToken } from '../shared/adapters/aws/webhookToken.ts';
import { loadPolicyFile } from '../shared/policyFile.ts';
import { systemClock } from '../shared/ports.ts';
import { awsClientConfig, useFakeAwsEnv } from '../test/support/awsClients.ts';
import { startMotoServer } from '../test/support/motoServer.ts';
import { type BenchRow, median } from './measure.ts';

const ALERTS = 100;

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
    await new SSMClient(config).send(new PutParameterCommand({ Name: '/bench/token', Value: 'bench-token', Type: 'SecureString' }));
    const { buildHandler } = await import('../functions/alertmanager-webhook/handler.ts');
    const policy = loadPolicyFile('policy.yaml');
    const token = ssmToken('/bench/token');

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
    ];
  } finally {
    await moto.stop();
  }
};
