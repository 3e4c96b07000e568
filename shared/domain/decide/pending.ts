import { reason, type Reason } from '../reasons.ts';
import type { ResolvedTarget } from '../resolve.ts';
import type { AuditRecord, TargetState } from '../state.ts';
import { since } from './context.ts';
import type { Intent } from '../intent.ts';

// The worker records an action in the state before it calls EKS or Kubernetes. The next
// delivery reads the live size against that record, so a crash or a failed call anywhere
// never scales twice and never drops an action that did not happen.

export type Settled =
  /** Nothing was pending, or what was is finished: decide as usual from `state`. */
  | { kind: 'settled'; state: TargetState; notes: Reason[]; outbox: AuditRecord[] }
  /** This intent's own action did not happen: act again, to the recorded size. */
  | { kind: 'retry'; state: TargetState; to: number; why: Reason }
  /** This intent's own action happened: finish the record, act no more. */
  | { kind: 'done'; state: TargetState; why: Reason; outbox: AuditRecord[] };

export const settlePending = (target: ResolvedTarget, prior: TargetState, intent: Intent, observed: number | undefined, now: number): Settled => {
  const pending = prior.pending;
  if (!pending || observed === undefined) return { kind: 'settled', state: prior, notes: [], outbox: [] };
  const { pending: _p, ...rest } = prior;
  const acted = observed === pending.to;
  const mine = pending.audit.intent === intent.id;
  if (acted) {
    const why = reason('RecoveredUnrecordedAction', `the recorded action ${pending.from} -> ${pending.to} of intent ${pending.audit.intent} happened (live ${observed}); finished without acting again`);
    return mine ? { kind: 'done', state: rest, why, outbox: [pending.audit] } : { kind: 'settled', state: rest, notes: [why], outbox: [pending.audit] };
  }
  const stale = since(now, pending.audit.at) > target.defaults.maxAge[intent.source];
  if (mine && (pending.emergency || !stale)) {
    return { kind: 'retry', state: rest, to: pending.to, why: reason('PendingActionRetried', `the recorded action ${pending.from} -> ${pending.to} did not happen (live ${observed}); acting again`) };
  }
  // Its intent is gone (dead-lettered) or too old to act: the size it recorded never was.
  const why = reason('PendingAbandoned', `the recorded action ${pending.from} -> ${pending.to} of intent ${pending.audit.intent} never happened (live ${observed}); dropped`);
  return { kind: 'settled', state: { ...rest, desired: pending.from }, notes: [why], outbox: [] };
};
