import { z } from 'zod';
import { emergencyCommandSchema, type Intent } from '../domain/intent.ts';
import { type Policy, type Target, targetById } from '../domain/policy.ts';
import type { HistoryEntry } from '../domain/state.ts';
import { BadRequestError, invalidInput } from '../errors.ts';
import type { Clock, IntentQueue, StateStore } from '../ports.ts';
import { emergencyIntentId } from './intentIds.ts';

/**
 * What an operator sends, e.g. `{"action":"double","target":"api","reason":"INC-42"}`: one
 * `target`, several `targets`, or `all` (every target the action applies to); `evaluateNow`
 * without any evaluates every target. The same `idempotencyKey` sent again yields the same
 * intent ids, so the command acts once and answers the same.
 */
export const emergencyRequestSchema = z
  .looseObject({
    target: z.string().min(1).optional(),
    targets: z.array(z.string().min(1)).min(1).max(64).optional(),
    all: z.literal(true).optional(),
    reason: z.string().min(1, 'say why: the reason is kept with the decision').max(160),
    idempotencyKey: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'use at most 128 letters, digits and _.:-').optional(),
  })
  .transform((request, ctx) => {
    const { target, targets, all, reason, idempotencyKey, ...rest } = request;
    if ([target !== undefined, targets !== undefined, all !== undefined].filter(Boolean).length > 1) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'give one of target, targets or all' });
      return z.NEVER;
    }
    const command = emergencyCommandSchema.safeParse(rest);
    if (!command.success) {
      for (const issue of command.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }
    const named = target !== undefined ? [target] : targets;
    return { ...(named ? { targets: [...new Set(named)] } : {}), all: all === true, reason, command: command.data, ...(idempotencyKey ? { idempotencyKey } : {}) };
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

/** Whether an action applies to a target: deprovisionPool to node groups only. */
const appliesTo = (action: EmergencyRequest['command']['action'], target: Target): boolean =>
  action !== 'deprovisionPool' || target.kind === 'eks-nodegroup';

const targetsOf = (policy: Policy, request: EmergencyRequest): string[] => {
  const { action } = request.command;
  if (request.targets === undefined) {
    if (request.all || action === 'evaluateNow') return policy.targets.filter((t) => appliesTo(action, t)).map((t) => t.id);
    throw new BadRequestError(`${action} needs a target (or all)`);
  }
  return request.targets.map((id) => {
    const target = targetById(policy, id);
    if (!target) throw new BadRequestError(`unknown target "${id}"; the policy has ${policy.targets.map((t) => t.id).join(', ')}`, 404);
    if (!appliesTo(action, target)) throw new BadRequestError(`deprovisionPool applies to an eks-nodegroup target; "${target.id}" is a ${target.kind}`);
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
