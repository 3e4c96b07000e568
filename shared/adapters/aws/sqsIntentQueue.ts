import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Intent } from '../../domain/intent.ts';
import type { IntentQueue } from '../../ports.ts';

/** SendMessageBatch takes at most 10 entries, and 256 KiB of bodies in all. */
const BATCH = 10;
const BATCH_BYTES = 256 * 1024 - 4 * 1024;

/** Consecutive intents in batches SendMessageBatch accepts, order kept. */
const batchesOf = (intents: readonly Intent[]): Intent[][] => {
  const batches: Intent[][] = [];
  let batch: Intent[] = [];
  let bytes = 0;
  for (const intent of intents) {
    const size = Buffer.byteLength(JSON.stringify(intent));
    if (batch.length === BATCH || (batch.length > 0 && bytes + size > BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(intent);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
};

/**
 * Intents on the SQS FIFO queue: MessageGroupId = the target's FIFO group (one in flight per
 * group, the one-writer invariant; a GPU pool and its workloads share one), and
 * MessageDeduplicationId = intent id (a repeated intent within five minutes is dropped by
 * SQS). The batches go out together; resolves only when every entry is accepted.
 */
export class SqsIntentQueue implements IntentQueue {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly groupOf: (target: string) => string = (target) => target,
  ) {}

  public async send(intents: readonly Intent[]): Promise<void> {
    // Batches go out together, except that one waits for an earlier one sharing a group:
    // SQS keeps a group's order only between calls that follow one another.
    const last = new Map<string, Promise<void>>();
    const sends = batchesOf(intents).map((batch) => {
      const groups = [...new Set(batch.map((intent) => this.groupOf(intent.target)))];
      const sent = Promise.all(groups.map((g) => last.get(g))).then(() => this.sendBatch(batch));
      for (const g of groups) last.set(g, sent);
      return sent;
    });
    await Promise.all(sends);
  }

  private async sendBatch(batch: readonly Intent[]): Promise<void> {
    const { Failed = [] } = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((intent, n) => ({
            Id: String(n),
            MessageBody: JSON.stringify(intent),
            MessageGroupId: this.groupOf(intent.target),
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
