import type { WorkloadHealth } from './domain/decide/context.ts';
import type { Decision } from './domain/decision.ts';
import type { Intent } from './domain/intent.ts';
import type { Series } from './domain/metrics.ts';
import type { MetricRule, NodeGroupTarget, WorkloadTarget } from './domain/policy.ts';
import type { TargetState } from './domain/state.ts';
import type { TickRecord } from './domain/tickRecord.ts';

/**
 * State documents by target, as read. A document that cannot be read is not an error for the
 * others: it is listed in `unreadable` with the problem, and only its own target suffers.
 */
export class StateRead extends Map<string, TargetState> {
  public readonly unreadable = new Map<string, string>();
}

/** Where each target's state document lives (SSM Parameter Store, or files locally). */
export interface StateStore {
  /**
   * Reads bypass any cache: decisions are made on fresh state. (The worker's batch keeps what
   * it read and wrote itself, app/batchStateStore.ts: as its group's single writer, it is fresh.)
   */
  getMany(targets: readonly string[]): Promise<StateRead>;
  list(): Promise<StateRead>;
  /** Only the scaling worker calls this (one writer per target). */
  put(state: TargetState): Promise<void>;
}

/** The tick's own document: its counters and what it last read. Only the tick writes it. */
export interface TickRecordStore {
  get(): Promise<TickRecord | undefined>;
  put(record: TickRecord): Promise<void>;
}

/** The FIFO queue between producers and the worker: group = target, deduplication id = intent id. */
export interface IntentQueue {
  /** Resolves only when every intent is durably queued; throws otherwise. */
  send(intents: readonly Intent[]): Promise<void>;
}

/** A returned queue record and how long it stays hidden before its next delivery. */
export interface RetryEntry {
  receiptHandle: string;
  seconds: number;
}

/** A queue record that can never be an intent, as it came. */
export interface DeadRecord {
  messageId: string;
  group: string;
  body: string;
}

/**
 * What the worker does with records it cannot take now: brings failed ones back sooner (or
 * later) than the queue's visibility timeout, as SQS's ChangeMessageVisibility does (a
 * throttled call is retried in seconds, not six minutes), and moves one that can never parse
 * to the dead-letter queue itself, so the intents behind it in its group are not dragged along.
 */
export interface RetryBackoff {
  retryAfter(entries: readonly RetryEntry[]): Promise<void>;
  /** Resolves once the record is in the dead-letter queue; throws otherwise. */
  deadLetter(record: DeadRecord): Promise<void>;
}

/** EKS managed node groups. */
export interface NodeGroupScaler {
  current(target: NodeGroupTarget): Promise<number>;
  /** Sets the desired size; `token` makes a retried call idempotent. */
  scaleTo(target: NodeGroupTarget, desired: number, token: string): Promise<void>;
}

/** Deployments (scale subresource) and HPAs (minReplicas/maxReplicas). */
export interface WorkloadScaler {
  current(target: WorkloadTarget): Promise<number>;
  /**
   * Sets the size. On an HPA `pin` sets minReplicas = maxReplicas = desired (an emergency
   * size the HPA must not undo); otherwise minReplicas = desired within the target's max.
   */
  scaleTo(target: WorkloadTarget, desired: number, token: string, options?: { pin?: boolean }): Promise<void>;
}

/**
 * What Kubernetes shows of the pods and nodes the scaler sizes, read beside the sizes and
 * never written: whether a step is Ready, what a disruption budget allows, which GPU nodes joined.
 */
export interface ClusterHealth {
  /** A workload's rollout (ready, updated, available replicas) and the PodDisruptionBudget selecting its pods. */
  workload(target: WorkloadTarget): Promise<WorkloadHealth>;
  /** The node group's nodes that are Ready with `nvidia.com/gpu` allocatable. */
  gpuNodes(pool: NodeGroupTarget): Promise<number>;
}

/** The audit trail: one event per decision that acted or was refused. */
export interface EventSink {
  publish(decisions: readonly Decision[]): Promise<void>;
}

/** CloudWatch metrics (or their local stand-in), read once per tick for every metric rule. */
export interface MetricSource {
  /** Each rule's datapoints up to `now`, newest first; throws when the source cannot be read. */
  read(rules: readonly MetricRule[], now: Date): Promise<Map<string, Series>>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** What says whether the service itself runs: the minute tick and the intents the worker gave up on. */
export interface ServiceHealth {
  /** When the tick last ran, as far as this host can see; null when it saw none. */
  lastTickAt(): Promise<string | null>;
  /** Messages in the intent dead-letter queue; null when this host cannot read it. */
  deadLetters(): Promise<number | null>;
}
