import { type EmergencyCommand, emergencyCommandSchema, type Intent, otherCommandWithKey } from '../domain/intent.ts';
import type { Policy } from '../domain/policy.ts';
import { gpuDemand, nodesFor } from '../domain/gpu.ts';
import { targetById } from '../domain/policyLookups.ts';
import { resolvePolicy } from '../domain/resolve.ts';
import { type HistoryEntry, remembersIntent, type TargetState } from '../domain/state.ts';
import { BadRequestError, invalidInput } from '../errors.ts';
import * as z from '../domain/zod.ts';
import type { Clock, IntentQueue, StateStore } from '../ports.ts';
import { gpuViewFor, poolOf, stateIdsFor } from './gpuView.ts';
import { emergencyIntentId } from './intentIds.ts';

/** Commands that may go to several targets at once ("scale down to minimum", "disable autoscaling"). */
const FLEET_ACTIONS = new Set(['scaleToMin', 'pause', 'resume', 'evaluateNow']);

/**
 * What an operator sends, e.g. `{"action":"double","target":"api","reason":"INC-42","actor":"jane"}`:
 * one `target`, a list of `targets`, or `all` (for scaleToMin, pause, resume and evaluateNow;
 * `evaluateNow` with none evaluates every target). `actor` says who asks, and is recorded with
 * the decision; `idempotencyKey` makes a retried command the same command (the same intent, the
 * same answer), whatever happened to the first.
 */
export const emergencyRequestSchema = z.pipe(
  z.looseObject({
    target: z.optional(z.string().check(z.minLength(1))),
    targets: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1), z.maxLength(100))),
    all: z.optional(z.literal(true)),
    reason: z.string().check(z.minLength(1, 'say why: the reason is kept with the decision'), z.maxLength(160)),
    actor: z.string().check(z.minLength(1, 'say who: the actor is recorded with the decision'), z.maxLength(64)),
    idempotencyKey: z.optional(z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,64}$/, 'use 1-64 letters, digits and . _ : -'))),
  }),
  z.transform((request, ctx) => {
    const { target, targets, all, reason, actor, idempotencyKey, ...rest } = request;
    const addIssue = (path: PropertyKey[], message: string) => ctx.issues.push({ code: 'custom', path, message, input: request });
    const command = emergencyCommandSchema.safeParse(rest);
    if (!command.success) {
      for (const issue of command.error.issues) addIssue(issue.path, issue.message);
      return z.NEVER;
    }
    // The queued command carries double's result in `replicas`; an operator's would silently become a set.
    if (command.data.action === 'double' && command.data.replicas !== undefined) addIssue(['replicas'], 'double takes no replicas: it doubles the current size (use set to give one)');
    const named = [target, targets, all].filter((x) => x !== undefined).length;
    if (named > 1) addIssue(['target'], 'give one of target, targets or all');
    if (all && !FLEET_ACTIONS.has(command.data.action)) {
      addIssue(['all'], `${command.data.action} goes to named targets; all is for scaleToMin, pause, resume and evaluateNow`);
    }
    return { targets: target !== undefined ? [target] : targets, all: all === true, reason, actor, idempotencyKey, command: command.data };
  }),
);

export type EmergencyRequest = z.infer<typeof emergencyRequestSchema>;

export interface EmergencyOutcome {
  target: string;
  intent: string;
  /**
   * `applied`: the worker decided it (see `decision`); `timeout`: still queued when the wait
   * ended; `refused`: the worker refused it, its idempotency key taken by another command that
   * raced ahead (a request refused on every target answers 409 instead).
   */
  status: 'applied' | 'timeout' | 'refused';
  decision?: HistoryEntry;
  /** With `timeout`, what the command waits behind when the state shows it: an action whose call did not finish. */
  waitingBehind?: string;
  /** With `applied`, what the size alone does not say: a GPU workload grown past its paused pool's nodes. */
  warning?: string;
}

export interface EmergencyDeps {
  queue: IntentQueue;
  store: StateStore;
  clock: Clock;
  /** Waits between looks at the state; the worker is the one that acts. */
  sleep: (ms: number) => Promise<void>;
  timeoutMs: number;
  pollMs: number;
}

export const parseEmergencyRequest = (input: unknown): EmergencyRequest => {
  const result = emergencyRequestSchema.safeParse(input);
  if (!result.success) throw invalidInput('invalid emergency request', result.error.issues);
  return result.data;
};

