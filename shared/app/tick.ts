import type { Decision } from '../domain/decision.ts';
import { decide } from '../domain/decide.ts';
import type { Intent } from '../domain/intent.ts';
import type { Policy } from '../domain/policy.ts';
import type { TargetState } from '../domain/state.ts';
import type { Clock, IntentQueue, StateStore } from '../ports.ts';
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
}

/** Something the worker must record even when nothing scales. */
const stateMoves = (prior: TargetState | undefined, next: TargetState): boolean =>
  prior === undefined ||
  prior.window !== next.window ||
  prior.pause?.until !== next.pause?.until ||
  prior.alerts.length !== next.alerts.length ||
  prior.idleSince !== next.idleSince;

/**
 * The minute tick, level-triggered: re-evaluates every target against its active alerts,
 * schedule windows, pause expiry and GPU-pool idleness, and queues a tick intent only for
 * the targets where that changes something. A missed tick or webhook is recovered here.
 */
export const tick = async (policy: Policy, deps: { store: StateStore; queue: IntentQueue; clock: Clock }): Promise<TickSummary> => {
  const now = deps.clock.now();
  const states = new Map((await deps.store.list()).map((s) => [s.target, s]));
  const summary: TickSummary = { at: now.toISOString(), evaluations: 0, queued: [], foreseen: [], sizes: {}, gpuNodes: 0 };
  for (const target of policy.targets) {
    const prior = states.get(target.id);
    const intent: Intent = { id: tickIntentId(target.id, now), target: target.id, createdAt: now.toISOString(), source: 'tick', alerts: [] };
    const gpu = gpuViewFor(policy, target, states);
    const preview = decide(policy, prior, { intent, ...(gpu ? { gpu } : {}) }, now);
    summary.evaluations += 1;
    const size = prior?.desired ?? preview.from;
    summary.sizes[target.id] = size;
    if (target.kind === 'eks-nodegroup' && target.gpusPerNode > 0) summary.gpuNodes += size;
    if (preview.verdict === 'scale' || stateMoves(prior, preview.state)) {
      summary.queued.push(intent);
      summary.foreseen.push(preview);
    }
  }
  await deps.queue.send(summary.queued);
  return summary;
};
