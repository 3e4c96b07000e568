import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EKSClient } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { applyIntent, type WorkerDeps } from '../../shared/app/applyIntent.ts';
import { EksNodeGroupScaler } from '../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../../shared/adapters/aws/eventBridgeSink.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { kubernetesWorkloads } from '../../shared/adapters/k8s/kubernetesWorkloads.ts';
import { readConfig } from '../../shared/config.ts';
import { intentSchema } from '../../shared/domain/intent.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { RetryableScalingError } from '../../shared/errors.ts';
import { logger, metrics, recordDecision } from '../../shared/observability.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { type EventSink, systemClock } from '../../shared/ports.ts';

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** An audit event that cannot be sent must not undo or repeat an action already taken. */
const auditBestEffort = (sink: EventSink): EventSink => ({
  publish: async (decisions) => {
    try {
      await sink.publish(decisions);
    } catch (error) {
      logger.error('audit event not published', { error: error as Error, intentIds: decisions.map((d) => d.intentId) });
      metrics.addMetric('scaling_audit_failures_total', MetricUnit.Count, 1);
    }
  },
});

/**
 * The scaling worker, single writer of target state: one SQS FIFO record at a time per
 * target. A failed record goes back to the queue (its group waits), and after the queue's
 * maxReceiveCount to the DLQ; the other groups of the batch go on.
 */
export const buildHandler = (policy: Policy, deps: WorkerDeps) => {
  const processor = new SqsFifoPartialProcessorAsync();
  const processRecord = async (record: SQSRecord): Promise<void> => {
    const receives = Number(record.attributes.ApproximateReceiveCount);
    const parsed = intentSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      // Retrying cannot mend it: it fails until the queue's maxReceiveCount moves it to the DLQ.
      logger.error('message is not an intent', { target: record.attributes.MessageGroupId, messageId: record.messageId, receives, problems: parsed.error.issues.slice(0, 5) });
      metrics.addMetric('scaling_worker_errors_total', MetricUnit.Count, 1);
      throw new Error(`message ${record.messageId} is not an intent`);
    }
    const intent = parsed.data;
    try {
      recordDecision(await applyIntent(policy, intent, deps, { redelivered: receives > 1 }));
    } catch (error) {
      const retryable = error instanceof RetryableScalingError;
      logger[retryable ? 'warn' : 'error'](retryable ? 'intent returned to the queue for a later retry' : 'intent failed', {
        target: intent.target,
        intentId: intent.id,
        fingerprints: intent.alerts.map((a) => a.fingerprint),
        receives,
        error: error as Error,
      });
      metrics.addMetric(retryable ? 'scaling_worker_retries_total' : 'scaling_worker_errors_total', MetricUnit.Count, 1);
      throw error;
    }
  };
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event: SQSEvent, context: Context) =>
      processPartialResponse(event, processRecord, processor, { context, skipGroupOnError: true, throwOnFullBatchFailure: false }),
    );
};

const config = readConfig();
const policy = loadPolicyFile(config.POLICY_PATH);

export const handler = buildHandler(policy, {
  store: new SsmStateStore(new SSMClient({}), config.STATE_PREFIX),
  queue: new SqsIntentQueue(new SQSClient({}), config.QUEUE_URL),
  nodeGroups: new EksNodeGroupScaler(new EKSClient({})),
  workloads: kubernetesWorkloads(policy, process.env),
  events: auditBestEffort(new EventBridgeSink(new EventBridgeClient({}), config.EVENT_BUS_NAME)),
  clock: systemClock,
});
