import { LocalAutoscaler } from '../adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../adapters/local/memoryStateStore.ts';
import { ReplayClock } from '../adapters/local/replayClock.ts';
import type { TickSummary } from '../app/tick.ts';
import type { Decision } from '../domain/decision.ts';
import { periodsNeeded } from '../domain/metrics.ts';
import type { Policy } from '../domain/policy.ts';
import { type ResolvedTarget, resolvePolicy } from '../domain/resolve.ts';
import { nextWindowChange } from '../domain/schedule.ts';
import type { TargetState } from '../domain/state.ts';
import type { History } from './history.ts';

const MINUTE = 60_000;

export interface ReplayOptions {
  from: number;
  to: number;
  history: History;
  /**
   * Tick every minute, even through hours where nothing can change. The result is the same
   * (a test holds the two to it); only slower.
   */
  everyMinute?: boolean;
  /** Told the share of the range done after each tick. */
  progress?: (done: number) => void;
}

/** A target's active alerts from `at` on. */
export interface AlertChange {
  target: string;
  at: number;
  alerts: string[];
}

export interface ReplayResult {
  policy: Policy;
  from: number;
  to: number;
  /** Each target's size when the replay began: its hard min, as a first deployment finds it. */
  initial: Record<string, number>;
  /** Every decision that scaled a target or was held back, in the order the worker took them. */
  decisions: Decision[];
  alerts: AlertChange[];
  /** Ticks run; a minute-by-minute replay runs one per minute. */
  ticks: number;
}

/** An error of the replay itself: the scaler refused history it should take, or a record kept failing. */
export class ReplayError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

const ceilMinute = (instant: number): number => Math.ceil(instant / MINUTE) * MINUTE;

/**
 * Until when a target's state stays as it is with no notice and no tick finding anything to
 * do: its next timer (a pause ends, an event window's return comes due, an idle pool's
 * `idleAfter` runs out), infinity when it has none. Undefined while an alert is active: its
 * rules may act again as cooldowns end, and whether a repeated notice counts as new depends
 * on the intents the reconcile ticks leave in the state, so those minutes are all run.
 */
const restsUntil = (target: ResolvedTarget, state: TargetState): number | undefined => {
  if (state.alerts.length > 0) return undefined;
  const idleAfter = target.kind === 'eks-nodegroup' ? target.idleAfter : undefined;
  return Math.min(
    state.pause ? Date.parse(state.pause.until) : Number.POSITIVE_INFINITY,
    state.windowReturn ? Date.parse(state.windowReturn.after) : Number.POSITIVE_INFINITY,
    state.idleSince && idleAfter !== undefined ? Date.parse(state.idleSince) + idleAfter * 1000 : Number.POSITIVE_INFINITY,
  );
};

/**
 * Runs `policy` over a span of time on the local runtime, the one `npm start` runs: the real
 * webhook, tick and worker use cases and decide(), on an in-memory queue, state and simulated
 * cluster, with a clock the replay moves. History is fed at its own instants, and the tick
 * runs at every minute where anything can change. Where nothing can (no decision, no limit
 * holding a change back, no active alert, metrics settled), it sleeps until the next window
 * edge, timer or history event: the ticks it skips would have decided nothing (verdict none)
 * and only noted themselves in the states' lists of recent intents.
 */
export const replay = async (policy: Policy, options: ReplayOptions): Promise<ReplayResult> => {
  const { from, to, history } = options;
  const clock = new ReplayClock(from);
  const store = new MemoryStateStore();
  // The last lines the runtime printed (worker failures among them), to say why a replay failed.
  const printed: string[] = [];
  const print = (line: string) => {
    printed.push(line);
    if (printed.length > 20) printed.shift();
  };
  const autoscaler = new LocalAutoscaler({ policy, clock, store, print });
  const resolved = resolvePolicy(policy);
  const schedules = resolved.targets.flatMap((t) => t.schedules);
  // A metric rule looks back this far: once the newest datapoint is older, its reading stays put.
  const metricMemory = Math.max(0, ...policy.metricRules.map((r) => (periodsNeeded(r) + 1) * r.period * 1000));
  const result: ReplayResult = {
    policy, from, to, decisions: [], alerts: [], ticks: 0,
    initial: Object.fromEntries(policy.targets.map((t) => [t.id, t.min])),
  };
  const alertsNow = new Map<string, string>();

  /** Takes the decisions since the last call: keeps those that acted or held, notes alert changes. */
  const collect = (): Decision[] => {
    const taken = autoscaler.decisions.splice(0);
    for (const decision of taken) {
      const names = decision.state.alerts.map((a) => a.alertname).sort();
      if ((alertsNow.get(decision.target) ?? '') !== names.join()) {
        alertsNow.set(decision.target, names.join());
        result.alerts.push({ target: decision.target, at: Date.parse(decision.at), alerts: names });
      }
      if (decision.verdict !== 'none') result.decisions.push(decision);
    }
    return taken;
  };

  let lastMetricAt = Number.NEGATIVE_INFINITY;
  /** Until when nothing can change after this tick, if nothing can now. */
  const quietUntil = async (summary: TickSummary, decided: readonly Decision[], now: number): Promise<number | undefined> => {
    if (summary.waiting.length > 0 || decided.some((d) => d.verdict !== 'none') || now - lastMetricAt <= metricMemory) return undefined;
    let until = nextWindowChange(schedules, now);
    for (const state of (await store.list()).values()) {
      const target = resolved.target(state.target);
      const rest = target && restsUntil(target, state);
      if (rest === undefined) return undefined;
      until = Math.min(until, rest);
    }
    return until;
  };

  const notices = history.notices.filter((n) => n.at >= from && n.at < to);
  const points = history.metrics.filter((p) => p.at >= from && p.at < to);
  let n = 0;
  let m = 0;
  let next = ceilMinute(from);
  // Until the last tick before `to`, and then until the history between it and `to` is fed too:
  // a range shorter than a minute, or a notice in its last minute, still reaches the scaler.
  while (next < to || n < notices.length || m < points.length) {
    // History first, each at its own instant: what happened before this minute's tick.
    const notice = notices[n];
    const point = points[m];
    if (point && point.at <= next && (!notice || point.at <= notice.at)) {
      clock.set(point.at);
      autoscaler.metrics.put(point.metric, point.value, new Date(point.at));
      lastMetricAt = point.at;
      m += 1;
      continue;
    }
    if (notice && notice.at <= next) {
      clock.set(notice.at);
      const answer = await autoscaler.handle('POST', '/webhook', {}, JSON.stringify(notice.payload));
      if (answer.statusCode !== 200) throw new ReplayError(`the webhook answered ${answer.statusCode} to the notice of ${new Date(notice.at).toISOString()}: ${'body' in answer ? JSON.stringify(answer.body) : answer.text}`);
      collect();
      n += 1;
      continue;
    }
    if (next >= to) break;
    clock.set(next);
    const summary = await autoscaler.tick();
    result.ticks += 1;
    const decided = collect();
    options.progress?.((next - from) / (to - from));
    const quiet = options.everyMinute ? undefined : await quietUntil(summary, decided, next);
    const wake = Math.min(quiet ?? next, notices[n]?.at ?? to, points[m]?.at ?? to);
    next = Math.max(next + MINUTE, ceilMinute(wake));
  }
  const queue = autoscaler.queue.snapshot();
  if (queue.messages.length > 0 || queue.deadLetters.length > 0) {
    throw new ReplayError(`records kept failing (${queue.messages.length} queued, ${queue.deadLetters.length} dead letters); the runtime said:\n${printed.join('\n')}`);
  }
  return result;
};
