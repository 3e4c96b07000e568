import { formatDuration } from '../duration.ts';
import { gpuDemand, nodesFor } from '../gpu.ts';
import type { AlertObservation, Intent } from '../intent.ts';
import { rankOfPriority } from '../precedence.ts';
import { ACTIVE_WORK } from '../policyLookups.ts';
import { reason, type Reason } from '../reasons.ts';
import type { ResolvedTarget } from '../resolve.ts';
import { activeWindow, type Occurrence } from '../schedule.ts';
import { type ActiveAlert, keepLast, moreUrgentFirst, STATE_LIMITS, type TargetState, type Tombstone } from '../state.ts';
import { type GpuView, iso, ms, since } from './context.ts';

// Observing: what the intent and the instant change in the state before anything is proposed.

interface AlertBook {
  alerts: Map<string, ActiveAlert>;
  tombstones: Map<string, Tombstone>;
}

/** A resolve leaves a tombstone; a firing notice no newer than a tombstone is a late copy. */
const mergeAlert = (book: AlertBook, obs: AlertObservation, sentAt: string, notes: Reason[]): void => {
  if (obs.status === 'resolved') {
    const existing = book.alerts.get(obs.fingerprint);
    if (existing && ms(existing.startsAt) > ms(obs.startsAt)) {
      notes.push(reason('StaleAlert', `resolved notice for ${obs.alertname} is older than its firing since ${existing.startsAt}; kept firing`));
      return;
    }
    book.alerts.delete(obs.fingerprint);
    book.tombstones.delete(obs.fingerprint);
    book.tombstones.set(obs.fingerprint, { fingerprint: obs.fingerprint, startsAt: obs.startsAt, resolvedAt: sentAt });
    return;
  }
  const tombstone = book.tombstones.get(obs.fingerprint);
  if (tombstone && ms(obs.startsAt) <= ms(tombstone.startsAt)) {
    notes.push(reason('StaleAlert', `firing notice for ${obs.alertname} (since ${obs.startsAt}) arrived after its resolve at ${tombstone.resolvedAt}; ignored`));
    return;
  }
  // Re-inserted at the end: the map keeps the order alerts were last seen in.
  book.alerts.delete(obs.fingerprint);
  book.alerts.set(obs.fingerprint, {
    fingerprint: obs.fingerprint,
    alertname: obs.alertname,
    rules: obs.rules,
    startsAt: obs.startsAt,
    seenAt: sentAt,
    ...(obs.value !== undefined ? { value: obs.value } : {}),
  });
};

/** The veto mark is derived from the policy, so a document written before it existed reads the same. */
const markVeto = (alert: ActiveAlert, target: ResolvedTarget): ActiveAlert => {
  const veto = alert.rules.some((id) => target.vetoes.has(id));
  if (veto === (alert.veto === true)) return alert;
  const { veto: _v, ...rest } = alert;
  return veto ? { ...rest, veto: true } : rest;
};

/** Above any rule's rank: an `activeWork` alert holds scale-downs, and is the last to go. */
const ACTIVE_WORK_URGENCY = rankOfPriority('P0') + 1;

/** How urgent an alert is for the target: its most urgent rule's rank (P0 highest), active work above all; an unknown rule 0. */
export const alertUrgency =
  (target: ResolvedTarget) =>
  (alert: ActiveAlert): number =>
    Math.max(0, ...alert.rules.map((id) => {
      if (id === ACTIVE_WORK) return ACTIVE_WORK_URGENCY;
      const rule = target.rules.get(id);
      return rule ? rankOfPriority(rule.priority) : 0;
    }));

/**
 * Keeps what fits: the vetoes seen most recently (10 at most), then the other alerts, the most
 * urgent first (P0 before P3) and among equals those seen most recently, so that a burst of
 * P3 scale-downs never pushes out a firing P1. Returns the vetoes it had to drop: the target
 * is treated as vetoed (fail safe) until each of them is seen resolved or expires.
 */
const keepAlerts = (target: ResolvedTarget, live: ActiveAlert[], notes: Reason[]): { alerts: ActiveAlert[]; droppedVetoes: ActiveAlert[] } => {
  const bySeen = (a: ActiveAlert, b: ActiveAlert) => ms(a.seenAt) - ms(b.seenAt);
  const allVetoes = live.filter((a) => a.veto).sort(bySeen);
  if (live.length <= STATE_LIMITS.alerts && allVetoes.length <= STATE_LIMITS.vetoAlerts) return { alerts: live, droppedVetoes: [] };
  const vetoes = keepLast(allVetoes, STATE_LIMITS.vetoAlerts);
  const others = live.filter((a) => !a.veto);
  const room = STATE_LIMITS.alerts - vetoes.length;
  const keptOthers = new Set([...others].sort(moreUrgentFirst(alertUrgency(target))).slice(0, room));
  const kept = [...vetoes, ...others.filter((a) => keptOthers.has(a)).sort(bySeen)];
  const droppedVetoes = allVetoes.slice(0, allVetoes.length - vetoes.length);
  notes.push(reason('AlertsTruncated', `kept ${kept.length} of ${live.length} active alerts, vetoes first, then the most urgent${droppedVetoes.length ? '; vetoes had to go too, so scale-ups are blocked until each is seen resolved' : ''}`));
  return { alerts: kept, droppedVetoes };
};

