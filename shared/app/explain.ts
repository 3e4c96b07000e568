import type { Decision } from '../domain/decision.ts';
import { explainDecision, type Explanation } from '../domain/decide/explain.ts';
import { holdUnreadable } from '../domain/decide/index.ts';
import type { Intent } from '../domain/intent.ts';
import type { Policy } from '../domain/policy.ts';
import { isShadow } from '../domain/policyLookups.ts';
import { resolvePolicy } from '../domain/resolve.ts';
import type { HistoryEntry } from '../domain/state.ts';
import * as z from '../domain/zod.ts';
import { BadRequestError, invalidInput } from '../errors.ts';
import type { Clock, MetricSource, StateStore } from '../ports.ts';
import { gpuViewFor, stateIdsFor } from './gpuView.ts';
import { readTargetSignals, tickIntent } from './tick.ts';

/** `GET /explain?target=worker-llm&at=2026-11-23T09:00:00-05:00`. */
export const explainQuerySchema = z.strictObject({
  target: z.string({ error: 'give one target: target=ID, once' }).check(z.minLength(1)),
  /** The instant to explain; now by default. */
  at: z.optional(z.iso.datetime({ offset: true, error: 'give one instant: at=ISO 8601 with its offset, once' })),
});

export type ExplainQuery = z.infer<typeof explainQuerySchema>;

export const parseExplainQuery = (query: Record<string, string | string[]>): ExplainQuery => {
  // An offset written `+05:00` in a raw query string arrives as a space: take it back.
  const at = query.at;
  const result = explainQuerySchema.safeParse(typeof at === 'string' ? { ...query, at: at.replace(/ (\d{2}:\d{2})$/, '+$1') } : query);
  if (!result.success) throw invalidInput('invalid explain request', result.error.issues);
  return result.data;
};

/** A decision as the audit trail keeps it: without its state document. */
export type AuditedDecision = Omit<Decision, 'state'>;

export interface ExplainReport {
  at: string;
  target: string;
  mode: 'live' | 'shadow';
  /** The state's history up to `at`, newest first: each entry's code says what limited or caused it. */
  history: HistoryEntry[];
  /** The audit events of the target up to `at`, newest first, with every reason; null where this host cannot read them. */
  audit: AuditedDecision[] | null;
  /** decide() on the live state at `at`, as a tick would run it, without acting. */
  now: Omit<Explanation, 'decision'> & { decision: AuditedDecision };
}

export interface ExplainDeps {
  store: StateStore;
  clock: Clock;
  /** The live size, where the host can read it (the worker reads it before deciding). */
  live?: (target: string) => number | undefined;
  /** The audit events this host keeps, oldest first. */
  audit?: () => readonly Decision[];
  /** The tick's metric source: explain reads the metric rules as the tick at `at` would. */
  metrics?: MetricSource;
}

const MINUTE = 60_000;

/** Enough to follow an incident; the history keeps five. */
const AUDIT_SHOWN = 20;

const withoutState = ({ state: _state, ...decision }: Decision): AuditedDecision => decision;

/**
 * The reason chain of a target's recent decisions and what a tick would do now, from the
 * decision engine's own steps; nothing is queued, applied or written.
 */
export const explain = async (policy: Policy, query: ExplainQuery, deps: ExplainDeps): Promise<ExplainReport> => {
  const target = resolvePolicy(policy).target(query.target);
  if (!target) throw new BadRequestError(`unknown target "${query.target}"; the policy has ${policy.targets.map((t) => t.id).join(', ')}`, 404);
  const at = query.at ? new Date(query.at) : deps.clock.now();
  // A tick reads the metric rules' whole minutes up to its own: the values fed since the last tick
  // are the next tick's to act on, so they are read as that tick will read them.
  const nextTick = new Date(Math.floor(at.getTime() / MINUTE) * MINUTE + MINUTE);
  const [states, signals] = await Promise.all([deps.store.getMany(stateIdsFor(target)), readTargetSignals(policy, deps.metrics, nextTick)]);
  const state = states.get(target.id);
  const shadow = isShadow(policy, target);
  // As the worker does: a shadow target's live size is not its recorded one, by design.
  const observed = shadow && typeof state?.desired === 'number' ? undefined : deps.live?.(target.id);
  const gpu = gpuViewFor(target, states);
  // The intent that tick would queue, under an id no tick uses: a dry run must never read as an
  // intent already decided.
  const intent = tickIntent(target.id, at, signals.byTarget.get(target.id) ?? [], `x-explain-${at.getTime()}`);
  const explained = explainDecision(target, state, { intent, ...(observed !== undefined ? { observed } : {}), ...(gpu ? { gpu } : {}) }, at);
  // As the worker does: a target whose state cannot be read holds, whatever the chain would say.
  const problem = states.unreadable.get(target.id);
  const { decision, ...steps } = problem === undefined ? explained : { ...explained, decision: holdUnreadable(target, intent, problem, observed ?? target.min, at) };
  const until = at.getTime();
  return {
    at: at.toISOString(),
    target: target.id,
    mode: shadow ? 'shadow' : 'live',
    history: (state?.history ?? []).filter((h) => Date.parse(h.at) <= until).reverse(),
    audit: deps.audit ? deps.audit().filter((d) => d.target === target.id && Date.parse(d.at) <= until).slice(-AUDIT_SHOWN).reverse().map(withoutState) : null,
    now: { ...steps, decision: withoutState(decision) },
  };
};