const targetsOf = (policy: Policy, request: EmergencyRequest): string[] => {
  if (request.all || (request.targets === undefined && request.command.action === 'evaluateNow')) return policy.targets.map((t) => t.id);
  if (request.targets === undefined) throw new BadRequestError(`${request.command.action} needs a target (target, targets${FLEET_ACTIONS.has(request.command.action) ? ' or all' : ''})`);
  const known = policy.targets.map((t) => t.id);
  const unknown = request.targets.filter((id) => !targetById(policy, id));
  if (unknown.length > 0) throw new BadRequestError(`unknown target(s) ${unknown.map((id) => `"${id}"`).join(', ')}; the policy has ${known.join(', ')}`, 404);
  if (request.command.action === 'deprovisionPool') {
    const notPools = request.targets.filter((id) => targetById(policy, id)?.kind !== 'eks-nodegroup');
    if (notPools.length > 0) throw new BadRequestError(`deprovisionPool applies to eks-nodegroup targets; ${notPools.map((id) => `"${id}" is a ${targetById(policy, id)?.kind}`).join(', ')}`);
  }
  return [...new Set(request.targets)];
};

/**
 * A `ttl` on a size command pins an HPA target for that long; on any other target nothing would
 * hold the size, and the operator would believe it held: refused, with what to do instead.
 */
const refuseUnpinnableTtl = (policy: Policy, command: EmergencyRequest['command'], targets: readonly string[]): void => {
  if (command.action === 'pause' || !('ttl' in command) || command.ttl === undefined) return;
  const unpinned = targets.filter((id) => targetById(policy, id)?.kind !== 'hpa');
  if (unpinned.length === 0) return;
  throw new BadRequestError(
    `ttl on ${command.action} pins hpa targets for that long; ${unpinned.map((id) => `"${id}" is a ${targetById(policy, id)?.kind}`).join(', ')}, whose size nothing would hold: send the command without ttl, then pause the target for as long`,
  );
};

/** The command as queued for one target: `double` becomes the size it doubles to, computed now. */
const commandFor = (request: EmergencyRequest, state: TargetState | undefined): EmergencyCommand =>
  request.command.action === 'double' && request.command.replicas === undefined && state?.desired != null
    ? { ...request.command, replicas: Math.max(1, state.desired * 2) }
    : request.command;

/** The recorded answer to a command, once decided and done (its action, if any, no longer pending). */
const answerIn = (state: TargetState | undefined, intent: string): { decision?: HistoryEntry } | undefined => {
  if (state === undefined || state.pending?.audit.intent === intent) return undefined;
  const decision = state.emergencies?.find((e) => e.intent === intent) ?? state.history.find((h) => h.intent === intent);
  if (decision) return { decision };
  return remembersIntent(state, intent) ? {} : undefined;
};

/**
 * An idempotency key names one command: sent again with another (`set` 5, then `set` 8), it is
 * refused with 409 rather than answered with the first command's outcome as if it were this one.
 */
const refuseReusedKey = (request: EmergencyRequest, key: string, states: ReadonlyMap<string, TargetState>): void => {
  const intents = [...states].map(([target, state]) => ({ target, state, id: emergencyIntentId(target, key, request.command) }));
  // A retry of a request that some targets already decided: each answers as it did (a target
  // that refused it stays refused), rather than the whole request being refused now.
  if (intents.some(({ state, id }) => remembersIntent(state, id))) return;
  for (const { target, state, id } of intents) {
    if (otherCommandWithKey(id, state.emergencyKeys)) throw reusedKey(key, target);
  }
};

const reusedKey = (key: string, target: string): BadRequestError =>
  new BadRequestError(`idempotency key "${key}" was already used for another command on ${target}; send this command with a new key`, 409);

/**
 * Runs a runbook emergency procedure through the same queue as everything else (one writer
 * per FIFO group) and waits for the worker's outcome. With an idempotency key, a retry is the
 * same intent: SQS or the worker drops the copy, and the answer is the first one's.
 */