/** Merges the intent's alerts (seen when they were sent), expires old ones, and ends an expired pause. */
export const readIntoState = (target: ResolvedTarget, prior: TargetState, intent: Intent, now: number, notes: Reason[]): TargetState => {
  const ttl = target.defaults.alertTtl;
  const sentAt = iso(Math.min(now, ms(intent.createdAt)));
  const book: AlertBook = {
    alerts: new Map(prior.alerts.map((a) => [a.fingerprint, a])),
    tombstones: new Map((prior.tombstones ?? []).map((t) => [t.fingerprint, t])),
  };
  for (const obs of intent.alerts) mergeAlert(book, obs, sentAt, notes);
  const live: ActiveAlert[] = [];
  for (const alert of book.alerts.values()) {
    if (since(now, alert.seenAt) <= ttl) live.push(markVeto(alert, target));
    else notes.push(reason('AlertExpired', `${alert.alertname} not re-sent for ${formatDuration(ttl)}; treated as resolved`));
  }
  const { alerts, droppedVetoes: dropping } = keepAlerts(target, live, notes);
  // A dropped veto is forgotten when it resolves (a notice no older than its firing), fires
  // again (then it is one of `live`), or expires.
  const resolvedSince = new Map(intent.alerts.filter((obs) => obs.status === 'resolved').map((obs) => [obs.fingerprint, ms(obs.startsAt)]));
  const resolves = (d: { fingerprint: string; startsAt: string }) => (resolvedSince.get(d.fingerprint) ?? Number.NEGATIVE_INFINITY) >= ms(d.startsAt);
  const stillDropped = (prior.droppedVetoes ?? []).filter((d) => !resolves(d) && !book.alerts.has(d.fingerprint) && since(now, d.seenAt) <= ttl);
  const allDropped = [...stillDropped, ...dropping.map((a) => ({ fingerprint: a.fingerprint, startsAt: a.startsAt, seenAt: a.seenAt }))].sort((a, b) => ms(a.seenAt) - ms(b.seenAt));
  const droppedVetoes = keepLast(allDropped, STATE_LIMITS.droppedVetoes);
  // Vetoes past what the state remembers hold the target until they would have expired.
  const forgotten = allDropped.slice(0, allDropped.length - droppedVetoes.length);
  const forgottenUntil = [prior.vetoesForgottenUntil, ...forgotten.map((d) => iso(ms(d.seenAt) + ttl * 1000))]
    .filter((at): at is string => at !== undefined && ms(at) > now)
    .sort()
    .at(-1);
  const stillTruncated = droppedVetoes.length > 0 || forgottenUntil !== undefined;
  const tombstones = keepLast([...book.tombstones.values()].filter((t) => since(now, t.resolvedAt) <= ttl), STATE_LIMITS.tombstones);
  let pause = prior.pause;
  if (pause && ms(pause.until) <= now) {
    notes.push(reason('PauseExpired', `pause "${pause.reason}" ended at ${pause.until}; autoscaling resumed`));
    pause = undefined;
  }
  // A tick's readings replace the last ones; they stay in force until the next tick's.
  const readings = intent.metrics ? intent.metrics.slice(0, STATE_LIMITS.readings).map((signal) => ({ ...signal, at: sentAt })) : prior.readings;
  const { pause: _p, alertsTruncated: _t, droppedVetoes: _d, vetoesForgottenUntil: _f, tombstones: _s, readings: _r, ...rest } = prior;
  return {
    ...rest,
    ...(readings?.length ? { readings } : {}),
    alerts,
    ...(stillTruncated ? { alertsTruncated: true as const } : {}),
    ...(droppedVetoes.length ? { droppedVetoes } : {}),
    ...(forgottenUntil ? { vetoesForgottenUntil: forgottenUntil } : {}),
    ...(tombstones.length ? { tombstones } : {}),
    ...(pause ? { pause } : {}),
  };
};

/** An intent older than its source's maximum age must not act: the world it saw is gone. */
export const tooOld = (target: ResolvedTarget, intent: Intent, now: number): Reason | undefined => {
  const limit = target.defaults.maxAge[intent.source];
  const age = since(now, intent.createdAt);
  if (age <= limit) return undefined;
  return reason('IntentTooOld', `${intent.source} intent created ${formatDuration(age)} ago is older than its maximum age ${formatDuration(limit)}; dropped`);
};

/**
 * The window in force and what changed about it: entering one records its entry size (kept
 * until reached); leaving an event window with `returnAfter` schedules the return to the
 * size it began from.
 */
export const observeWindow = (target: ResolvedTarget, state: TargetState, base: number, now: number): { state: TargetState; window?: Occurrence } => {
  const window = activeWindow(target.schedules, now);
  const id = window?.schedule.id ?? null;
  if (id === state.window) return { state, ...(window ? { window } : {}) };
  const { windowEntry: left, windowEntry: _e, ...rest } = state;
  let next: TargetState = { ...rest, window: id };
  const ended = target.schedules.find((s) => s.id === state.window);
  if (ended?.returnAfter !== undefined && left && left.before < base) {
    next = { ...next, windowReturn: { window: ended.id, to: left.before, after: iso(now + ended.returnAfter * 1000) } };
  }
  if (window) {
    const desired = window.schedule.targets[target.id]?.desired;
    const to = desired === undefined ? base : typeof desired === 'number' ? desired : Math.ceil(base * desired.factor);
    const { windowReturn: _r, ...entered } = next;
    next = { ...entered, windowEntry: { to, before: base, done: to === base } };
  }
  return { state: next, ...(window ? { window } : {}) };
};

/** A GPU pool notes since when it has had more nodes than its workloads need. */
export const observeIdle = (target: ResolvedTarget, state: TargetState, base: number, gpu: GpuView | undefined, now: number, prior: TargetState): TargetState => {
  if (target.kind !== 'eks-nodegroup' || !gpu) return state;
  const needed = Math.max(target.min, nodesFor(target, gpuDemand(gpu.members)));
  const { idleSince: _idle, ...rest } = state;
  return needed < base ? { ...rest, idleSince: prior.idleSince ?? iso(now) } : rest;
};
