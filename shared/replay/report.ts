import { type Decision, describeDecision, headlineOf } from '../domain/decision.ts';
import { limitsInForce } from '../domain/decide/limits.ts';
import { type ResolvedTarget, resolvePolicy } from '../domain/resolve.ts';
import { activeWindow, nextWindowChange } from '../domain/schedule.ts';
import type { ReplayResult } from './replay.ts';

const HOUR = 3_600_000;

/** A target's size from `at` on. */
export interface SizePoint {
  at: number;
  size: number;
}

/** The size a target had over the replay: its initial size, then each scale decision's. */
export const sizeSteps = (result: ReplayResult, target: string): SizePoint[] => [
  { at: result.from, size: result.initial[target] ?? 0 },
  ...result.decisions.filter((d) => d.target === target && d.verdict === 'scale').map((d) => ({ at: Date.parse(d.at), size: d.to })),
];

/** The largest size a target had. */
export const peakOf = (steps: readonly SizePoint[]): number => Math.max(...steps.map((s) => s.size));

/** Size x hours between `from` and `to` of a step function. */
const sizeHours = (steps: readonly SizePoint[], to: number): number =>
  steps.reduce((sum, step, i) => sum + (step.size * ((steps[i + 1]?.at ?? to) - step.at)) / HOUR, 0);

/** What a GPU pool cost over the replay, and what a pool kept at its peak would have. */
export interface PoolHours {
  pool: string;
  nodeHours: number;
  peak: number;
  /** A static pool sized for the peak, running the whole time. */
  staticNodeHours: number;
}

export const gpuNodeHours = (result: ReplayResult): PoolHours[] =>
  result.policy.targets.flatMap((target) => {
    if (target.kind !== 'eks-nodegroup' || target.gpusPerNode === 0) return [];
    const steps = sizeSteps(result, target.id);
    const peak = peakOf(steps);
    return [{ pool: target.id, nodeHours: sizeHours(steps, result.to), peak, staticNodeHours: (peak * (result.to - result.from)) / HOUR }];
  });

/** A stretch of time under one window (or none), with the bounds in force then. */
export interface WindowSpan {
  target: string;
  window: string | null;
  start: number;
  end: number;
  min: number;
  max: number;
}

/** The windows in force for a target over the replay, edge to edge, as decide() and status see them. */
export const windowSpans = (result: ReplayResult, target: ResolvedTarget): WindowSpan[] => {
  const spans: WindowSpan[] = [];
  for (let start = result.from; start < result.to; ) {
    const end = Math.min(nextWindowChange(target.schedules, start), result.to);
    const window = activeWindow(target.schedules, start)?.schedule.id ?? null;
    const { bounds } = limitsInForce(target, undefined, start);
    const last = spans.at(-1);
    if (last && last.window === window && last.min === bounds.min && last.max === bounds.max) last.end = end;
    else spans.push({ target: target.id, window, start, end, min: bounds.min, max: bounds.max });
    start = end;
  }
  return spans;
};

/** One alert active on a target from `start` to `end`. */
export interface AlertSpanOnTarget {
  target: string;
  alert: string;
  start: number;
  end: number;
}

/** The alerts each target held, from the replay's changes of its active alerts. */
export const alertSpans = (result: ReplayResult): AlertSpanOnTarget[] => {
  const open = new Map<string, AlertSpanOnTarget>();
  const spans: AlertSpanOnTarget[] = [];
  for (const change of result.alerts) {
    for (const [key, span] of open) {
      if (span.target !== change.target || change.alerts.includes(span.alert)) continue;
      span.end = change.at;
      spans.push(span);
      open.delete(key);
    }
    for (const alert of change.alerts) {
      const key = `${change.target}\n${alert}`;
      if (!open.has(key)) open.set(key, { target: change.target, alert, start: change.at, end: result.to });
    }
  }
  return [...spans, ...open.values()].sort((a, b) => a.start - b.start);
};

const stampFormats = new Map<string, Intl.DateTimeFormat>();

/** `Wed 2027-03-10 18:00 EST`: an instant as the policy's schedules read it. */
export const localStamp = (instant: number, zone: string): string => {
  let format = stampFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
    });
    stampFormats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const seconds = parts.second === '00' ? '' : `:${parts.second}`;
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds} ${parts.timeZoneName}`;
};

/** One transition as the commands print it: the local time, then the decision's own line. */
export const transitionLine = (decision: Decision, zone: string): string => `${localStamp(Date.parse(decision.at), zone)}  ${describeDecision(decision)}`;

/** A decision as `--json` gives it: what moved, why, and what limited it. */
export const transitionJson = (decision: Decision, zone: string) => ({
  at: decision.at,
  local: localStamp(Date.parse(decision.at), zone),
  target: decision.target,
  from: decision.from,
  to: decision.to,
  verdict: decision.verdict,
  ...(decision.rule ? { rule: decision.rule } : {}),
  ...(decision.cause ? { cause: decision.cause } : {}),
  ...(decision.limitedBy ? { limitedBy: decision.limitedBy } : {}),
  reasons: decision.reasons,
});

const hours = (value: number): string => `${Number(value.toFixed(2))}`;
const money = (value: number): string => `$${value.toFixed(2)}`;

/** The GPU pools' node-hours, their cost at `price` per node-hour, against a static pool sized for the peak. */
export const costLines = (pools: readonly PoolHours[], price?: number): string[] =>
  pools.map((p) => {
    const cost = (nodeHours: number) => (price === undefined ? '' : ` (${money(nodeHours * price)})`);
    const saved = p.staticNodeHours > 0 ? `, ${Math.round((1 - p.nodeHours / p.staticNodeHours) * 100)}% less` : '';
    return `${p.pool}: ${hours(p.nodeHours)} GPU-node-hours${cost(p.nodeHours)}; a static pool of ${p.peak} node(s) for the peak: ${hours(p.staticNodeHours)}${cost(p.staticNodeHours)}${saved}`;
  });

/** The transitions only one of two runs took: `-` only in the old policy's, `+` only in the new one's. */
export const differingTransitions = (old: ReplayResult, next: ReplayResult): { side: '-' | '+'; decision: Decision }[] => {
  const key = (d: Decision) => `${d.at} ${d.target} ${d.from}->${d.to} ${headlineOf(d)?.code ?? ''}`;
  const scaled = (r: ReplayResult) => r.decisions.filter((d) => d.verdict === 'scale');
  const oldKeys = new Set(scaled(old).map(key));
  const newKeys = new Set(scaled(next).map(key));
  return [
    ...scaled(old).filter((d) => !newKeys.has(key(d))).map((decision) => ({ side: '-' as const, decision })),
    ...scaled(next).filter((d) => !oldKeys.has(key(d))).map((decision) => ({ side: '+' as const, decision })),
  ].sort((a, b) => Date.parse(a.decision.at) - Date.parse(b.decision.at) || (a.side === '-' ? -1 : 1));
};

/** The resolved targets of a replay's policy, in the policy's order. */
export const targetsOf = (result: ReplayResult): readonly ResolvedTarget[] => resolvePolicy(result.policy).targets;
