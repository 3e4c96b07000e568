import { ChangeMessageVisibilityBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadRecord, RetryBackoff, RetryEntry } from '../../ports.ts';

/**
 * The worker's retry backoff on the intent queue: ChangeMessageVisibilityBatch on the records
 * it returns (the worker's batches hold at most 10 records, the call's limit, so one call
 * serves a batch; resolves only when every entry was changed), and SendMessage of a record
 * that it can never apply (not an intent, or for a target the policy no longer has) to the dead-letter queue, in its group, deduplicated by its message id.
 */
export class SqsRetryBackoff implements RetryBackoff {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string | undefined,
  ) {}

  public async deadLetter(record: DeadRecord): Promise<void> {
    if (!this.deadLetterQueueUrl) throw new Error('DEAD_LETTER_QUEUE_URL is not set: the record waits for the redrive policy');
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.deadLetterQueueUrl, MessageBody: record.body, MessageGroupId: record.group || 'unknown', MessageDeduplicationId: record.messageId }),
    );
  }

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
