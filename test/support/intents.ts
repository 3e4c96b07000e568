import type { Decision } from '../../shared/domain/decision.ts';
import { type DecideInput, decide } from '../../shared/domain/decide/index.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';
import type { AlertObservation, EmergencyCommand, Intent } from '../../shared/domain/intent.ts';
import { initialState, type TargetState } from '../../shared/domain/state.ts';

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

/** A wall-clock time in the shipped policy's zone (America/New_York), as an instant. */
export const et = (local: string, offset = '-05:00'): Date => new Date(`${local}${offset}`);

export const alert = (
  alertname: string,
  rules: string[],
  options: Partial<Omit<AlertObservation, 'alertname' | 'rules'>> = {},
): AlertObservation => ({
  fingerprint: options.fingerprint ?? `fp-${alertname.toLowerCase()}`,
  alertname,
  status: options.status ?? 'firing',
  startsAt: options.startsAt ?? '2026-11-23T14:00:00.000Z',
  rules,
  ...(options.value !== undefined ? { value: options.value } : {}),
});

export const alertIntent = (target: string, alerts: AlertObservation[], at: Date, id = nextId('alert')): Intent => ({
  id,
  target,
  createdAt: at.toISOString(),
  source: 'alert',
  alerts,
});

export const tickIntent = (target: string, at: Date): Intent => ({
  id: `tick:${target}:${at.toISOString()}`,
  target,
  createdAt: at.toISOString(),
  source: 'tick',
  alerts: [],
});

export const emergencyIntent = (target: string, command: EmergencyCommand, at: Date, reason = 'incident 42'): Intent => ({
  id: nextId('emergency'),
  target,
  createdAt: at.toISOString(),
  source: 'emergency',
  alerts: [],
  command,
  reason,
});

export const stateOf = (target: string, fields: Partial<TargetState> = {}): TargetState => ({
  ...initialState(target),
  ...fields,
});

export const input = (intent: Intent, extra: Omit<DecideInput, 'intent'> = {}): DecideInput => ({ intent, ...extra });

/** decide() for the intent's target, resolved from a whole policy as the worker does. */
export const decideIn = (policy: Policy, state: TargetState | undefined, decideInput: DecideInput, now: Date): Decision => {
  const target = resolvePolicy(policy).target(decideInput.intent.target);
  if (!target) throw new Error(`the policy has no target "${decideInput.intent.target}"`);
  return decide(target, state, decideInput, now);
};
