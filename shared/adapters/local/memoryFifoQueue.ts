import type { Intent } from '../../domain/intent.ts';
import type { Clock, IntentQueue } from '../../ports.ts';

/** SQS FIFO drops a repeated deduplication id seen within five minutes. */
const DEDUP_WINDOW_MS = 5 * 60_000;

export interface QueuedMessage {
  intent: Intent;
  /** Deliveries so far, like SQS's ApproximateReceiveCount. */
  receiveCount: number;
}

/**
 * An in-memory FIFO queue with SQS FIFO's semantics that matter here: messages of one
 * group (target) are delivered in order and one at a time, a repeated deduplication id
 * within five minutes is dropped, and a message that fails `maxReceives` times moves to a DLQ.
 */
export class MemoryFifoQueue implements IntentQueue {
  readonly #groups = new Map<string, QueuedMessage[]>();
  readonly #inFlight = new Set<string>();
  readonly #seen = new Map<string, number>();
  public readonly deadLetters: QueuedMessage[] = [];
  public sent = 0;

  public constructor(
    private readonly clock: Clock,
    private readonly maxReceives = 5,
    private readonly onSend: () => void = () => undefined,
  ) {}

  public async send(intents: readonly Intent[]): Promise<void> {
    const now = this.clock.now().getTime();
    for (const [id, at] of this.#seen) if (now - at >= DEDUP_WINDOW_MS) this.#seen.delete(id);
    for (const intent of intents) {
      if (this.#seen.has(intent.id)) continue;
      this.#seen.set(intent.id, now);
      const group = this.#groups.get(intent.target) ?? [];
      group.push({ intent, receiveCount: 0 });
      this.#groups.set(intent.target, group);
      this.sent += 1;
    }
    if (intents.length > 0) this.onSend();
  }

  public get depth(): number {
    let n = 0;
    for (const group of this.#groups.values()) n += group.length;
    return n;
  }

  /** The head of every group that has nothing in flight. */
  public receive(): QueuedMessage[] {
    const batch: QueuedMessage[] = [];
    for (const [group, messages] of this.#groups) {
      const head = messages[0];
      if (!head || this.#inFlight.has(group)) continue;
      head.receiveCount += 1;
      this.#inFlight.add(group);
      batch.push(head);
    }
    return batch;
  }

  public ack(message: QueuedMessage): void {
    const group = this.#groups.get(message.intent.target);
    group?.shift();
    if (group?.length === 0) this.#groups.delete(message.intent.target);
    this.#inFlight.delete(message.intent.target);
  }

  /** A failed delivery: retried later, or dead-lettered after `maxReceives`. */
  public nack(message: QueuedMessage): void {
    this.#inFlight.delete(message.intent.target);
    if (message.receiveCount < this.maxReceives) return;
    this.ack(message);
    this.deadLetters.push(message);
  }
}