export const emergency = async (policy: Policy, request: EmergencyRequest, deps: EmergencyDeps): Promise<EmergencyOutcome[]> => {
  const now = deps.clock.now().toISOString();
  const targets = targetsOf(policy, request);
  refuseUnpinnableTtl(policy, request.command, targets);
  const current = request.command.action === 'double' || request.idempotencyKey !== undefined ? await deps.store.getMany(targets) : undefined;
  if (request.idempotencyKey !== undefined && current) refuseReusedKey(request, request.idempotencyKey, current);
  const intents: Intent[] = targets.map((target) => ({
    id: emergencyIntentId(target, request.idempotencyKey, request.command),
    target,
    createdAt: now,
    source: 'emergency',
    alerts: [],
    command: commandFor(request, current?.get(target)),
    reason: request.reason,
    actor: request.actor,
  }));
  await deps.queue.send(intents);
  const pending = new Map(intents.map((i) => [i.id, i]));
  const outcomes: EmergencyOutcome[] = [];
  const deadline = Date.now() + deps.timeoutMs;
  while (pending.size > 0) {
    const states = await deps.store.getMany([...new Set([...pending.values()].map((i) => i.target))]);
    for (const intent of pending.values()) {
      const answer = answerIn(states.get(intent.target), intent.id);
      if (!answer) continue;
      outcomes.push({ target: intent.target, intent: intent.id, status: 'applied', ...answer });
      pending.delete(intent.id);
    }
    if (pending.size === 0 || Date.now() >= deadline) break;
    await deps.sleep(deps.pollMs);
  }
  const refused = outcomes.filter((o) => o.decision?.code === 'IdempotencyKeyReused');
  // Refused everywhere: nothing acted, so the caller may send it again with a new key. Where
  // other targets acted, the answer says which were refused instead (a new key would act again).
  if (request.idempotencyKey !== undefined && refused.length > 0 && refused.length === intents.length) throw reusedKey(request.idempotencyKey, refused.map((o) => o.target).join(', '));
  for (const o of refused) o.status = 'refused';
  await warnOfPausedPools(policy, outcomes, deps);
  if (pending.size === 0) return outcomes;
  const states = await deps.store.getMany([...new Set([...pending.values()].map((i) => i.target))]);
  for (const intent of pending.values()) {
    const behind = waitingBehind(states.get(intent.target), intent.id);
    outcomes.push({ target: intent.target, intent: intent.id, status: 'timeout', ...(behind ? { waitingBehind: behind } : {}) });
  }
  return outcomes;
};

/**
 * A GPU workload grown past what its pool's nodes carry while the pool is paused has pods the
 * pool does not grow for (pool coupling yields to a pause): they stay Pending until the pause
 * ends. The decision says so among its reasons; the answer carries only its headline, so the
 * operator who ran the command is told here, from the documents as the answer finds them: the
 * pool's pause and size, and its workloads' sizes (a pool the same command grew needs no warning).
 */
const warnOfPausedPools = async (policy: Policy, outcomes: readonly EmergencyOutcome[], deps: Pick<EmergencyDeps, 'store' | 'clock'>): Promise<void> => {
  const resolved = resolvePolicy(policy);
  const grown = outcomes.flatMap((o) => {
    const target = resolved.target(o.target);
    const pool = target ? poolOf(target) : undefined;
    return target && pool && target.kind !== 'eks-nodegroup' && o.status === 'applied' && o.decision && o.decision.to > o.decision.from ? [{ outcome: o, target, pool }] : [];
  });
  if (grown.length === 0) return;
  // Best effort: the commands were applied, and an answer that failed here would be sent again.
  const states = await deps.store.getMany([...new Set(grown.flatMap((g) => stateIdsFor(g.target)))]).catch(() => undefined);
  if (!states) return;
  const now = deps.clock.now().getTime();
  for (const { outcome, target, pool } of grown) {
    const pause = states.get(pool.id)?.pause;
    const view = gpuViewFor(target, states);
    if (!pause || Date.parse(pause.until) <= now || !view) continue;
    const needed = nodesFor(pool, gpuDemand(view.members));
    if (needed <= view.poolDesired) continue;
    outcome.warning = `pool ${pool.id} is paused until ${pause.until} and does not grow for it: it has ${view.poolDesired} node(s) of the ${needed} its workloads need, and the pods past them stay Pending until then (resume ${pool.id} to grow it now)`;
  }
};

/**
 * Why a command is still queued, when its target's state says: the worker recorded another
 * action and its scaling call did not finish (throttled, an update in progress). That intent
 * is retried first, after its backoff, in the target's FIFO group; the command follows it.
 */
const waitingBehind = (state: TargetState | undefined, intent: string): string | undefined => {
  const action = state?.pending;
  if (!action || action.audit.intent === intent) return undefined;
  return `intent ${action.audit.intent} (${action.audit.source}, ${action.from} -> ${action.to}, recorded ${action.audit.at}), whose scaling call did not finish: the worker retries it first, then this command`;
};
