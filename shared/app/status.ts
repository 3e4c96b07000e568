import { limitsInForce } from '../domain/decide/limits.ts';
import type { Policy } from '../domain/policy.ts';
import { resolvePolicy } from '../domain/resolve.ts';
import { activeWindow } from '../domain/schedule.ts';
import type { HistoryEntry } from '../domain/state.ts';
import type { Clock, StateStore } from '../ports.ts';

export interface TargetStatus {
  id: string;
  kind: string;
  desired: number | null;
  generation: number;
  hardBounds: { min: number; max: number };
  /** The bounds in force now: hard bounds narrowed by the active window's floor and ceiling. */
  bounds: { min: number; max: number };
  window: { id: string; desired?: number | string; floor?: number; ceiling?: number; entry?: { to: number; done: boolean } } | null;
  /** Seconds left per rule (alert and metric rules) whose cooldown still runs. */
  cooldowns: Record<string, number>;
  warmupLeft: number;
  scaleDownDelayLeft: number;
  pause: { until: string; reason: string; pinned?: true } | null;
  /** Firing vetoes: no automatic scale-up while any is listed. */
  vetoes: string[];
  alerts: { alertname: string; fingerprint: string; since: string; rules: string[] }[];
  lastDecisions: HistoryEntry[];
}

/** The per-target view an operator or Grafana reads; its limits come from the decision's own functions. */
export const status = async (policy: Policy, deps: { store: StateStore; clock: Clock }): Promise<TargetStatus[]> => {
  const now = deps.clock.now().getTime();
  const states = await deps.store.list();
  return resolvePolicy(policy).targets.map((target) => {
    const state = states.get(target.id);
    const limits = limitsInForce(target, state, now);
    const occurrence = activeWindow(target.schedules, now);
    const sizes = occurrence?.schedule.targets[target.id];
    const desired = sizes?.desired === undefined ? {} : { desired: typeof sizes.desired === 'number' ? sizes.desired : `${sizes.desired.factor}x` };
    const entry = occurrence && state?.window === occurrence.schedule.id && state.windowEntry ? { entry: { to: state.windowEntry.to, done: state.windowEntry.done } } : {};
    return {
      id: target.id,
      kind: target.kind,
      desired: state?.desired ?? null,
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
      pause: limits.pause,
      vetoes: limits.vetoes,
      alerts: (state?.alerts ?? []).map((a) => ({ alertname: a.alertname, fingerprint: a.fingerprint, since: a.startsAt, rules: a.rules })),
      lastDecisions: [...(state?.history ?? [])].reverse(),
    };
  });
};
