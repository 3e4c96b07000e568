import type { Decision } from '../domain/decision.ts';
import { decide } from '../domain/decide/index.ts';
import type { Intent } from '../domain/intent.ts';
import { evaluateMetricRule, type MetricSignal } from '../domain/metrics.ts';
import type { Policy } from '../domain/policy.ts';
import { resolvePolicy } from '../domain/resolve.ts';
import type { TargetState } from '../domain/state.ts';
import type { Clock, IntentQueue, MetricSource, StateStore } from '../ports.ts';
import { gpuViewFor } from './gpuView.ts';
import { tickIntentId } from './intentIds.ts';

/** What one tick saw and did; the handler turns it into the heartbeat metrics. */
export interface TickSummary {
  at: string;
  evaluations: number;
  queued: Intent[];
  /** The decisions the tick foresaw for the targets it queued (the worker decides again). */
  foreseen: Decision[];
  /** Desired size per target, as recorded. */
  sizes: Record<string, number>;
  gpuNodes: number;
  /** GPU pools with more nodes than their workloads need (the runbook's `scaling_gpu_pool_idle`). */
  idlePools: string[];
  /** Targets that want a change a limit holds back (a cooldown, a delay): a later tick may act on them. */
  waiting: string[];
  /** Values of metric rules that name a `gauge`, e.g. scaling_pending_training_jobs. */
  gauges: Record<string, number>;
  /** Set when CloudWatch could not be read this tick. */
  metricError?: string;
  /** Targets whose state document cannot be read, with the problem: each holds until overwritten. */
  unreadable: Record<string, string>;
}

/** Reads every metric rule in one go; a failure leaves each rule with the error as its signal. */
const readSignals = async (policy: Policy, metrics: MetricSource | undefined, now: Date): Promise<{ signals: MetricSignal[]; error?: string }> => {
  if (policy.metricRules.length === 0 || !metrics) return { signals: [] };
  try {
    const series = await metrics.read(policy.metricRules, now);
    return { signals: policy.metricRules.map((rule) => evaluateMetricRule(rule, series.get(rule.id) ?? [])) };
  } catch (error) {
    const message = `${(error as Error).name}: ${(error as Error).message}`.slice(0, 200);
    return { signals: policy.metricRules.map((rule) => ({ rule: rule.id, error: message })), error: message };
  }
};

/** What the tick read for each target's metric rules, and the gauges some of them name. */
export interface TargetSignals {
  byTarget: Map<string, MetricSignal[]>;
  gauges: Record<string, number>;
  error?: string;
}

/**
 * Reads every metric rule once and hands each target its rules' signals: the tick carries them
 * in its intents, and explain reads them the same way to say what that tick would do.
 */
export const readTargetSignals = async (policy: Policy, metrics: MetricSource | undefined, now: Date): Promise<TargetSignals> => {
  const read = await readSignals(policy, metrics, now);
  const rules = new Map(policy.metricRules.map((r) => [r.id, r]));
  const byTarget = new Map<string, MetricSignal[]>();
  const gauges: Record<string, number> = {};
  for (const signal of read.signals) {
    const rule = rules.get(signal.rule);
    if (!rule) continue;
    byTarget.set(rule.target, [...(byTarget.get(rule.target) ?? []), signal]);
    if (rule.gauge && signal.value !== undefined) gauges[rule.gauge] = signal.value;
  }
  return { byTarget, gauges, ...(read.error ? { error: read.error } : {}) };
};

/** The intent a tick queues for a target: its readings ride along, so the worker decides on them. */
export const tickIntent = (target: string, now: Date, metrics: readonly MetricSignal[], id = tickIntentId(target, now)): Intent => ({
  id, target, createdAt: now.toISOString(), source: 'tick', alerts: [],
  ...(metrics.length > 0 ? { metrics: [...metrics] } : {}),
});

