import type { Reason } from './reasons.ts';
import type { AuditRecord, TargetState } from './state.ts';

/** `scale`: set the target to `to`; `hold`: something wanted a change and was stopped; `none`: nothing to do. */
export type Verdict = 'scale' | 'hold' | 'none';

/**
 * A request to another target, or to itself, made by this decision: a GPU workload asks its
 * pool for nodes (`ensureAtLeast`), then to be evaluated again once the pool has grown (no
 * `ensureAtLeast`); both share the pool's FIFO group, so they run in that order.
 */
export interface FollowUp {
  target: string;
  ensureAtLeast?: number;
}

/** The outcome of `decide()`: what to do, why, and the state to write afterwards. */
export interface Decision {
  target: string;
  intentId: string;
  source: string;
  at: string;
  from: number;
  to: number;
  verdict: Verdict;
  /** What proposed the decision (a rule, a window, a command...), when anything did. */
  cause?: Reason;
  /** The limit that changed what the cause asked for (cooldown, veto, pause, bounds...). */
  limitedBy?: Reason;
  /** The first reason is the headline (`limitedBy ?? cause`); the rest explain the steps that shaped it. */
  reasons: Reason[];
  /** The rule, schedule or command that won. */
  rule?: string;
  fingerprints: string[];
  /** Emergency decisions may bypass cooldowns, soft bounds and pauses, never hard bounds. */
  emergency: boolean;
  state: TargetState;
  followUps: FollowUp[];
  /**
   * An HPA target's bounds change even when its size does not: `pin` sets minReplicas =
   * maxReplicas (an emergency size), `release` gives the HPA back its range.
   */
  hpa?: 'pin' | 'release';
  /** Who asked, for an operator's command. */
  actor?: string;
  /** Audit records of earlier actions a crash left unpublished: the worker publishes them too. */
  outbox: AuditRecord[];
  /** Set on an audit event that may repeat one already sent (published again from the outbox). */
  possibleDuplicate?: true;
  /** A hold the history already ends with (same limit, same sizes): not recorded or published again. */
  repeated?: true;
  /** The target is in shadow mode: decided and recorded, and no scaling API was called. */
  shadow?: true;
}

/** The compact audit record the state keeps for an action until its event is published. */
export const auditRecordOf = (d: Decision): AuditRecord => {
  const headline = d.reasons[0];
  return {
    intent: d.intentId,
    generation: d.state.generation,
    at: d.at,
    source: d.source,
    from: d.from,
    to: d.to,
    verdict: d.verdict,
    code: headline?.code ?? 'NoChange',
    ...(d.cause && d.limitedBy ? { cause: d.cause.code } : {}),
    message: (headline?.message ?? '').slice(0, 160),
    ...(d.rule ? { rule: d.rule } : {}),
    emergency: d.emergency,
    ...(d.actor ? { by: d.actor } : {}),
  };
};

/** An audit event rebuilt from its record: the action it tells of may have been told once already. */
export const decisionFromAudit = (target: string, record: AuditRecord, state: TargetState): Decision => ({
  target,
  intentId: record.intent,
  source: record.source,
  at: record.at,
  from: record.from,
  to: record.to,
  verdict: record.verdict,
  reasons: [{ code: record.code as Reason['code'], message: record.message }],
  ...(record.rule ? { rule: record.rule } : {}),
  fingerprints: [],
  emergency: record.emergency,
  state: { ...state, generation: record.generation },
  followUps: [],
  ...(record.by ? { actor: record.by } : {}),
  outbox: [],
  possibleDuplicate: true,
});

/** The reason a decision is counted and shown by: what limited it, else what caused it. */
export const headlineOf = (d: Pick<Decision, 'reasons'>): Reason | undefined => d.reasons[0];

/**
 * One line a person can read: `worker-llm 3 (hold) [VetoedByAlert] peak: ... <- ScheduleEntry: ...`,
 * the headline first, then what it stopped or changed.
 */
export const describeDecision = (d: Decision): string => {
  const headline = headlineOf(d);
  const arrow = d.verdict === 'scale' ? `${d.from} -> ${d.to}` : `${d.from} (${d.verdict})`;
  const cause = d.limitedBy && d.cause && headline?.code !== d.cause.code ? ` <- ${d.cause.code}: ${d.cause.message}` : '';
  return `${d.target}${d.shadow ? ' (shadow)' : ''} ${arrow} [${headline?.code ?? 'NoChange'}]${d.rule ? ` ${d.rule}:` : ''} ${headline?.message ?? ''}${cause}`.trim();
};
