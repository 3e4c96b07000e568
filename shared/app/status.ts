import type { WorkloadHealth } from '../domain/decide/context.ts';
import { limitsInForce, readinessHold } from '../domain/decide/limits.ts';
import type { Policy } from '../domain/policy.ts';
import { isShadow } from '../domain/policyLookups.ts';
import type { Reason } from '../domain/reasons.ts';
import { resolvePolicy } from '../domain/resolve.ts';
import { activeWindow } from '../domain/schedule.ts';
import type { HistoryEntry, TargetState } from '../domain/state.ts';
import type { Clock, ServiceHealth, StateStore } from '../ports.ts';

/** The runbook's "evaluations stalled": the tick runs every minute, three without one is a stall. */
export const TICK_STALE_SECONDS = 180;

export interface TargetStatus {
  id: string;
  kind: string;
  /** `shadow`: decisions are recorded and no scaling API is called (policy `mode`). */
  mode: 'live' | 'shadow';
  /** The size the scaler last set (in shadow mode: would have set). */
  desired: number | null;
  /** The size the cluster reports, where this host can read it; null otherwise. */
  live: number | null;
  generation: number;
  hardBounds: { min: number; max: number };
  /** The bounds in force now: hard bounds narrowed by the active window's floor and ceiling. */
  bounds: { min: number; max: number };
  window: { id: string; desired?: number | string; floor?: number; ceiling?: number; entry?: { to: number; done: boolean } } | null;
  /** Seconds left per rule (alert and metric rules) whose cooldown still runs. */
  cooldowns: Record<string, number>;
  warmupLeft: number;
  scaleDownDelayLeft: number;
  /**
   * The last step's pods not yet Ready (`WaitingForReady`), or not Ready past `readyTimeout`
   * (`StepNotReady`): the next automatic scale-up holds. Null when they are, or where this host
   * cannot read the pods.
   */
  readiness: Reason | null;
  /** `by`: who set it; `since`: when, from the history while it is there. */
  pause: { until: string; reason: string; by?: string; pinned?: true; since?: string } | null;
  /** Firing vetoes: no automatic scale-up while any is listed. */
  vetoes: string[];
  alerts: { alertname: string; fingerprint: string; since: string; rules: string[] }[];
  /**
   * Vetoes that firing alerts pushed out of the state (`AlertsTruncated` among `vetoes`): kept by
   * fingerprint alone until each is seen resolved or expires; `forgottenUntil` when more had to go.
   */
  droppedVetoes: { fingerprints: { fingerprint: string; since: string }[]; forgottenUntil?: string } | null;
  /** Newest first; `code` is what limited or caused it, `cause` what proposed it when a limit changed it. */
  lastDecisions: HistoryEntry[];
  /** Set when the target's state document could not be read: this target is not decided on. */
  error?: string;
}

export interface StatusReport {
  at: string;
  /** False when any `problems` is listed: the operator's command exits non-zero. */
  healthy: boolean;
  problems: string[];
  /** The last tick the host knows of; null when none was seen. */
  lastTickAt: string | null;
  /** Intents the worker gave up on; null when this host cannot read the dead-letter queue. */
  deadLetters: number | null;
  targets: TargetStatus[];
}

export interface StatusDeps {
  store: StateStore;
  clock: Clock;
  health: ServiceHealth;
  /** The live size of a target, where the host can read it. */
  live?: (target: string) => number | undefined;
  /** A workload's pods (ready, updated, available), where the host can read them. */
  pods?: (target: string) => WorkloadHealth | undefined;
}

/** The emergency sizes that pin an HPA target (recorded as the headline, or as the cause a limit changed). */
const PINNING = new Set(['EmergencyDouble', 'EmergencySet', 'EmergencyScaleToMin']);

/** When the pause in force began: its PauseSet, or for a pin the emergency size that set it. */
const pauseSince = (state: TargetState | undefined): { since?: string } => {
  const began = state?.pause?.pinned ? (h: HistoryEntry) => PINNING.has(h.code) || PINNING.has(h.cause ?? '') : (h: HistoryEntry) => h.code === 'PauseSet';
  const set = [...(state?.history ?? [])].reverse().find(began);
  return set ? { since: set.at } : {};
};

