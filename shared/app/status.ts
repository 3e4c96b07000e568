import { activeWindow } from '../domain/schedule.ts';
import { cooldownOf, type Policy } from '../domain/policy.ts';
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
  window: { id: string; desired?: number; floor?: number; ceiling?: number } | null;
  /** Seconds left per rule whose cooldown still runs. */
  cooldowns: Record<string, number>;
  pause: { until: string; reason: string } | null;
  alerts: { alertname: string; fingerprint: string; since: string; rules: string[] }[];
  lastDecisions: HistoryEntry[];
}

/** The per-target view an operator or Grafana reads. */
export const status = async (policy: Policy, deps: { store: StateStore; clock: Clock }): Promise<TargetStatus[]> => {
  const now = deps.clock.now().getTime();
  const states = new Map((await deps.store.list()).map((s) => [s.target, s]));
  return policy.targets.map((target) => {
    const state = states.get(target.id);
    const occurrence = activeWindow(policy, target, now);
    const sizes = occurrence?.schedule.targets[target.id];
    const elapsed = state?.lastScaleAt ? (now - Date.parse(state.lastScaleAt)) / 1000 : Number.POSITIVE_INFINITY;
    const cooldowns: Record<string, number> = {};
    for (const rule of policy.rules.filter((r) => r.target === target.id)) {
      const left = Math.ceil(cooldownOf(policy, rule) - elapsed);
      if (left > 0) cooldowns[rule.id] = left;
    }
    const pause = state?.pause && Date.parse(state.pause.until) > now ? state.pause : null;
    return {
      id: target.id,
      kind: target.kind,
      desired: state?.desired ?? null,
      generation: state?.generation ?? 0,
      hardBounds: { min: target.min, max: target.max },
      bounds: { min: Math.max(target.min, sizes?.floor ?? target.min), max: Math.min(target.max, sizes?.ceiling ?? target.max) },
      window: occurrence ? { id: occurrence.schedule.id, ...sizes } : null,
      cooldowns,
      pause,
      alerts: (state?.alerts ?? []).map((a) => ({ alertname: a.alertname, fingerprint: a.fingerprint, since: a.startsAt, rules: a.rules })),
      lastDecisions: [...(state?.history ?? [])].reverse(),
    };
  });
};
