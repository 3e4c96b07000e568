import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EKSClient } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { WorkerDeps } from '../../shared/app/applyIntent.ts';
import { fifoGroupOf } from '../../shared/app/gpuView.ts';
import { AWS_CLIENT_OPTIONS } from '../../shared/adapters/aws/clientOptions.ts';
import { EksNodeGroupScaler } from '../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../../shared/adapters/aws/eventBridgeSink.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SqsRetryBackoff } from '../../shared/adapters/aws/sqsRetryBackoff.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { workloadsOnDemand } from '../../shared/adapters/k8s/workloadsOnDemand.ts';
import { readConfig } from '../../shared/config.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { scalingWorker, type WorkerReport } from '../../shared/hosts/scalingWorker.ts';
import { logger } from '../../shared/observability.ts';
import { metrics, recordDecision } from '../../shared/scalerMetrics.ts';
import { loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { type EventSink, type RetryBackoff, systemClock } from '../../shared/ports.ts';

/** An audit event that cannot be sent is logged and counted; the worker keeps it in the state's outbox. */
const auditLogged = (sink: EventSink): EventSink => ({
  publish: async (decisions) => {
    try {
      await sink.publish(decisions);
    } catch (error) {
      logger.error('audit event not published; kept in the outbox for the next delivery', { error: error as Error, intentIds: decisions.map((d) => d.intentId) });
      metrics.addMetric('scaling_audit_failures_total', MetricUnit.Count, 1);
      throw error;
    }
  },
});

/** Lambda's report: each decision logged and counted, each failure logged and counted for the alarms. */
const logAndCount: WorkerReport = {
  decided: recordDecision,
  failed: (failure) => {
    const where = { target: failure.group, messageId: failure.messageId, receives: failure.receives };
    if (failure.kind === 'unusable') {
      // Retrying cannot mend it: the worker moves it to the DLQ (or, failing that, the redrive policy does).
      logger.error(`message ${failure.why}`, { ...where, problems: failure.problems });
    } else {
      const keys = { ...where, intentId: failure.intent.id, fingerprints: failure.intent.alerts.map((a) => a.fingerprint), error: failure.error };
      if (failure.kind === 'retryable') logger.warn('intent returned to the queue for a later retry', keys);
      else logger.error('intent failed', keys);
    }
    metrics.addMetric(failure.kind === 'retryable' ? 'scaling_worker_retries_total' : 'scaling_worker_errors_total', MetricUnit.Count, 1);
  },
  backoffFailed: (records, error) => logger.warn('retry backoff not set, or a record not moved to the dead-letter queue; they come back with the queue\'s own timing', { records, error }),
};

/**
 * The scaling worker on Lambda: SQS FIFO batches from the event source mapping, records that
 * failed reported back so the queue returns them (and after maxReceiveCount dead-letters them).
 */
export const buildHandler = (policy: Policy, deps: WorkerDeps, backoff: RetryBackoff) => {
  const worker = scalingWorker(policy, deps, logAndCount, backoff);
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler((event: SQSEvent, context: Context) => worker(event, context));
};

const config = readConfig();
const policy = loadBundledPolicy(config.POLICY_PATH);
const sqs = new SQSClient(AWS_CLIENT_OPTIONS);
const kubernetes = workloadsOnDemand(policy, process.env);

export const handler = buildHandler(
  policy,
  {
    store: new SsmStateStore(new SSMClient(AWS_CLIENT_OPTIONS), config.STATE_PREFIX),
    queue: new SqsIntentQueue(sqs, config.QUEUE_URL, fifoGroupOf(policy)),
    nodeGroups: new EksNodeGroupScaler(new EKSClient(AWS_CLIENT_OPTIONS)),
    workloads: kubernetes,
    health: kubernetes,
    events: auditLogged(new EventBridgeSink(new EventBridgeClient(AWS_CLIENT_OPTIONS), config.EVENT_BUS_NAME)),
    clock: systemClock,
  },
  new SqsRetryBackoff(sqs, config.QUEUE_URL, config.DEAD_LETTER_QUEUE_URL),
);
