import type { Decision } from '../decision.ts';
import { formatDuration } from '../duration.ts';
import { gpuDemand, nodesFor } from '../gpu.ts';
import { type EmergencyCommand, type Intent, otherCommandWithKey } from '../intent.ts';
import { reason, type Reason } from '../reasons.ts';
import type { ResolvedTarget } from '../resolve.ts';
import { initialState, remembersIntent, STATE_LIMITS, type TargetState } from '../state.ts';
import { choose } from './choose.ts';
import { type Candidate, type Context, type DecideInput, iso, ms, type Proposal } from './context.ts';
import { applyLimits } from './limits.ts';
import { limited } from '../precedence.ts';
import { observeIdle, observeWindow, readIntoState, tooOld } from './observe.ts';
import { driftRestore, propose } from './propose.ts';
import { settlePending } from './pending.ts';
import { record } from './record.ts';

export type { Candidate, DecideInput, GpuView, Proposal, WorkloadHealth } from './context.ts';

const stay = (base: number): Proposal => ({ source: 'none', to: base, held: false, notes: [], fingerprints: [], followUps: [] });

/** The runbooks' emergency sizes; hard bounds and GPU capacity still apply (invariant 6). */
const emergencySize = (command: EmergencyCommand, ctx: Context): { to: number; why: Reason } | undefined => {
  const { base, target } = ctx;
  switch (command.action) {
    case 'double': {
      // Computed when the command was received, so a retried command sets the same size.
      const to = command.replicas ?? Math.max(1, base * 2);
      return { to, why: reason('EmergencyDouble', `doubled to ${to}`) };
    }
    case 'set':
      return { to: command.replicas, why: reason('EmergencySet', `set to ${command.replicas}`) };
    case 'scaleToMin':
      return { to: target.min, why: reason('EmergencyScaleToMin', `rolled back to the minimum safe size ${target.min}`) };
    case 'deprovisionPool': {
      if (target.kind !== 'eks-nodegroup') return undefined;
      // A workload whose state cannot be read may run on any of the nodes: keep them all.
      const needed = ctx.gpu?.unknown ? base : ctx.gpu ? nodesFor(target, gpuDemand(ctx.gpu.members)) : 0;
      const kept = needed > target.min ? `; keeps ${needed} node(s) for running GPU workloads` : '';
      return { to: needed, why: reason('EmergencyDeprovisionPool', `GPU pool deprovisioned to ${Math.max(needed, target.min)}${kept}`) };
    }
    case 'pause':
    case 'resume':
    case 'evaluateNow':
      return undefined;
  }
};

/** What an emergency overrides, said in its decision. */
const overridden = (ctx: Context): Reason[] => {
  const notes: Reason[] = [];
  const vetoes = ctx.state.alerts.filter((a) => a.rules.some((id) => ctx.target.vetoes.has(id))).map((a) => a.alertname);
  if (vetoes.length) notes.push(reason('VetoOverridden', `operator emergency overrides the firing veto ${vetoes.join(', ')}`));
  if (ctx.state.pause) notes.push(reason('PauseOverridden', `operator emergency acts through the pause "${ctx.state.pause.reason}"`));
  return notes;
};

/** The reason of a decision that gives a pinned HPA its range back. */
const pinReleased = (target: ResolvedTarget): Reason =>
  reason('PinReleased', `HPA ${target.kind === 'hpa' ? `${target.namespace}/${target.name}` : target.id} gets its range back (maxReplicas ${target.max})`);

/**
 * Decides what one intent does to one target: a pure function of the resolved target, its
 * state, the inputs and the instant. Observe (alerts, drift, window, idle), propose (every
 * source), choose (the precedence table), limit (the table's limits for the winner), record.
 * It performs no I/O and reads no clock.
 */
