import { decide } from '../shared/domain/decide/index.ts';
import { type Intent, intentSchema } from '../shared/domain/intent.ts';
import { type PolicyInput, validatePolicy } from '../shared/domain/policy.ts';
import { type ResolvedTarget, resolvePolicy } from '../shared/domain/resolve.ts';
import { initialState, type TargetState, targetStateSchema } from '../shared/domain/state.ts';
import { type BenchRow, measure, median } from './measure.ts';

const TARGETS = 50;
const ALERTS = 20;

/** A policy of 50 targets with 20 alert rules each, and one intent per target carrying 20 firing alerts. */
const fixture = () => {
  const document: PolicyInput = {
    version: 1,
    timezone: 'America/New_York',
    targets: Array.from({ length: TARGETS }, (_, t) => ({ id: `t${t}`, kind: 'deployment' as const, cluster: 'bench', namespace: 'ml', name: `w${t}`, min: 1, max: 100 })),
    rules: Array.from({ length: TARGETS * ALERTS }, (_, i) => ({
      id: `r${i}`,
      alert: `Alert${i % ALERTS}`,
      matchers: [`target=t${Math.floor(i / ALERTS)}`],
      target: `t${Math.floor(i / ALERTS)}`,
      action: i % 3 === 0 ? { type: 'proportional' as const, targetValue: 10 } : { type: 'step' as const, by: (i % 4) + 1 },
      cooldown: '5m',
    })),
    schedules: [{ id: 'peak', start: '09:00', end: '18:00', targets: Object.fromEntries(Array.from({ length: TARGETS }, (_, t) => [`t${t}`, { floor: 2 }])) }],
  };
  const result = validatePolicy(document);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  const now = new Date('2026-11-23T10:00:00-05:00');
  const intents: Intent[] = result.policy.targets.map((target, t) => ({
    id: `i-${t}`,
    target: target.id,
    createdAt: now.toISOString(),
    source: 'alert',
    alerts: Array.from({ length: ALERTS }, (_, a) => ({
      fingerprint: `f${t}-${a}`, alertname: `Alert${a}`, status: 'firing' as const, startsAt: now.toISOString(), rules: [`r${t * ALERTS + a}`], value: 25,
    })),
  }));
  const states: TargetState[] = result.policy.targets.map((target) => ({ ...initialState(target.id), desired: 4, window: 'peak' }));
  const resolved = resolvePolicy(result.policy);
  const targets = result.policy.targets.map((t) => resolved.target(t.id) as ResolvedTarget);
  return { targets, intents, states, now };
};

export const benchDecide = async (): Promise<BenchRow[]> => {
  const { targets, intents, states, now } = fixture();
  const rawIntents = intents.map((i) => JSON.stringify(i));
  const rawStates = states.map((s) => JSON.stringify(s));
  let n = 0;
  const parse = () => {
    const k = n++ % TARGETS;
    return { k, intent: intentSchema.parse(JSON.parse(rawIntents[k] ?? '')), state: targetStateSchema.parse(JSON.parse(rawStates[k] ?? '')) };
  };
  const parsed = Array.from({ length: TARGETS }, parse);

  // Rounds alternate the floor and the measure, and the median ratio is kept, so that a burst
  // of load or a collection during one of them does not decide the figure.
  const rounds: { parse: number; decide: number }[] = [];
  for (let round = 0; round < 7; round++) {
    const parseOnly = await measure(parse, { minMs: 250 });
    const decideOnly = await measure(() => {
      const input = parsed[n++ % TARGETS];
      if (input) decide(targets[input.k] as ResolvedTarget, input.state, { intent: input.intent }, now);
    }, { minMs: 250 });
    rounds.push({ parse: parseOnly, decide: decideOnly });
  }
  const ratio = median(rounds.map((r) => r.decide / r.parse));
  const parseUs = median(rounds.map((r) => r.parse));
  const decideUs = median(rounds.map((r) => r.decide));
  const allTargets = await measure(() => {
    for (let k = 0; k < TARGETS; k++) decide(targets[k] as ResolvedTarget, states[k], { intent: intents[k] as Intent }, now);
  }, { warmup: 20 });

  return [
    { name: `parse + validate one intent and state (${ALERTS} alerts)`, value: `${parseUs.toFixed(1)} us` },
    { name: 'decide() on that input', value: `${decideUs.toFixed(1)} us`, ratio, floor: 'parse + validate its input' },
    { name: `decide() for ${TARGETS} targets x ${ALERTS} active alerts`, value: `${((TARGETS * 1e6) / allTargets).toFixed(0)} decisions/s` },
  ];
};
