import type { Reason } from './reasons.ts';
import type { TargetState } from './state.ts';

/** `scale`: set the target to `to`; `hold`: something wanted a change and was stopped; `none`: nothing to do. */
export type Verdict = 'scale' | 'hold' | 'none';

/** A request to another target, made by this decision (a GPU workload asking its pool for nodes). */
export interface FollowUp {
  target: string;
  ensureAtLeast: number;
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
  /** The target is in shadow mode: decided and recorded, and no scaling API was called. */
  shadow?: true;
}

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
