import { z } from 'zod';
import { emergencyCommandSchema, type Intent } from '../domain/intent.ts';
import { type Policy, targetById } from '../domain/policy.ts';
import type { HistoryEntry } from '../domain/state.ts';
import { BadRequestError, invalidInput } from '../errors.ts';
import type { Clock, IntentQueue, StateStore } from '../ports.ts';
import { emergencyIntentId } from './intentIds.ts';

/** Commands that may go to every target at once ("scale down to minimum", "disable autoscaling"). */
const FLEET_ACTIONS = new Set(['scaleToMin', 'pause', 'resume', 'evaluateNow']);

/**
 * What an operator sends, e.g. `{"action":"double","target":"api","reason":"INC-42","actor":"jane"}`:
 * one `target`, several `targets`, or `all` (scaleToMin, pause, resume, evaluateNow); `evaluateNow`
 * without any evaluates every target. `actor` says who asks and is kept with the reason. The
 * same `idempotencyKey` sent again yields the same intent ids: the command acts once and answers the same.
 */
export const emergencyRequestSchema = z
  .looseObject({
    target: z.string().min(1).optional(),
    targets: z.array(z.string().min(1)).min(1).max(64).optional(),
    all: z.literal(true).optional(),
    reason: z.string().min(1, 'say why: the reason is kept with the decision').max(160),
    actor: z.string().min(1, 'say who: the actor is kept with the reason').max(64).optional(),
    idempotencyKey: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'use 1-64 letters, digits and . _ : -').optional(),
  })
  .transform((request, ctx) => {
    const { target, targets, all, reason, actor, idempotencyKey, ...rest } = request;
    if ([target !== undefined, targets !== undefined, all !== undefined].filter(Boolean).length > 1) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'give one of target, targets or all' });
      return z.NEVER;
    }
    const command = emergencyCommandSchema.safeParse(rest);
    if (!command.success) {
      for (const issue of command.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }
    if (all && !FLEET_ACTIONS.has(command.data.action)) {
      ctx.addIssue({ code: 'custom', path: ['all'], message: `${command.data.action} goes to named targets; all is for scaleToMin, pause, resume and evaluateNow` });
      return z.NEVER;
    }
    const named = target !== undefined ? [target] : targets;
    // Who asked reads with why, in the history and the pause (cut to fit the state's 160 characters).
    const by = actor === undefined ? '' : ` (by ${actor})`;
    return {
      ...(named ? { targets: [...new Set(named)] } : {}),
      all: all === true,
      reason: `${reason.slice(0, 160 - by.length)}${by}`,
      command: command.data,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    };
  });

export type EmergencyRequest = z.infer<typeof emergencyRequestSchema>;

export interface EmergencyOutcome {
  target: string;
  intent: string;
  /** `applied`: the worker decided it (see `decision`); `timeout`: still queued when the wait ended. */
  status: 'applied' | 'timeout';
  decision?: HistoryEntry;
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
  const { action } = request.command;
  if (request.targets === undefined) {
    if (request.all || action === 'evaluateNow') return policy.targets.map((t) => t.id);
    throw new BadRequestError(`${action} needs a target (or all)`);
  }
  return request.targets.map((id) => {
    const target = targetById(policy, id);
    if (!target) throw new BadRequestError(`unknown target "${id}"; the policy has ${policy.targets.map((t) => t.id).join(', ')}`, 404);
    if (action === 'deprovisionPool' && target.kind !== 'eks-nodegroup') throw new BadRequestError(`deprovisionPool applies to an eks-nodegroup target; "${target.id}" is a ${target.kind}`);
    return target.id;
  });
};

/**
 * Runs a runbook emergency procedure through the same queue as everything else (one writer
 * per target) and waits for the worker's outcome.
 */
export const emergency = async (policy: Policy, request: EmergencyRequest, deps: EmergencyDeps): Promise<EmergencyOutcome[]> => {
  const now = deps.clock.now().toISOString();
  const intents: Intent[] = targetsOf(policy, request).map((target) => ({
    id: emergencyIntentId(target, request.idempotencyKey),
    target,
    createdAt: now,
    source: 'emergency',
    alerts: [],
    command: request.command,
    reason: request.reason,
  }));
  await deps.queue.send(intents);
  const pending = new Map(intents.map((i) => [i.id, i]));
  const outcomes: EmergencyOutcome[] = [];
  const deadline = Date.now() + deps.timeoutMs;
  while (pending.size > 0) {
    const states = await deps.store.getMany([...new Set([...pending.values()].map((i) => i.target))]);
    for (const intent of pending.values()) {
      const state = states.get(intent.target);
      if (!state?.recentIntents.includes(intent.id)) continue;
      const decision = state.history.find((h) => h.intent === intent.id);
      outcomes.push({ target: intent.target, intent: intent.id, status: 'applied', ...(decision ? { decision } : {}) });
      pending.delete(intent.id);
    }
    if (pending.size === 0 || Date.now() >= deadline) break;
    await deps.sleep(deps.pollMs);
  }
  for (const intent of pending.values()) outcomes.push({ target: intent.target, intent: intent.id, status: 'timeout' });
  return outcomes;
};
