import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EmergencyCommand, Intent } from '../../shared/domain/intent.ts';
import { cooldownOf } from '../../shared/domain/policyLookups.ts';
import { initialState, type TargetState } from '../../shared/domain/state.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { decideIn } from '../support/intents.ts';

const policy = loadPolicyFile('policy.yaml');
const START = Date.parse('2026-11-23T00:00:00-05:00');

/** One event in a target's life: an alert (firing or resolved), a tick, or an emergency command. */
const eventArb = (targetId: string) => {
  const rules = [...policy.rules.filter((r) => r.target === targetId).map((r) => ({ id: r.id, alert: r.alert })),
    ...policy.vetoes.filter((v) => v.targets.includes(targetId)).map((v) => ({ id: v.id, alert: v.alert }))];
  const alertEvent = fc.record({
    kind: fc.constant('alert' as const),
    rule: fc.constantFrom(...(rules.length ? rules : [{ id: 'none', alert: 'None' }])),
    firing: fc.boolean(),
    value: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
  });
  const command = fc.constantFrom<EmergencyCommand>(
    { action: 'double' },
    { action: 'set', replicas: 0 },
    { action: 'set', replicas: 1000 },
    { action: 'scaleToMin' },
    { action: 'pause', ttl: 1800 },
    { action: 'resume' },
    { action: 'evaluateNow' },
  );
  const metricRules = policy.metricRules.filter((r) => r.target === targetId).map((r) => r.id);
  const metricEvent = fc.record({
    kind: fc.constant('metric' as const),
    rule: fc.constantFrom(...(metricRules.length ? metricRules : ['none'])),
    value: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
    idle: fc.boolean(),
  });
  const tickEvent = fc.record({ kind: fc.constant('tick' as const) });
  const emergencyEvent = fc.record({ kind: fc.constant('emergency' as const), command });
  return fc.record({
    gapSeconds: fc.integer({ min: 0, max: 3 * 3600 }),
    event: rules.length > 0 ? fc.oneof(alertEvent, metricEvent, tickEvent, emergencyEvent) : fc.oneof(metricEvent, tickEvent, emergencyEvent),
  });
};

type Step = ReturnType<typeof eventArb> extends fc.Arbitrary<infer T> ? T : never;

const intentFor = (targetId: string, step: number, at: number, e: Step['event']): Intent => {
  const base = { id: `i-${step}`, target: targetId, createdAt: new Date(at).toISOString(), alerts: [] };
  if (e.kind === 'tick') return { ...base, source: 'tick' };
  if (e.kind === 'metric') return { ...base, source: 'tick', metrics: [{ rule: e.rule, idle: e.idle, ...(e.value !== undefined ? { value: e.value } : {}) }] };
  if (e.kind === 'emergency') return { ...base, source: 'emergency', command: e.command, reason: 'property test' };
  return {
    ...base,
    source: 'alert',
    alerts: [{ fingerprint: `fp-${e.rule.id}`, alertname: e.rule.alert, status: e.firing ? 'firing' : 'resolved', startsAt: new Date(START).toISOString(), rules: [e.rule.id], ...(e.value !== undefined ? { value: e.value } : {}) }],
  };
};

const scenario = fc
  .constantFrom(...policy.targets.filter((t) => t.kind !== 'eks-nodegroup').map((t) => t.id))
  .chain((targetId) => fc.record({ targetId: fc.constant(targetId), events: fc.array(eventArb(targetId), { minLength: 1, maxLength: 40 }) }));

/** Runs a scenario through decideIn(), feeding each decision's state into the next. */
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const run = ({ targetId, events }: Scenario) => {
  let state: TargetState | undefined;
  let at = START;
  return events.map(({ gapSeconds, event }, step) => {
    at += gapSeconds * 1000;
    const intent = intentFor(targetId, step, at, event);
    const decision = decideIn(policy, state, { intent }, new Date(at));
    const replay = decideIn(policy, decision.state, { intent }, new Date(at + 1000));
    state = decision.state;
    return { at, intent, decision, replay };
  });
};

