import { auditRecordOf, type Decision, decisionFromAudit, describeDecision } from '../domain/decision.ts';
import { decide, holdUnreadable } from '../domain/decide/index.ts';
import type { Intent } from '../domain/intent.ts';
import type { Policy } from '../domain/policy.ts';
import { isShadow } from '../domain/policyLookups.ts';
import { type ResolvedTarget, resolvePolicy } from '../domain/resolve.ts';
import { type ActiveAlert, compactState, STATE_LIMITS, type TargetState, targetStateSchema } from '../domain/state.ts';
import { alertUrgency } from '../domain/decide/observe.ts';
import type { WorkloadHealth } from '../domain/decide/index.ts';
import type { ClusterHealth, Clock, EventSink, IntentQueue, NodeGroupScaler, StateStore, WorkloadScaler } from '../ports.ts';
import { gpuViewFor, stateIdsFor } from './gpuView.ts';
import { couplingIntentId } from './intentIds.ts';

export interface WorkerDeps {
  store: StateStore;
  queue: IntentQueue;
  nodeGroups: NodeGroupScaler;
  workloads: WorkloadScaler;
  events: EventSink;
  clock: Clock;
  /** Readiness, disruption budgets and joined GPU nodes; a host without it decides on sizes alone. */
  health?: ClusterHealth;
}

const currentSize = (target: ResolvedTarget, deps: Pick<WorkerDeps, 'nodeGroups' | 'workloads'>): Promise<number> =>
  target.kind === 'eks-nodegroup' ? deps.nodeGroups.current(target) : deps.workloads.current(target);

const scaleTo = (target: ResolvedTarget, decision: Decision, deps: WorkerDeps): Promise<void> =>
  target.kind === 'eks-nodegroup'
    ? deps.nodeGroups.scaleTo(target, decision.to, decision.intentId)
    : deps.workloads.scaleTo(target, decision.to, decision.intentId, { pin: decision.hpa === 'pin' });

/** A workload's pods, read beside its size: readiness holds the next up, a disruption budget a down. */
const workloadHealth = (target: ResolvedTarget, deps: Pick<WorkerDeps, 'health'>): Promise<WorkloadHealth | undefined> =>
  target.kind === 'eks-nodegroup' || !deps.health ? Promise.resolve(undefined) : deps.health.workload(target);

/** A GPU workload's pods wait for its pool's nodes to have joined, not only to be asked for. */
const nodesSeen = (target: ResolvedTarget, deps: Pick<WorkerDeps, 'health'>): Promise<number | undefined> =>
  target.kind === 'eks-nodegroup' || !target.gpuPool || !deps.health ? Promise.resolve(undefined) : deps.health.gpuNodes(target.gpuPool);

/** What a write would change, beyond the bookkeeping every decision does. */
const changes = (prior: TargetState | undefined, next: TargetState): boolean => {
  if (!prior) return true;
  const strip = ({ generation: _g, recentIntents: _r, ...rest }: TargetState) => JSON.stringify(rest);
  return strip(prior) !== strip(next);
};

/** Whether a decision has an audit event of its own: it acted, or was first held. */
const hasEvent = (decision: Decision): boolean => decision.verdict !== 'none' && !decision.repeated;

/** The events of a decision: its own, and those an earlier crash left in the outbox. */
const eventsOf = (decision: Decision): Decision[] => [
  ...(hasEvent(decision) ? [decision] : []),
  ...decision.outbox.map((record) => decisionFromAudit(decision.target, record, decision.state)),
];

const followUpsOf = (decision: Decision, intent: Intent): Intent[] =>
  decision.followUps.map((f) => ({
    id: couplingIntentId(f.target, f.ensureAtLeast ?? -1, intent.id),
    target: f.target,
    createdAt: decision.at,
    source: 'coupling' as const,
    alerts: [],
    ...(f.ensureAtLeast !== undefined ? { ensureAtLeast: f.ensureAtLeast } : {}),
    // Evaluating itself again, a workload needs the readings it was decided on.
    ...(f.target === intent.target && intent.metrics ? { metrics: intent.metrics } : {}),
    reason: describeDecision(decision).slice(0, 160),
  }));

/**
 * The scaling worker's use case, the single writer of a target's state: read state fresh,
 * re-decide, and for an action: record it as pending, call EKS or Kubernetes with the
 * absolute size, publish its audit event, then record it done. A redelivery compares the
 * live size with the pending record (see decide/pending.ts), so nothing scales twice and
 * nothing that did not happen is taken as done. A state document that cannot be read holds
 * its own target's automatic decisions (operator commands overwrite it); others go on.
 */
export const applyIntent = async (policy: Policy, intent: Intent, deps: WorkerDeps): Promise<Decision> => {
  const target = resolvePolicy(policy).target(intent.target);
  if (!target) throw new Error(`intent ${intent.id} names target "${intent.target}", which the policy does not have`);
  // A shadow target (policy `mode: shadow`) is decided and recorded, and never scaled: its live
  // size is read once, to start from, and after that must not read as drift.
  const shadow = isShadow(policy, target);
  // The target's own document first: a worker batch reads it afresh, the others once (app/batchStateStore.ts).
  const [states, live, health, seen] = await Promise.all([deps.store.getMany(stateIdsFor(target)), currentSize(target, deps), workloadHealth(target, deps), nodesSeen(target, deps)]);
  const prior = states.get(target.id);
  const observed = shadow && typeof prior?.desired === 'number' ? undefined : live;
  const unreadable = states.unreadable.get(target.id);
  if (unreadable !== undefined && !intent.command) {
    const held = holdUnreadable(target, intent, unreadable, live, deps.clock.now());
    await deps.events.publish([held]);
    return held;
  }
  const gpu = gpuViewFor(target, states, seen);
  const decided = decide(target, prior, { intent, ...(observed !== undefined ? { observed } : {}), ...(gpu ? { gpu } : {}), ...(health ? { health } : {}) }, deps.clock.now());
  const decision = shadow ? { ...decided, shadow: true as const } : decided;
  // A document the next read would refuse must never be written: fail here, loudly, instead.
  const next = targetStateSchema.parse(decision.state);
  if (decision.followUps.length > 0) await deps.queue.send(followUpsOf(decision, intent));
  const urgency = alertUrgency(target);
  if (decision.verdict === 'scale' && !shadow) {
    const pending = { to: decision.to, from: decision.from, emergency: decision.emergency, ...(decision.hpa ? { pin: decision.hpa === 'pin' } : {}), audit: auditRecordOf(decision) };
    // Compacted again with the pending record, which the decision's own compaction did not see.
    await deps.store.put(compactState({ ...next, pending }, urgency));
    await scaleTo(target, decision, deps);
    await deps.store.put(await publish(decision, next, deps, urgency));
    return decision;
  }
  const published = await publish(decision, next, deps, urgency);
  if (changes(prior, published)) await deps.store.put(published);
  return decision;
};

/**
 * Publishes a decision's audit events; those that cannot be sent stay in the state's outbox
 * for the next delivery. An action already taken is never undone or repeated for its event.
 */
const publish = async (decision: Decision, next: TargetState, deps: WorkerDeps, urgency: (alert: ActiveAlert) => number): Promise<TargetState> => {
  const events = eventsOf(decision);
  if (events.length === 0) return next;
  try {
    await deps.events.publish(events);
    return next;
  } catch {
    const unsent = [...(hasEvent(decision) ? [auditRecordOf(decision)] : []), ...decision.outbox];
    return compactState({ ...next, outbox: unsent.slice(-STATE_LIMITS.outbox) }, urgency);
  }
};
