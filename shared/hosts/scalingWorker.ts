import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { applyIntent, type WorkerDeps } from '../app/applyIntent.ts';
import { batchStateStore } from '../app/batchStateStore.ts';
import type { Decision } from '../domain/decision.ts';
import { type Intent, intentSchema } from '../domain/intent.ts';
import type { Policy } from '../domain/policy.ts';
import { RetryableScalingError } from '../errors.ts';
import type { RetryBackoff, RetryEntry } from '../ports.ts';

/**
 * A record is started only with this much of the function's time left: one intent's reads,
 * scaling call and writes fit well inside it (each AWS call times out at 5 s).
 */
const MIN_REMAINING_MS = 20_000;

/**
 * How long a returned record stays hidden: 30 s after its first delivery, doubling with each
 * one (30, 60, 120, 240 s; the queue's maxReceiveCount of 5 dead-letters it after about 7.5
 * minutes), never past the queue's own 360 s. Jittered down to half, so that targets
 * throttled together do not come back together ("equal jitter").
 */
export const retryDelaySeconds = (receives: number, random: () => number = Math.random): number => {
  const ceiling = Math.min(360, 30 * 2 ** Math.max(0, receives - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
};

/** Where a record came from: its FIFO group (the target) and how often it was delivered. */
export interface RecordOrigin {
  messageId: string;
  group: string;
  receives: number;
}

/**
 * A record that failed: `unusable` can never succeed (not an intent, or an intent for a target
 * the policy no longer has) and goes to the dead-letter queue alone; `retryable` may succeed
 * later, `failed` needs someone to look; both go back to the queue.
 */
export type RecordFailure = RecordOrigin &
  ({ kind: 'unusable'; why: string; problems: string[] } | { kind: 'retryable' | 'failed'; intent: Intent; error: Error });

/** What a host does with each outcome: Lambda logs and counts it, the local runtime prints it. */
export interface WorkerReport {
  decided(decision: Decision): void;
  failed(failure: RecordFailure): void;
  /** The backoff could not be set, or a record not moved to the dead-letter queue: those come back with the queue's own timing. */
  backoffFailed(records: number, error: Error): void;
}

/** A batch of queue records in, the records to return to the queue out (SQS's partial batch response). */
export type ScalingWorker = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** A record's intent, or why the worker can never apply it: not an intent, or one for a target the policy no longer has. */
const usableIntent = (body: string, targets: ReadonlySet<string>): { intent: Intent } | { why: string; problems: string[] } => {
  const parsed = intentSchema.safeParse(safeJson(body));
  if (!parsed.success) return { why: 'is not an intent', problems: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
  if (!targets.has(parsed.data.target)) return { why: 'names a target the policy does not have', problems: [`target "${parsed.data.target}" (intent ${parsed.data.id}): removed from the policy since it was queued?`] };
  return { intent: parsed.data };
};

/**
 * The scaling worker, single writer of target state, for every host: the Lambda handler and
 * the local runtime hand it the same SQS FIFO batches. Records run in order; a failed record
 * goes back to the queue and so do the records behind it in its group (its target waits for
 * it), while the other groups of the batch go on.
 */
export const scalingWorker = (policy: Policy, deps: WorkerDeps, report: WorkerReport, backoff: RetryBackoff): ScalingWorker => {
  // The processor holds the batch it works on: one batch at a time per worker, as Lambda runs it.
  const processor = new SqsFifoPartialProcessorAsync();
  const targets = new Set(policy.targets.map((t) => t.id));
  // Per batch: the delay of each group that failed, which the records it skipped share (the
  // group's next message may not overtake the one that failed).
  let delays = new Map<string, number>();
  // Per batch: the state documents it read or wrote, which its later records need not read again.
  let batchDeps = deps;
  const processRecord = async (record: SQSRecord, context?: Context): Promise<void> => {
    const origin: RecordOrigin = { messageId: record.messageId, group: record.attributes.MessageGroupId ?? '', receives: Number(record.attributes.ApproximateReceiveCount) };
    delays.set(origin.group, retryDelaySeconds(origin.receives));
    if (context && context.getRemainingTimeInMillis() < MIN_REMAINING_MS) {
      // Never tried: back at once for the next invocation.
      delays.set(origin.group, 0);
      // Not started: back to the queue untouched, rather than cut off halfway by the timeout.
      throw new RetryableScalingError(`message ${record.messageId} not started: ${context.getRemainingTimeInMillis()} ms left of the function's time`);
    }
    const checked = usableIntent(record.body, targets);
    if ('why' in checked) {
      report.failed({ ...origin, kind: 'unusable', ...checked });
      // Retrying cannot mend it, and returning it would return the intents behind it in its
      // group too, each delivery counting against them: it goes to the dead-letter queue alone.
      try {
        await backoff.deadLetter({ messageId: record.messageId, group: origin.group, body: record.body });
        return;
      } catch (error) {
        report.backoffFailed(1, error as Error);
      }
      // Not moved: back at once, so that the redrive policy dead-letters it in seconds.
      delays.set(origin.group, 0);
      throw new Error(`message ${record.messageId} ${checked.why}`);
    }
    const { intent } = checked;
    try {
      report.decided(await applyIntent(policy, intent, batchDeps));
    } catch (error) {
      report.failed({ ...origin, kind: error instanceof RetryableScalingError ? 'retryable' : 'failed', intent, error: error as Error });
      throw error;
    }
  };
  return async (event, context) => {
    delays = new Map();
    batchDeps = { ...deps, store: batchStateStore(deps.store) };
    const response = await processPartialResponse(event, processRecord, processor, { context, skipGroupOnError: true, throwOnFullBatchFailure: false });
    const returned = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    const entries: RetryEntry[] = event.Records.filter((r) => returned.has(r.messageId)).map((r) => ({
      receiptHandle: r.receiptHandle,
      seconds: delays.get(r.attributes.MessageGroupId ?? '') ?? retryDelaySeconds(Number(r.attributes.ApproximateReceiveCount)),
    }));
    if (entries.length > 0) {
      // Best effort: without it the records still come back, after the visibility timeout.
      await backoff.retryAfter(entries).catch((error: unknown) => report.backoffFailed(entries.length, error as Error));
    }
    return response;
  };
};
