import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Intent } from '../../domain/intent.ts';
import type { IntentQueue } from '../../ports.ts';

/** SendMessageBatch takes at most 10 entries. */
const BATCH = 10;

/**
 * Intents on the SQS FIFO queue: MessageGroupId = target (one in flight per target, the
 * one-writer invariant), MessageDeduplicationId = intent id (a repeated intent within five
 * minutes is dropped by SQS). Resolves only when every entry is accepted.
 */
export class SqsIntentQueue implements IntentQueue {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  public async send(intents: readonly Intent[]): Promise<void> {
    for (let i = 0; i < intents.length; i += BATCH) {
      const batch = intents.slice(i, i + BATCH);
      const { Failed = [] } = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((intent, n) => ({
            Id: String(n),
            MessageBody: JSON.stringify(intent),
            MessageGroupId: intent.target,
            MessageDeduplicationId: intent.id,
          })),
        }),
      );
      if (Failed.length > 0) {
        const first = Failed[0];
        throw new Error(`SQS refused ${Failed.length} of ${batch.length} intent(s): ${first?.Code} ${first?.Message ?? ''}`.trim());
      }
    }
  }
}