export const decide = (target: ResolvedTarget, prior: TargetState | undefined, input: DecideInput, now: Date): Decision => {
  const { intent, observed } = input;
  if (intent.target !== target.id) throw new Error(`intent ${intent.id} is for "${intent.target}", not "${target.id}"`);
  const nowMs = now.getTime();
  const settled = settlePending(target, prior ?? initialState(target.id), intent, observed, nowMs);
  // Events a failed publish left behind go out with this decision, and leave the state.
  const { outbox: unsent = [], ...priorState } = settled.state;
  const observations: Reason[] = settled.kind === 'settled' ? [...settled.notes] : [];
  const outbox = [...unsent, ...(settled.kind === 'retry' ? [] : settled.outbox)];
  const recorded = priorState.desired ?? observed ?? target.min;
  const bare: Context = { target, intent, state: priorState, now: nowMs, base: recorded, ...(input.gpu ? { gpu: input.gpu } : {}) };
  const extra = { outbox, ...(intent.actor ? { actor: intent.actor } : {}) };

  if (settled.kind === 'retry') {
    const from = observed ?? recorded;
    return record({ ...bare, base: from }, priorState, intent, from, { ...stay(from), to: settled.to, cause: settled.why }, { leading: [], observed: [], ...extra }, priorState);
  }
  if (settled.kind === 'done') {
    const done = { ...priorState, desired: observed ?? recorded };
    return record(bare, priorState, intent, recorded, stay(recorded), { leading: [settled.why], observed: [], ...extra }, done);
  }
  const otherCommand = otherCommandWithKey(intent.id, priorState.emergencyKeys);
  if (otherCommand !== undefined) {
    // Refused (again, when redelivered), and never remembered as a use of the key: the command
    // it names stays the one that acted, and its retries are answered as such.
    const refusal = reason('IdempotencyKeyReused', `idempotency key already used on ${target.id} for another command (mark ${otherCommand}); not done`);
    const decision = record(bare, priorState, intent, recorded, { ...stay(recorded), held: true }, { leading: [refusal], observed: [], ...extra }, priorState);
    const { emergencyKeys: _k, recentIntents: _r, ...rest } = decision.state;
    return { ...decision, state: { ...rest, recentIntents: priorState.recentIntents, ...(priorState.emergencyKeys ? { emergencyKeys: priorState.emergencyKeys } : {}) } };
  }
  if (remembersIntent(priorState, intent.id)) {
    // Act no more: a redelivery must never scale twice. Alertmanager re-sends a firing alert
    // with the same id (its repeat_interval): what it says is still news, the alert is seen now.
    // A pause (or pin) ends on a decision of its own, which releases a pinned HPA: not here.
    const refreshed = { ...readIntoState(target, priorState, intent, nowMs, []), ...(priorState.pause ? { pause: priorState.pause } : {}) };
    const decision = record(bare, priorState, intent, recorded, stay(recorded), { leading: [reason('Duplicate', `intent ${intent.id} was already decided; no second action`)], observed: [], ...extra }, refreshed);
    return { ...decision, state: { ...decision.state, history: priorState.history } };
  }
  const old = tooOld(target, intent, nowMs);
  if (old) {
    const held = intent.source === 'emergency';
    const seen = priorState.desired === null && observed !== undefined ? { ...priorState, desired: observed } : priorState;
    return record(bare, priorState, intent, recorded, { ...stay(recorded), held }, { leading: [old], observed: [], command: held, ...extra }, seen);
  }

  let state = readIntoState(target, priorState, intent, nowMs, observations);
  let base = recorded;
  const leading: Reason[] = [];
  let drift: Candidate | undefined;
  if (observed !== undefined && priorState.desired !== null && observed !== priorState.desired) {
    base = observed;
    if (target.onDrift === 'adopt') {
      observations.push(reason('DriftDetected', `live size ${observed} differs from the ${priorState.desired} last set; adopted (onDrift: adopt)`));
      state = { ...state, desired: observed };
    } else {
      drift = driftRestore(priorState.desired, observed);
    }
  }
  if (priorState.desired === null) state = { ...state, desired: base };

  const seen = observeWindow(target, state, base, nowMs);
  state = observeIdle(target, seen.state, base, input.gpu, nowMs, priorState);
  const ctx: Context = { target, intent, state, now: nowMs, base, ...(seen.window ? { window: seen.window } : {}), ...(input.gpu ? { gpu: input.gpu } : {}), ...(input.health ? { health: input.health } : {}) };
  let hpa: 'pin' | 'release' | undefined;

  const command = intent.command;
  if (command) {
    const by = [intent.actor ? `by ${intent.actor}` : '', intent.reason ? `reason: ${intent.reason}` : ''].filter(Boolean).join(', ') || 'by an operator';
    if (command.action === 'pause') {
      const ttl = Math.min(command.ttl, target.defaults.maxPause);
      const capped = ttl < command.ttl ? ` (asked ${formatDuration(command.ttl)}, the policy's maxPause)` : '';
      // A pause never cuts a pin short, as a pin never cuts a pause short: `resume` releases it.
      const pin = state.pause?.pinned ? ms(state.pause.until) : undefined;
      const kept = pin !== undefined && pin > nowMs + ttl * 1000;
      const until = iso(kept ? pin : nowMs + ttl * 1000);
      const pinned = pin !== undefined ? { pinned: true as const } : {};
      ctx.state = { ...state, pause: { until, reason: (intent.reason ?? 'emergency pause').slice(0, STATE_LIMITS.message), ...(intent.actor ? { by: intent.actor } : {}), ...pinned } };
      const length = kept ? `asked ${formatDuration(command.ttl)}, but the HPA's pin lasts until then; resume releases it` : `${formatDuration(ttl)}${capped}`;
      // A pin that ended before this command is released by it, as by any decision after its end:
      // the new pause does not pin, and nothing later would give the HPA its range back.
      const release = priorState.pause?.pinned && pin === undefined;
      if (release) observations.push(pinReleased(target));
      return record(ctx, priorState, intent, base, stay(base), { leading: [reason('PauseSet', `paused until ${until} (${length}); ${by}`)], observed: observations, command: true, ...(release ? { hpa: 'release' as const } : {}), ...extra }, ctx.state);
    }
    if (command.action === 'resume') {
      const { pause: _p, ...rest } = state;
      leading.push(reason('Resumed', state.pause ? `pause "${state.pause.reason}" lifted; ${by}` : `was not paused; ${by}`));
      if (state.pause?.pinned) hpa = 'release';
      ctx.state = rest;
    } else if (command.action === 'evaluateNow') {
      observations.push(reason('EvaluateNow', `evaluation requested; ${by}`));
    } else {
      const size = emergencySize(command, ctx);
      if (!size) throw new Error(`emergency ${command.action} does not apply to ${target.kind} target "${target.id}"`);
      const cause = { ...size.why, message: `${size.why.message}; ${by}` };
      const wish: Proposal = { source: 'emergency', to: size.to, cause, held: false, rule: `emergency:${command.action}`, notes: overridden(ctx), fingerprints: [], followUps: [] };
      const limited = applyLimits(wish, ctx);
      if (target.kind === 'hpa') {
        // The HPA would undo an emergency size within its range: pin it until resumed or expired.
        // At most maxPause, and never shorter than a pause the operator already set.
        const pinFor = Math.min(('ttl' in command ? command.ttl : undefined) ?? target.defaults.pinFor, target.defaults.maxPause);
        const until = iso(Math.max(nowMs + pinFor * 1000, ctx.state.pause ? ms(ctx.state.pause.until) : 0));
        ctx.state = { ...ctx.state, pause: { until, reason: `pinned at ${limited.to}: ${intent.reason ?? 'emergency'}`.slice(0, STATE_LIMITS.message), ...(intent.actor ? { by: intent.actor } : {}), pinned: true } };
        hpa = 'pin';
      }
      return record(ctx, priorState, intent, base, limited, { leading, observed: observations, command: true, ...(hpa ? { hpa } : {}), ...extra }, ctx.state);
    }
  }
  if (!hpa && priorState.pause?.pinned && !ctx.state.pause) hpa = 'release';
  if (hpa === 'release') observations.push(pinReleased(target));

  const chosen = choose(ctx, propose(ctx, drift, observations), []);
  const proposal = applyLimits(chosen, ctx);
  const explained = target.kind === 'hpa' && proposal.to !== base
    ? { ...proposal, notes: [...proposal.notes, reason('HpaBounds', `HPA ${target.namespace}/${target.name} owns the replicas: its minReplicas becomes ${proposal.to} (maxReplicas ${target.max}) and it scales within them`)] }
    : proposal;
  return record(ctx, priorState, intent, base, explained, { leading, observed: observations, command: intent.source === 'emergency', ...(hpa ? { hpa } : {}), ...extra }, noteWish(ctx, chosen));
};

