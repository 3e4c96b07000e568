import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { AWS_CLIENT_OPTIONS } from '../../shared/adapters/aws/clientOptions.ts';
import { fifoGroupOf } from '../../shared/app/gpuView.ts';
import { tick, type TickSummary } from '../../shared/app/tick.ts';
import { CloudWatchMetricSource } from '../../shared/adapters/aws/cloudWatchMetricSource.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { SsmTickRecordStore } from '../../shared/adapters/aws/ssmTickRecordStore.ts';
import { readConfig } from '../../shared/config.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { decisionKeys, logger } from '../../shared/observability.ts';
import { metrics } from '../../shared/scalerMetrics.ts';
import { loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { type Clock, type IntentQueue, type MetricSource, type StateStore, systemClock, type TickRecordStore } from '../../shared/ports.ts';

export interface TickDeps {
  policy: Policy;
  store: StateStore;
  /** The tick's own document: the Prometheus counters, which must outlive this instance. */
  ticks: TickRecordStore;
  queue: IntentQueue;
  clock: Clock;
  metrics: MetricSource;
}

/** The heartbeat the runbook's "evaluations stalled" alarm and dashboard panels read. */
const emitHeartbeat = (summary: TickSummary, seconds: number): void => {
  metrics.addMetric('scaling_evaluations_total', MetricUnit.Count, summary.evaluations);
  metrics.addMetric('scaling_evaluation_duration_seconds', MetricUnit.Seconds, seconds);
  metrics.addMetric('scaling_gpu_nodes', MetricUnit.Count, summary.gpuNodes);
  metrics.addMetric('scaling_gpu_pool_idle', MetricUnit.Count, summary.idlePools.length);
  for (const [name, value] of Object.entries(summary.gauges)) metrics.addMetric(name, MetricUnit.Count, value);
  if (summary.metricError) metrics.addMetric('scaling_metric_errors_total', MetricUnit.Count, 1);
  // Read by the state-unreadable alarm: a target whose document cannot be read holds until overwritten.
  metrics.addMetric('scaling_state_unreadable', MetricUnit.Count, Object.keys(summary.unreadable).length);
  for (const [target, size] of Object.entries(summary.sizes)) {
    const single = metrics.singleMetric();
    single.addDimension('target', target);
    single.addMetric('scaling_replicas', MetricUnit.Count, size);
  }
};

/** EventBridge Scheduler, every minute: re-evaluate every target and queue what changes. */
export const buildHandler = (deps: TickDeps) =>
  middy()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async () => {
      const started = performance.now();
      const summary = await tick(deps.policy, deps);
      const seconds = (performance.now() - started) / 1000;
      emitHeartbeat(summary, seconds);
      // prom-client (66 KiB with what it brings) sums the tick's counters once the intents are
      // queued: a chunk of its own, outside the cold start that stands before them.
      const { recordTick } = await import('../../shared/app/prometheus.ts');
      const { replaced } = await recordTick(summary, seconds, deps);
      if (replaced) logger.warn('the tick record could not be read and was replaced; its counters start again', { problem: replaced });
      if (summary.metricError) logger.warn('CloudWatch could not be read; metric rules leave their targets as they are', { error: summary.metricError });
      for (const [target, problem] of Object.entries(summary.unreadable)) {
        logger.error('state document cannot be read; the target holds until an operator command overwrites it', { target, problem });
      }
      for (const d of summary.foreseen) {
        logger.info('tick queued an evaluation', { ...decisionKeys(d), foreseen: `${d.verdict} ${d.from} -> ${d.to}`, reason: d.reasons[0] });
      }
      return { evaluations: summary.evaluations, queued: summary.queued.map((i) => i.target) };
    });

const config = readConfig();

const policy = loadBundledPolicy(config.POLICY_PATH);
const ssm = new SSMClient(AWS_CLIENT_OPTIONS);

export const handler = buildHandler({
  policy,
  store: new SsmStateStore(ssm, config.STATE_PREFIX),
  ticks: new SsmTickRecordStore(ssm, config.STATE_PREFIX),
  queue: new SqsIntentQueue(new SQSClient(AWS_CLIENT_OPTIONS), config.QUEUE_URL, fifoGroupOf(policy)),
  clock: systemClock,
  metrics: new CloudWatchMetricSource(new CloudWatchClient(AWS_CLIENT_OPTIONS)),
});
