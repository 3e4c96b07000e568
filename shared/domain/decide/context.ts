import type { FollowUp } from '../decision.ts';
import type { PoolMember } from '../gpu.ts';
import type { Intent } from '../intent.ts';
import type { NodeGroupTarget } from '../policy.ts';
import type { Source } from '../precedence.ts';
import type { Reason } from '../reasons.ts';
import type { ResolvedTarget } from '../resolve.ts';
import type { Occurrence } from '../schedule.ts';
import type { TargetState } from '../state.ts';

/** The pool a GPU workload runs on, or the workloads a pool carries. */
export interface GpuView {
  pool: NodeGroupTarget;
  /** The pool's size as its own state records it. */
  poolDesired: number;
  members: PoolMember[];
  /** Members whose state document cannot be read: their size is unknown, so the pool never shrinks under them. */
  unknown?: string[];
  /** The pool's nodes Kubernetes shows Ready with `nvidia.com/gpu` allocatable, where the caller can see them. */
  nodesSeen?: number;
  /** When the pool last grew, from its state: new nodes have `joinTimeout` from then to join. */
  grownAt?: string;
  /** Until when an operator paused the pool, from its state: it grows for no workload before then. */
  poolPausedUntil?: string;
}

/**
 * What Kubernetes says about a workload's pods, read beside its size: the rollout from the
 * Deployment's status, and the disruption budget that selects its pods.
 */
export interface WorkloadHealth {
  /** status.readyReplicas, updatedReplicas and availableReplicas (absent counts are 0). */
  ready: number;
  updated: number;
  available: number;
  /** The least `disruptionsAllowed` of the PodDisruptionBudgets selecting the pods, and its name; absent when none does. */
  budget?: { name: string; disruptionsAllowed: number };
}

export interface DecideInput {
  intent: Intent;
  /** The live size read from EKS or Kubernetes, when the caller has it. */
  observed?: number;
  gpu?: GpuView;
  /** The workload's pods, when the caller can read them: readiness holds ups, the budget downs. */
  health?: WorkloadHealth;
}

/** One source's wish: a size, the reason it gives, and what it needs to be paced by. */
export interface Candidate {
  source: Source;
  /** From the precedence table, or the rule's priority. */
  rank: number;
  to: number;
  cause: Reason;
  /** The rule, window or command id. */
  rule?: string;
  cooldown?: number;
  fingerprints: string[];
}

/** What the chain carries from limit to limit. */
export interface Proposal {
  source: Source | 'none';
  to: number;
  /** What proposed it; undefined when nothing asked for a change. */
  cause?: Reason;
  /** The first limit that changed it. */
  limitedBy?: Reason;
  /** Something wanted a change and was stopped. */
  held: boolean;
  rule?: string;
  cooldown?: number;
  notes: Reason[];
  fingerprints: string[];
  followUps: FollowUp[];
}

/** What the decision knows: the target, the state after reading the intent, the instant. */
export interface Context {
  target: ResolvedTarget;
  intent: Intent;
  state: TargetState;
  now: number;
  /** The size decisions start from: recorded, or live where it drifted. */
  base: number;
  window?: Occurrence;
  gpu?: GpuView;
  health?: WorkloadHealth;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

// Decisions read the same few instants over and over (an alert's seenAt, the last scale-up),
// and Date.parse dominates the cost of observing; a small memo keeps it off the hot path.
const parsed = new Map<string, number>();

/** Milliseconds of an ISO instant. */
export const ms = (at: string): number => {
  let value = parsed.get(at);
  if (value === undefined) {
    if (parsed.size >= 4096) parsed.clear();
    value = Date.parse(at);
    parsed.set(at, value);
  }
  return value;
};

/** Seconds since an ISO instant; infinite when it never happened. */
export const since = (now: number, at: string | undefined): number =>
  at === undefined ? Number.POSITIVE_INFINITY : (now - ms(at)) / 1000;
