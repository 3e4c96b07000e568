import { createHash, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Intent } from '../../domain/intent.ts';
import type { Clock, DeadRecord, IntentQueue, RetryBackoff, RetryEntry } from '../../ports.ts';

/** SQS FIFO drops a repeated deduplication id seen within five minutes. */
const DEDUP_WINDOW_MS = 5 * 60_000;
/** How long a received message stays hidden unless deleted (VisibilityTimeout in infra/cloudformation/queues.yml). */
export const VISIBILITY_TIMEOUT_SECONDS = 360;
/** Receives before a message moves to the dead-letter queue (the redrive policy's maxReceiveCount). */
const MAX_RECEIVES = 5;
/** Records per batch handed to the worker (the event source mapping's batchSize in serverless.yml). */
const BATCH_SIZE = 10;

export interface MemoryFifoOptions {
  /** The FIFO group of a target: a GPU pool and its workloads share one (the deployed queue's rule). */
  groupOf?: (target: string) => string;
  onSend?: () => void;
  onDeadLetter?: (message: QueuedMessage) => void;
}

/** A message as status shows it: its group (target), intent id (deduplication id) and deliveries so far. */
export interface QueuedMessage {
  target: string;
  intent: string;
  receives: number;
  /** Received and neither deleted nor back yet: the rest of its group waits. */
  inFlight: boolean;
}

interface Stored {
  messageId: string;
  group: string;
  target: string;
  deduplicationId: string;
  body: string;
  sentAt: number;
  sequence: number;
  receives: number;
  firstReceivedAt: number;
  hiddenUntil: number;
}

/**
 * An in-memory SQS FIFO queue, set as the deployed one and the worker's event source mapping,
 * with their semantics that matter here: messages of one group (target) are delivered in
 * order, and none while another of the group is in flight; a repeated deduplication id within
 * five minutes is dropped; a message that is not deleted comes back after the visibility
 * timeout, and moves to the dead-letter queue when it would be received a sixth time.
 */
export class MemoryFifoQueue implements IntentQueue, RetryBackoff {
  readonly #groups = new Map<string, Stored[]>();
  readonly #seen = new Map<string, number>();
  readonly #deadLetters: Stored[] = [];
  public sent = 0;

  public constructor(
    private readonly clock: Clock,
    private readonly options: MemoryFifoOptions = {},
  ) {}

  public async send(intents: readonly Intent[]): Promise<void> {
    const now = this.clock.now().getTime();
    for (const [id, at] of this.#seen) if (now - at >= DEDUP_WINDOW_MS) this.#seen.delete(id);
    for (const intent of intents) {
      if (this.#seen.has(intent.id)) continue;
      this.#seen.set(intent.id, now);
      const id = this.options.groupOf?.(intent.target) ?? intent.target;
      const group = this.#groups.get(id) ?? [];
      group.push({ messageId: randomUUID(), group: id, target: intent.target, deduplicationId: intent.id, body: JSON.stringify(intent), sentAt: now, sequence: this.sent + 1, receives: 0, firstReceivedAt: 0, hiddenUntil: 0 });
      this.#groups.set(id, group);
      this.sent += 1;
    }
    if (intents.length > 0) this.options.onSend?.();
  }

  /** The messages in the queue, by group and in order, and those moved to the dead-letter queue. */
  public snapshot(): { messages: QueuedMessage[]; deadLetters: QueuedMessage[] } {
    const now = this.clock.now().getTime();
    return {
      messages: [...this.#groups.values()].flat().map((m) => this.#view(m, now)),
      deadLetters: this.#deadLetters.map((m) => this.#view(m, now)),
    };
  }

  /** A batch, as ReceiveMessage gives it: the messages of every group with none in flight, in order. */
  #receive(): SQSRecord[] {
    const now = this.clock.now().getTime();
    const batch: SQSRecord[] = [];
    for (const [group, messages] of this.#groups) {
      if (messages.some((m) => m.hiddenUntil > now)) continue;
      for (const message of [...messages]) {
        if (batch.length === BATCH_SIZE) break;
        if (message.receives >= MAX_RECEIVES) {
          messages.splice(messages.indexOf(message), 1);
          this.#deadLetters.push(message);
          this.options.onDeadLetter?.(this.#view(message, now));
          continue;
        }
        message.receives += 1;
        message.firstReceivedAt ||= now;
        message.hiddenUntil = now + VISIBILITY_TIMEOUT_SECONDS * 1000;
        batch.push(this.#record(message));
      }
      if (messages.length === 0) this.#groups.delete(group);
    }
    return batch;
  }

  /** ChangeMessageVisibility: a received message comes back `seconds` from now. */
  public async retryAfter(entries: readonly RetryEntry[]): Promise<void> {
    const now = this.clock.now().getTime();
    const byHandle = new Map(entries.map((e) => [e.receiptHandle, e.seconds]));
    for (const message of [...this.#groups.values()].flat()) {
      const seconds = byHandle.get(message.messageId);
      if (seconds !== undefined) message.hiddenUntil = now + seconds * 1000;
    }
  }

  /** The worker's move of a record it can never apply: out of its group, into the dead letters. */
  public async deadLetter(record: DeadRecord): Promise<void> {
    const now = this.clock.now().getTime();
    for (const messages of this.#groups.values()) {
      const message = messages.find((m) => m.messageId === record.messageId);
      if (!message) continue;
      message.hiddenUntil = now;
      this.#deadLetters.push(message);
      this.options.onDeadLetter?.(this.#view(message, now));
    }
  }

  #delete(messageId: string): void {
    for (const [group, messages] of this.#groups) {
      const at = messages.findIndex((m) => m.messageId === messageId);
      if (at < 0) continue;
      messages.splice(at, 1);
      if (messages.length === 0) this.#groups.delete(group);
      return;
    }
  }

  /**
   * Feeds the queue to a worker as Lambda's SQS event source mapping does: batch after batch,
   * the records that succeeded deleted, those reported as failures left to come back after
   * the worker's backoff (or the visibility timeout). Returns when no message is visible.
   */
  public async drain(worker: (event: SQSEvent) => Promise<SQSBatchResponse>): Promise<void> {
    for (let batch = this.#receive(); batch.length > 0; batch = this.#receive()) {
      const { batchItemFailures } = await worker({ Records: batch });
      const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
      for (const record of batch) if (!failed.has(record.messageId)) this.#delete(record.messageId);
    }
  }

  #view(message: Stored, now: number): QueuedMessage {
    return { target: message.target, intent: message.deduplicationId, receives: message.receives, inFlight: message.hiddenUntil > now };
  }

  #record(message: Stored): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.messageId,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receives),
        SentTimestamp: String(message.sentAt),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
        MessageGroupId: message.group,
        MessageDeduplicationId: message.deduplicationId,
        SequenceNumber: String(message.sequence),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:intents.fifo',
      awsRegion: 'local',
    };
  }
}