/**
 * Since when the rules have asked for the change a stabilization window waits on: kept while
 * they keep asking the same way, dropped when they stop. Only for a target with a window, so
 * no other target's state changes (and is written) for it.
 */
const noteWish = (ctx: Context, chosen: Proposal): TargetState => {
  const { stabilizationWindow } = ctx.target.rateLimit ?? {};
  if (!stabilizationWindow) return ctx.state;
  const up = chosen.to > ctx.base;
  const wishes = chosen.source !== 'none' && chosen.to !== ctx.base && limited(chosen.source, up, 'stabilization');
  const { proposedSince: prior, ...rest } = ctx.state;
  if (!wishes) return rest;
  const since = (up ? prior?.up : prior?.down) ?? iso(ctx.now);
  return { ...rest, proposedSince: up ? { up: since } : { down: since } };
};

/**
 * The decision for an automatic intent on a target whose state document cannot be read: hold,
 * say why, write nothing. Only an operator's command overwrites such a document.
 */
export const holdUnreadable = (target: ResolvedTarget, intent: Intent, problem: string, observed: number, now: Date): Decision => {
  const state = initialState(target.id);
  const ctx: Context = { target, intent, state, now: now.getTime(), base: observed };
  const why = reason('StateUnreadable', `the state document cannot be read (${problem}); automatic decisions hold until an operator command overwrites it`);
  return record(ctx, state, intent, observed, { ...stay(observed), held: true, limitedBy: why }, { leading: [], observed: [] }, state);
};
