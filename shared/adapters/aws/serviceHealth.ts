import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { METRICS_NAMESPACE, SERVICE } from '../../observability.ts';
import type { Clock, ServiceHealth } from '../../ports.ts';

/** How far back the last tick is looked for: past this, "none seen" says as much as a date would. */
const LOOK_BACK_MS = 60 * 60_000;

/**
 * The service's health as the deployed stack shows it: the tick's heartbeat metric (the one the
 * "evaluations stalled" alarm reads) and the intent dead-letter queue's depth.
 */
export class AwsServiceHealth implements ServiceHealth {
  public constructor(
    private readonly cloudWatch: CloudWatchClient,
    private readonly sqs: SQSClient,
    private readonly deadLetterQueueUrl: string | undefined,
    private readonly clock: Clock,
  ) {}

  public async lastTickAt(): Promise<string | null> {
    // Whole minutes, as CloudWatch keeps a one-minute metric: the datapoints' timestamps are then the minutes they count.
    const end = Math.ceil(this.clock.now().getTime() / 60_000) * 60_000;
    const { MetricDataResults = [] } = await this.cloudWatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: [
          {
            Id: 'ticks',
            MetricStat: {
              Metric: { Namespace: METRICS_NAMESPACE, MetricName: 'scaling_evaluations_total', Dimensions: [{ Name: 'service', Value: SERVICE }] },
              Period: 60,
              Stat: 'SampleCount',
            },
          },
        ],
        StartTime: new Date(end - LOOK_BACK_MS),
        EndTime: new Date(end),
        ScanBy: 'TimestampDescending',
      }),
    );
    const latest = Math.max(...(MetricDataResults[0]?.Timestamps ?? []).map((t) => t.getTime()));
    return Number.isFinite(latest) ? new Date(latest).toISOString() : null;
  }

  public async deadLetters(): Promise<number | null> {
    if (!this.deadLetterQueueUrl) return null;
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
}
