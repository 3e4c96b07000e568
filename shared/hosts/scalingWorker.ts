import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { applyIntent, type WorkerDeps } from '../app/applyIntent.ts';
import type { Decision } from '../domain/decision.ts';
import { type Intent, intentSchema } from '../domain/intent.ts';
import type { Policy } from '../domain/policy.ts';
import { RetryableScalingError } from '../errors.ts';

/**
 * A record is started only with this much of the function's time left: one intent's reads,
 * scaling call and writes fit well inside it (each AWS call times out at 5 s).
 */
const MIN_REMAINING_MS = 20_000;

/** Where a record came from: its FIFO group (the target) and how often it was delivered. */
export interface RecordOrigin {
  messageId: string;
  group: string;
  receives: number;
}

/**
 * A record that failed and goes back to the queue: `notAnIntent` can never succeed (the
 * queue's maxReceiveCount dead-letters it), `retryable` may succeed later, `failed` needs
 * someone to look.
 */
export type RecordFailure = RecordOrigin &
  ({ kind: 'notAnIntent'; problems: string[] } | { kind: 'retryable' | 'failed'; intent: Intent; error: Error });

/** What a host does with each outcome: Lambda logs and counts it, the local runtime prints it. */
export interface WorkerReport {
  decided(decision: Decision): void;
  failed(failure: RecordFailure): void;
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

/**
 * The scaling worker, single writer of target state, for every host: the Lambda handler and
 * the local runtime hand it the same SQS FIFO batches. Records run in order; a failed record
 * goes back to the queue and so do the records behind it in its group (its target waits for
 * it), while the other groups of the batch go on.
 */
export const scalingWorker = (policy: Policy, deps: WorkerDeps, report: WorkerReport): ScalingWorker => {
  // The processor holds the batch it works on: one batch at a time per worker, as Lambda runs it.
  const processor = new SqsFifoPartialProcessorAsync();
  const processRecord = async (record: SQSRecord, context?: Context): Promise<void> => {
    const origin: RecordOrigin = { messageId: record.messageId, group: record.attributes.MessageGroupId ?? '', receives: Number(record.attributes.ApproximateReceiveCount) };
    if (context && context.getRemainingTimeInMillis() < MIN_REMAINING_MS) {
      // Not started: back to the queue untouched, rather than cut off halfway by the timeout.
      throw new RetryableScalingError(`message ${record.messageId} not started: ${context.getRemainingTimeInMillis()} ms left of the function's time`);
    }
    const parsed = intentSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      report.failed({ ...origin, kind: 'notAnIntent', problems: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) });
      throw new Error(`message ${record.messageId} is not an intent`);
    }
    const intent = parsed.data;
    try {
      report.decided(await applyIntent(policy, intent, deps));
    } catch (error) {
      report.failed({ ...origin, kind: error instanceof RetryableScalingError ? 'retryable' : 'failed', intent, error: error as Error });
      throw error;
    }
  };
  return (event, context) =>
    processPartialResponse(event, processRecord, processor, { context, skipGroupOnError: true, throwOnFullBatchFailure: false });
};
