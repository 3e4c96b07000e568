import { type Decision, describeDecision } from '../domain/decision.ts';
import { decide } from '../domain/decide/index.ts';
import type { Intent } from '../domain/intent.ts';
import { isShadow, type Policy, type Target } from '../domain/policy.ts';
import { resolvePolicy } from '../domain/resolve.ts';
import type { Clock, EventSink, IntentQueue, NodeGroupScaler, StateStore, WorkloadScaler } from '../ports.ts';
import { gpuViewFor, stateIdsFor } from './gpuView.ts';
import { couplingIntentId } from './intentIds.ts';

export interface WorkerDeps {
  store: StateStore;
  queue: IntentQueue;
  nodeGroups: NodeGroupScaler;
  workloads: WorkloadScaler;
  events: EventSink;
  clock: Clock;
}

const currentSize = (target: Target, deps: Pick<WorkerDeps, 'nodeGroups' | 'workloads'>): Promise<number> =>
  target.kind === 'eks-nodegroup' ? deps.nodeGroups.current(target) : deps.workloads.current(target);

/**
 * The scaling worker's use case, the single writer of a target's state: read state fresh,
 * re-decide, apply the absolute size, then write the state. A GPU workload asks its pool
 * for nodes (a coupling intent) before its own pods scale.
 */
export const applyIntent = async (
  policy: Policy,
  intent: Intent,
  deps: WorkerDeps,
  options: { redelivered?: boolean } = {},
): Promise<Decision> => {
  const target = resolvePolicy(policy).target(intent.target);
  if (!target) throw new Error(`intent ${intent.id} names target "${intent.target}", which the policy does not have`);
  const states = await deps.store.getMany(stateIdsFor(target));
  // --- shadow mode (policy `mode: shadow`) ---
  // The live size is read once, to start from; after that it is not the recorded size by
  // design, and must not read as drift. (A pool and its workloads share one mode: the policy says so.)
  const shadow = isShadow(policy, target);
  const observed = shadow && typeof states.get(target.id)?.desired === 'number' ? undefined : await currentSize(target, deps);
  const gpu = gpuViewFor(target, states);
  const decided = decide(
    target,
    states.get(target.id),
    { intent, ...(observed !== undefined ? { observed } : {}), ...(options.redelivered ? { redelivered: true } : {}), ...(gpu ? { gpu } : {}) },
    deps.clock.now(),
  );
  const decision = shadow ? { ...decided, shadow: true as const } : decided;
  // --- end shadow mode ---
  if (decision.verdict === 'scale') {
    if (decision.followUps.length > 0) {
      await deps.queue.send(
        decision.followUps.map((f) => ({
          id: couplingIntentId(f.target, f.ensureAtLeast, intent.id),
          target: f.target,
          createdAt: decision.at,
          source: 'coupling' as const,
          alerts: [],
          ensureAtLeast: f.ensureAtLeast,
          reason: describeDecision(decision).slice(0, 160),
        })),
      );
    }
    if (shadow) {
      // Recorded below as if applied; no scaling API is called.
    } else if (target.kind === 'eks-nodegroup') await deps.nodeGroups.scaleTo(target, decision.to, intent.id);
    else await deps.workloads.scaleTo(target, decision.to, intent.id, { pin: decision.hpa === 'pin' });
  }
  await deps.store.put(decision.state);
  if (decision.verdict !== 'none') await deps.events.publish([decision]);
  return decision;
};