/** Something the worker must record even when nothing scales. */
const stateMoves = (prior: TargetState | undefined, next: TargetState): boolean =>
  prior === undefined ||
  prior.window !== next.window ||
  prior.pause?.until !== next.pause?.until ||
  prior.alerts.length !== next.alerts.length ||
  prior.idleSince !== next.idleSince ||
  prior.windowEntry?.done !== next.windowEntry?.done ||
  prior.windowReturn?.after !== next.windowReturn?.after ||
  readingsOf(prior) !== readingsOf(next) ||
  // Audit events a failed publish left behind go out on the next delivery: make one now.
  (prior.outbox?.length ?? 0) > 0;

/** What a target's metric readings say, without when they were read. */
const readingsOf = (state: TargetState): string => JSON.stringify((state.readings ?? []).map(({ at: _at, ...reading }) => reading));

/** A target's minute within the reconcile interval: stable, and spread evenly by its id. */
const reconcileSlot = (target: string, minutes: number): number => {
  let hash = 0;
  for (let i = 0; i < target.length; i++) hash = (hash * 31 + target.charCodeAt(i)) >>> 0;
  return hash % minutes;
};

/**
 * The minute tick, level-triggered: re-evaluates every target against its active alerts,
 * schedule windows, pause expiry and GPU-pool idleness, and queues a tick intent only for
 * the targets where that changes something, and for every target each `reconcileEvery`
 * so the worker compares it with its live size. A missed tick or webhook is recovered here.
 */
export const tick = async (
  policy: Policy,
  deps: { store: StateStore; queue: IntentQueue; clock: Clock; metrics?: MetricSource },
): Promise<TickSummary> => {
  const now = deps.clock.now();
  const [states, read] = await Promise.all([deps.store.list(), readTargetSignals(policy, deps.metrics, now)]);
  const summary: TickSummary = {
    at: now.toISOString(), evaluations: 0, queued: [], foreseen: [], sizes: {}, gpuNodes: 0, idlePools: [], waiting: [], gauges: read.gauges,
    // A leftover document of a target the policy no longer has is no one's to mend: not counted.
    unreadable: Object.fromEntries([...states.unreadable].filter(([id]) => policy.targets.some((t) => t.id === id))),
    ...(read.error ? { metricError: read.error } : {}),
  };
  // Drift (someone else resized a target) shows only against the live size, which the worker reads.
  // Each target has its own minute in the interval, so a round of reconciles is spread over it
  // instead of every target's live size being read, and state written, in the same minute.
  const minutes = policy.defaults.reconcileEvery / 60;
  const minute = Math.floor(now.getTime() / 60_000);
  const reconciles = (target: string) => (minute + reconcileSlot(target, minutes)) % minutes === 0;
  for (const target of resolvePolicy(policy).targets) {
    const prior = states.get(target.id);
    const metrics = read.byTarget.get(target.id) ?? [];
    const intent = tickIntent(target.id, now, metrics);
    const gpu = gpuViewFor(target, states);
    const preview = decide(target, prior, { intent, ...(gpu ? { gpu } : {}) }, now);
    summary.evaluations += 1;
    const size = prior?.desired ?? preview.from;
    summary.sizes[target.id] = size;
    if (target.kind === 'eks-nodegroup' && target.gpusPerNode > 0) summary.gpuNodes += size;
    if (preview.state.idleSince !== undefined) summary.idlePools.push(target.id);
    if (preview.verdict === 'hold') summary.waiting.push(target.id);
    // A hold that asks another target for something (a pool for nodes) is worth a delivery too.
    // A document that cannot be read stays so until an operator command overwrites it (the worker
    // only holds it): its reconcile minute keeps that hold in view without one every minute.
    const changes = !states.unreadable.has(target.id) && (preview.verdict === 'scale' || preview.followUps.length > 0 || stateMoves(prior, preview.state));
    if (changes || reconciles(target.id)) {
      summary.queued.push(intent);
      summary.foreseen.push(preview);
    }
  }
  await deps.queue.send(summary.queued);
  return summary;
};