/**
 * The per-target view an operator or Grafana reads, and whether the service is healthy; its
 * limits come from the decision's own functions.
 */
export const status = async (policy: Policy, deps: StatusDeps): Promise<StatusReport> => {
  const now = deps.clock.now().getTime();
  const resolved = resolvePolicy(policy);
  const problems: string[] = [];
  // Health that cannot be read is a problem to report, not a reason to show nothing.
  const unread = (what: string) => (error: Error) => {
    problems.push(`${what} could not be read: ${error.message}`);
    return undefined;
  };
  const [states, tick, deadLetters = null] = await Promise.all([
    deps.store.list(),
    deps.health.lastTickAt().catch(unread('the last tick')),
    deps.health.deadLetters().catch(unread('the dead-letter queue')),
  ]);
  const lastTickAt = tick ?? null;
  const targets = resolved.targets.map((target): TargetStatus => {
    const state = states.get(target.id);
    const limits = limitsInForce(target, state, now);
    const occurrence = activeWindow(target.schedules, now);
    const sizes = occurrence?.schedule.targets[target.id];
    const desired = sizes?.desired === undefined ? {} : { desired: typeof sizes.desired === 'number' ? sizes.desired : `${sizes.desired.factor}x` };
    const entry = occurrence && state?.window === occurrence.schedule.id && state.windowEntry ? { entry: { to: state.windowEntry.to, done: state.windowEntry.done } } : {};
    const error = states.unreadable.get(target.id);
    const size = deps.live?.(target.id) ?? state?.desired;
    const waiting = state && size !== undefined && size !== null ? readinessHold(target, state, size, deps.pods?.(target.id), now) : undefined;
    return {
      id: target.id,
      kind: target.kind,
      mode: isShadow(policy, target) ? 'shadow' : 'live',
      desired: state?.desired ?? null,
      live: deps.live?.(target.id) ?? null,
      generation: state?.generation ?? 0,
      hardBounds: { min: target.min, max: target.max },
      bounds: { min: limits.bounds.min, max: limits.bounds.max },
      window: occurrence
        ? {
            id: occurrence.schedule.id,
            ...desired,
            ...(sizes?.floor !== undefined ? { floor: sizes.floor } : {}),
            ...(sizes?.ceiling !== undefined ? { ceiling: sizes.ceiling } : {}),
            ...entry,
          }
        : null,
      cooldowns: limits.cooldowns,
      warmupLeft: limits.warmupLeft,
      scaleDownDelayLeft: limits.scaleDownDelayLeft,
      readiness: waiting ?? null,
      pause: limits.pause ? { ...limits.pause, ...pauseSince(state) } : null,
      vetoes: limits.vetoes,
      alerts: (state?.alerts ?? []).map((a) => ({ alertname: a.alertname, fingerprint: a.fingerprint, since: a.startsAt, rules: a.rules })),
      droppedVetoes:
        state?.droppedVetoes || state?.vetoesForgottenUntil
          ? { fingerprints: (state.droppedVetoes ?? []).map((d) => ({ fingerprint: d.fingerprint, since: d.startsAt })), ...(state.vetoesForgottenUntil ? { forgottenUntil: state.vetoesForgottenUntil } : {}) }
          : null,
      lastDecisions: [...(state?.history ?? [])].reverse(),
      ...(error ? { error } : {}),
    };
  });
  const tickAge = lastTickAt === null ? 0 : (now - Date.parse(lastTickAt)) / 1000;
  if (tick === null) problems.push('no tick seen: schedules, alert expiry and idle pools are not re-evaluated');
  else if (tickAge > TICK_STALE_SECONDS) problems.push(`no tick for ${Math.floor(tickAge / 60)} minutes (last ${lastTickAt}): evaluations stalled`);
  if (deadLetters !== null && deadLetters > 0) problems.push(`${deadLetters} intent(s) in the dead-letter queue: scaling actions that did not happen`);
  for (const target of policy.targets) {
    const message = states.unreadable.get(target.id);
    if (message !== undefined) problems.push(`state of ${target.id} could not be read: ${message}`);
  }
  return { at: new Date(now).toISOString(), healthy: problems.length === 0, problems, lastTickAt, deadLetters, targets };
};
