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
  /** The first reason is the headline; the rest explain the steps that shaped it. */
  reasons: Reason[];
  /** The rule, schedule or command that won. */
  rule?: string;
  fingerprints: string[];
  /** Emergency decisions may bypass cooldowns, soft bounds and pauses, never hard bounds. */
  emergency: boolean;
  state: TargetState;
  followUps: FollowUp[];
}

/** One line a person can read: `worker-llm 2 -> 3 scale [ScaleUp] rule llm-queue-buildup ...`. */
export const describeDecision = (d: Decision): string => {
  const headline = d.reasons[0];
  const arrow = d.verdict === 'scale' ? `${d.from} -> ${d.to}` : `${d.from} (${d.verdict})`;
  return `${d.target} ${arrow} [${headline?.code ?? 'NoChange'}]${d.rule ? ` ${d.rule}:` : ''} ${headline?.message ?? ''}`.trim();
};
