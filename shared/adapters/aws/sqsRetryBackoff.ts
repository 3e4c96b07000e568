import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RetryBackoff, RetryEntry } from '../../ports.ts';

/**
 * The worker's retry backoff on the intent queue: ChangeMessageVisibilityBatch on the records
 * it returns. The worker's batches hold at most 10 records, the call's limit, so one call
 * serves a batch; resolves only when every entry was changed.
 */
export class SqsRetryBackoff implements RetryBackoff {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  public async retryAfter(entries: readonly RetryEntry[]): Promise<void> {
    for (let at = 0; at < entries.length; at += 10) {
      const chunk = entries.slice(at, at + 10);
      const { Failed = [] } = await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((entry, i) => ({ Id: String(i), ReceiptHandle: entry.receiptHandle, VisibilityTimeout: entry.seconds })),
        }),
      );
      if (Failed.length > 0) throw new Error(`could not change the visibility of ${Failed.length} record(s): ${Failed.map((f) => f.Message ?? f.Code).join('; ')}`);
    }
  }
}