describe('Property: decide', () => {
  it('never leaves the hard bounds, emergencies included', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const target = policy.targets.find((t) => t.id === s.targetId);
        for (const { decision } of run(s)) {
          expect(decision.to).toBeGreaterThanOrEqual(target?.min ?? 0);
          expect(decision.to).toBeLessThanOrEqual(target?.max ?? 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never acts twice on a rule inside the cooldown of the rule that acted', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let lastScaleAt: number | undefined;
        for (const { at, decision } of run(s)) {
          // A size change; giving an HPA its range back (a released pin) changes no size.
          if (decision.from === decision.to) continue;
          const rule = [...policy.rules, ...policy.metricRules].find((r) => r.id === decision.rule);
          const code = decision.reasons[0]?.code;
          if (rule && (code === 'ScaleUp' || code === 'ScaleDown') && lastScaleAt !== undefined) {
            expect((at - lastScaleAt) / 1000).toBeGreaterThanOrEqual(cooldownOf(policy, rule));
          }
          lastScaleAt = at;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives no second action when an intent is replayed', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        for (const { replay } of run(s)) {
          expect(replay.verdict).toBe('none');
          expect(replay.reasons[0]?.code).toBe('Duplicate');
          expect(replay.state.desired).toBe(replay.from);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every state document under the 4 KB of an SSM Standard parameter', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        for (const { decision } of run(s)) expect(Buffer.byteLength(JSON.stringify(decision.state))).toBeLessThan(4096);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Property: precedence', () => {
  const llm = resolvePolicy(policy).target('worker-llm');
  if (!llm) throw new Error('policy.yaml has no worker-llm');
  const llmScenario = fc.array(eventArb('worker-llm'), { minLength: 1, maxLength: 60 }).map((events) => ({ targetId: 'worker-llm', events }));
  const vetoFiring = (state: TargetState) => state.alerts.some((a) => a.rules.includes('vram-headroom-low'));
  const upFiring = (state: TargetState) => state.alerts.some((a) => a.rules.some((id) => llm.rules.get(id)?.raises));

  it('while a veto fires, no automatic scale-up from any source (rules, windows, pre-scale, drift)', () => {
    fc.assert(
      fc.property(llmScenario, (s) => {
        for (const { decision } of run(s)) {
          if (decision.emergency || decision.to <= decision.from || !vetoFiring(decision.state)) continue;
          expect(decision.cause?.code, JSON.stringify(decision.reasons)).toBe('ClampedToMin');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a firing scale-up rule is never undone by a lower-priority source (windows, downs, idle)', () => {
    fc.assert(
      fc.property(llmScenario, (s) => {
        for (const { decision } of run(s)) {
          if (decision.emergency || decision.to >= decision.from || !upFiring(decision.state)) continue;
          expect(decision.cause?.code, JSON.stringify(decision.reasons)).toBe('ClampedToMax');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every automatic scale-down waits the scale-down delay and goes one step at a time', () => {
    fc.assert(
      fc.property(llmScenario, (s) => {
        let lastUpAt: number | undefined;
        for (const { at, decision } of run(s)) {
          const automatic = !decision.emergency && decision.cause?.code !== 'ClampedToMax' && decision.cause?.code !== 'DriftRestored';
          if (automatic && decision.to < decision.from) {
            expect(decision.from - decision.to).toBeLessThanOrEqual(llm.maxStepDown);
            if (lastUpAt !== undefined) expect((at - lastUpAt) / 1000).toBeGreaterThanOrEqual(llm.scaleDownDelay);
          }
          if (decision.to > decision.from) lastUpAt = at;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a window entry held by a pause is applied once the pause lifts, inside the window', () => {
    const peak = Date.parse('2026-11-23T08:30:00-05:00');
    fc.assert(
      fc.property(fc.integer({ min: -20, max: 120 }), fc.integer({ min: 1, max: 180 }), (startOffset, minutes) => {
        const pauseAt = peak + startOffset * 60_000;
        let state: TargetState | undefined = { ...initialState('worker-llm'), desired: 3, window: 'normal-morning' };
        let sizeAfterPause: number | undefined;
        for (let t = peak - 30 * 60_000; t <= peak + 6 * 3600_000; t += 60_000) {
          const intent: Intent = t === pauseAt
            ? { id: `p-${t}`, target: 'worker-llm', createdAt: new Date(t).toISOString(), source: 'emergency', alerts: [], command: { action: 'pause', ttl: minutes * 60 }, reason: 'property' }
            : { id: `t-${t}`, target: 'worker-llm', createdAt: new Date(t).toISOString(), source: 'tick', alerts: [] };
          state = decideIn(policy, state, { intent }, new Date(t)).state;
          // The first tick at which the pause is over and the window (with its pre-scale) is in force.
          if (t === Math.max(pauseAt + minutes * 60_000, peak)) sizeAfterPause = state.desired ?? undefined;
        }
        expect(state?.desired).toBe(4);
        if (sizeAfterPause !== undefined) expect(sizeAfterPause).toBe(4);
      }),
      { numRuns: 60 },
    );
  });
});
