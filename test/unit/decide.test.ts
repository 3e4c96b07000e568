import { describe, expect, it } from 'vitest';
import type { Intent } from '../../shared/domain/intent.ts';
import { ruleSchema } from '../../shared/domain/policy.ts';
import type { ReasonCode } from '../../shared/domain/reasons.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { alert, decideIn, alertIntent, emergencyIntent, et, stateOf, tickIntent } from '../support/intents.ts';

const policy = loadPolicyFile('policy.yaml');

const llmQueue = alert('LLMQueueBuildup', ['llm-queue-buildup']);
const llmIdle = alert('LLMQueueIdle', ['llm-queue-idle']);
const vramLow = alert('VRAMHeadroomLow', ['vram-headroom-low']);
const seen = (a: ReturnType<typeof alert>, at: Date) => ({
  fingerprint: a.fingerprint, alertname: a.alertname, rules: a.rules, startsAt: a.startsAt, seenAt: at.toISOString(),
});

interface Row {
  case: string;
  state: TargetState;
  intent: Intent;
  now: Date;
  observed?: number;
  expected: { verdict: 'scale' | 'hold' | 'none'; from: number; to: number; code: ReasonCode; rule?: string };
}

// Rows follow the runbooks: the autoscaling rules (app / worker-llm / worker-rl), the TenSafe
// triggers and emergency procedure, the HSOF one-at-a-time rule and the scaling schedule.
const rows: Row[] = [
  {
    case: 'LLM queue > 50 at 10:00 scales worker-llm up by one',
    state: stateOf('worker-llm', { desired: 2, window: 'peak' }),
    intent: alertIntent('worker-llm', [llmQueue], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 2, to: 3, code: 'ScaleUp', rule: 'llm-queue-buildup' },
  },
  {
    case: 'the same alert at 10:05 is held by the 10-minute cooldown',
    state: stateOf('worker-llm', { desired: 3, window: 'peak', lastScaleAt: et('2026-11-23T10:00:00').toISOString(), lastUpAt: et('2026-11-23T10:00:00').toISOString() }),
    intent: alertIntent('worker-llm', [llmQueue], et('2026-11-23T10:05:00')),
    now: et('2026-11-23T10:05:00'),
    expected: { verdict: 'hold', from: 3, to: 3, code: 'CooldownActive', rule: 'llm-queue-buildup' },
  },
  {
    case: 'still firing at 10:10, the cooldown has passed: up again',
    state: stateOf('worker-llm', { desired: 3, window: 'peak', lastScaleAt: et('2026-11-23T10:00:00').toISOString(), lastUpAt: et('2026-11-23T10:00:00').toISOString(), alerts: [seen(llmQueue, et('2026-11-23T10:00:00'))] }),
    intent: tickIntent('worker-llm', et('2026-11-23T10:10:00')),
    now: et('2026-11-23T10:10:00'),
    expected: { verdict: 'scale', from: 3, to: 4, code: 'ScaleUp', rule: 'llm-queue-buildup' },
  },
  {
    case: 'VRAM headroom < 20% vetoes the scale-up of worker-llm',
    state: stateOf('worker-llm', { desired: 2, window: 'peak', alerts: [seen(vramLow, et('2026-11-23T09:58:00'))] }),
    intent: alertIntent('worker-llm', [llmQueue], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'hold', from: 2, to: 2, code: 'VetoedByAlert', rule: 'llm-queue-buildup' },
  },
  {
    case: 'queue idle scales worker-llm down by one, long after the last up',
    state: stateOf('worker-llm', { desired: 5, window: 'peak', lastUpAt: et('2026-11-23T08:00:00').toISOString(), lastScaleAt: et('2026-11-23T08:00:00').toISOString() }),
    intent: alertIntent('worker-llm', [llmIdle], et('2026-11-23T11:00:00')),
    now: et('2026-11-23T11:00:00'),
    expected: { verdict: 'scale', from: 5, to: 4, code: 'ScaleDown', rule: 'llm-queue-idle' },
  },
  {
    case: 'a scale-down 12 minutes after an up waits for the 15-minute delay',
    state: stateOf('worker-llm', { desired: 5, window: 'peak', lastUpAt: et('2026-11-23T10:48:00').toISOString(), lastScaleAt: et('2026-11-23T10:48:00').toISOString() }),
    intent: alertIntent('worker-llm', [llmIdle], et('2026-11-23T11:00:00')),
    now: et('2026-11-23T11:00:00'),
    expected: { verdict: 'hold', from: 5, to: 5, code: 'ScaleDownDelayed', rule: 'llm-queue-idle' },
  },
  {
    case: 'ups beat downs: queue buildup and queue idle together scale up',
    state: stateOf('worker-llm', { desired: 3, window: 'peak', alerts: [seen(llmIdle, et('2026-11-23T09:00:00'))] }),
    intent: alertIntent('worker-llm', [llmQueue], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 3, to: 4, code: 'ScaleUp', rule: 'llm-queue-buildup' },
  },
  {
    case: 'TenSafe: CPU (+2) and queue backup (+4) together, the largest up wins',
    state: stateOf('api', { desired: 10 }),
    intent: alertIntent('api', [alert('APIHighCPU', ['api-high-cpu']), alert('APIQueueBackup', ['api-queue-backup'])], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 10, to: 14, code: 'ScaleUp', rule: 'api-queue-backup' },
  },
  {
    case: 'TenSafe: API pods never exceed the hard max of 50',
    state: stateOf('api', { desired: 48 }),
    intent: alertIntent('api', [alert('APIQueueBackup', ['api-queue-backup'])], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 48, to: 50, code: 'ClampedToMax', rule: 'api-queue-backup' },
  },
  {
    case: 'TenSafe: low load never goes below the HA minimum of 3 (held, and counted as such)',
    state: stateOf('api', { desired: 3 }),
    intent: alertIntent('api', [alert('APILowLoad', ['api-low-load'])], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'hold', from: 3, to: 3, code: 'ClampedToMin', rule: 'api-low-load' },
  },
  {
    case: 'TenSafe: P95 > 200ms doubles the API pods',
    state: stateOf('api', { desired: 6 }),
    intent: alertIntent('api', [alert('APILatencyCritical', ['api-latency-emergency'])], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 6, to: 12, code: 'ScaleUp', rule: 'api-latency-emergency' },
  },
  {
    case: 'off-peak begins at 01:00 in the policy zone: app goes down towards 2, one step at a time',
    state: stateOf('app', { desired: 5, window: 'normal-evening' }),
    intent: tickIntent('app', et('2026-11-24T01:00:00')),
    now: et('2026-11-24T01:00:00'),
    expected: { verdict: 'scale', from: 5, to: 4, code: 'OneStepAtATime', rule: 'off-peak' },
  },
  {
    case: 'peak pre-scales 30 minutes early: app 3 -> 5 at 08:30',
    state: stateOf('app', { desired: 3, window: 'normal-morning' }),
    intent: tickIntent('app', et('2026-11-23T08:30:00')),
    now: et('2026-11-23T08:30:00'),
    expected: { verdict: 'scale', from: 3, to: 5, code: 'ScheduleEntry', rule: 'peak' },
  },
  {
    case: 'normal hours cross midnight: 23:59 is still normal-evening, nothing to do',
    state: stateOf('app', { desired: 3, window: 'normal-evening' }),
    intent: tickIntent('app', et('2026-11-23T23:59:00')),
    now: et('2026-11-23T23:59:00'),
    expected: { verdict: 'none', from: 3, to: 3, code: 'NoRuleMatched' },
  },
  {
    case: 'peak is skipped on Christmas day (date exception)',
    state: stateOf('app', { desired: 3, window: 'normal-morning' }),
    intent: tickIntent('app', et('2026-12-25T08:30:00')),
    now: et('2026-12-25T08:30:00'),
    expected: { verdict: 'none', from: 3, to: 3, code: 'NoRuleMatched' },
  },
  {
    case: 'launch day floor: API held at 6 during the event even when low load fires',
    state: stateOf('api', { desired: 6, window: 'launch-day', lastUpAt: et('2026-12-01T07:30:00').toISOString() }),
    intent: alertIntent('api', [alert('APILowLoad', ['api-low-load'])], et('2026-12-01T12:00:00')),
    now: et('2026-12-01T12:00:00'),
    expected: { verdict: 'hold', from: 6, to: 6, code: 'ScheduleFloor', rule: 'api-low-load' },
  },
  {
    case: 'paused by an operator: the alert is held with the pause reason',
    state: stateOf('worker-llm', { desired: 2, window: 'peak', pause: { until: et('2026-11-23T11:00:00').toISOString(), reason: 'incident 42' } }),
    intent: alertIntent('worker-llm', [llmQueue], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'hold', from: 2, to: 2, code: 'Paused', rule: 'llm-queue-buildup' },
  },
  {
    case: 'the pause expires by itself and the alert acts',
    state: stateOf('worker-llm', { desired: 2, window: 'peak', pause: { until: et('2026-11-23T11:00:00').toISOString(), reason: 'incident 42' }, alerts: [seen(llmQueue, et('2026-11-23T10:00:00'))] }),
    intent: tickIntent('worker-llm', et('2026-11-23T11:01:00')),
    now: et('2026-11-23T11:01:00'),
    expected: { verdict: 'scale', from: 2, to: 3, code: 'ScaleUp', rule: 'llm-queue-buildup' },
  },
  {
    case: 'emergency: double the API pods, even inside a cooldown and a pause',
    state: stateOf('api', { desired: 10, lastScaleAt: et('2026-11-23T09:59:00').toISOString(), pause: { until: et('2026-11-23T11:00:00').toISOString(), reason: 'x' } }),
    intent: emergencyIntent('api', { action: 'double' }, et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 10, to: 20, code: 'EmergencyDouble', rule: 'emergency:double' },
  },
  {
    case: 'emergency: doubling worker-llm stops at its hard max of 8',
    state: stateOf('worker-llm', { desired: 5 }),
    intent: emergencyIntent('worker-llm', { action: 'double' }, et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 5, to: 8, code: 'ClampedToMax', rule: 'emergency:double' },
  },
  {
    case: 'emergency: set 100 API pods is clamped to the hard max 50',
    state: stateOf('api', { desired: 10 }),
    intent: emergencyIntent('api', { action: 'set', replicas: 100 }, et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 10, to: 50, code: 'ClampedToMax', rule: 'emergency:set' },
  },
  {
    case: 'HSOF rollback: scale to the minimum safe size 2',
    state: stateOf('hsof', { desired: 7 }),
    intent: emergencyIntent('hsof', { action: 'scaleToMin' }, et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 7, to: 2, code: 'EmergencyScaleToMin', rule: 'emergency:scaleToMin' },
  },
  {
    case: 'HSOF adds one replica at a time, by moving the HPA floor',
    state: stateOf('hsof', { desired: 2 }),
    intent: alertIntent('hsof', [alert('HSOFGPUBusy', ['hsof-gpu-busy'])], et('2026-11-23T10:00:00')),
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 2, to: 3, code: 'ScaleUp', rule: 'hsof-gpu-busy' },
  },
  {
    case: 'training workers scale from zero at the first pending job, one per job',
    state: stateOf('training-workers', { desired: 0 }),
    intent: { ...tickIntent('training-workers', et('2026-11-23T10:00:00')), metrics: [{ rule: 'training-queue', value: 3, idle: false }] },
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 0, to: 3, code: 'ScaleUp', rule: 'training-queue' },
  },
  {
    case: 'an empty queue keeps the training workers until it stayed empty for 30m',
    state: stateOf('training-workers', { desired: 4, lastUpAt: et('2026-11-23T08:00:00').toISOString() }),
    intent: { ...tickIntent('training-workers', et('2026-11-23T10:00:00')), metrics: [{ rule: 'training-queue', value: 0, idle: false }] },
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'none', from: 4, to: 4, code: 'WaitingForIdle' },
  },
  {
    case: 'the queue stayed empty for the idle period: training workers to zero in one move',
    state: stateOf('training-workers', { desired: 4, lastUpAt: et('2026-11-23T08:00:00').toISOString() }),
    intent: { ...tickIntent('training-workers', et('2026-11-23T10:00:00')), metrics: [{ rule: 'training-queue', value: 0, idle: true }] },
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'scale', from: 4, to: 0, code: 'ScaleDown', rule: 'training-queue' },
  },
  {
    case: 'a gap in the queue metric never scales down',
    state: stateOf('training-workers', { desired: 4, lastUpAt: et('2026-11-23T08:00:00').toISOString() }),
    intent: { ...tickIntent('training-workers', et('2026-11-23T10:00:00')), metrics: [{ rule: 'training-queue', idle: false }] },
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'none', from: 4, to: 4, code: 'MetricMissing' },
  },
  {
    case: 'CloudWatch throttled: the training workers stay as they are, with the reason',
    state: stateOf('training-workers', { desired: 4 }),
    intent: { ...tickIntent('training-workers', et('2026-11-23T10:00:00')), metrics: [{ rule: 'training-queue', error: 'ThrottlingException: Rate exceeded' }] },
    now: et('2026-11-23T10:00:00'),
    expected: { verdict: 'none', from: 4, to: 4, code: 'MetricUnavailable' },
  },
  {
    case: 'a resolved notice removes the alert: nothing left to act on',
    state: stateOf('worker-llm', { desired: 3, window: 'peak', alerts: [seen(llmQueue, et('2026-11-23T10:00:00'))] }),
    intent: alertIntent('worker-llm', [{ ...llmQueue, status: 'resolved' }], et('2026-11-23T10:30:00')),
    now: et('2026-11-23T10:30:00'),
    expected: { verdict: 'none', from: 3, to: 3, code: 'NoRuleMatched' },
  },
];

describe('Function: decide', () => {
  it.each(rows)('$case', ({ state, intent, now, observed, expected }) => {
    // Act
    const decision = decideIn(policy, state, { intent, ...(observed !== undefined ? { observed } : {}) }, now);

    // Assess
    expect({
      verdict: decision.verdict,
      from: decision.from,
      to: decision.to,
      code: decision.reasons.find((r) => r.code !== 'NoChange')?.code,
      rule: decision.rule,
    }).toEqual({ rule: undefined, ...expected });
  });

  it('sizes a workload in proportion to the value an alert carries (HPA formula)', () => {
    // Prepare: worker-llm targets 30 queued tasks per replica, as the seed's HPA does
    const proportional = { ...policy, rules: [...policy.rules, ruleSchema.parse({ id: 'llm-queue-per-replica', alert: 'LLMQueueLength', target: 'worker-llm', action: { type: 'proportional', targetValue: 30 } })] };
    const now = et('2026-11-23T10:00:00');

    // Act
    const decision = decideIn(proportional, stateOf('worker-llm', { desired: 2, window: 'peak' }), { intent: alertIntent('worker-llm', [alert('LLMQueueLength', ['llm-queue-per-replica'], { value: 90 })], now) }, now);

    // Assess: ceil(2 x 90 / 30) = 6
    expect(decision).toMatchObject({ verdict: 'scale', from: 2, to: 6, rule: 'llm-queue-per-replica' });
  });

  it('explains a held scale-up with the time left in the cooldown', () => {
    // Prepare
    const state = stateOf('worker-llm', { desired: 3, window: 'peak', lastScaleAt: et('2026-11-23T10:00:00').toISOString() });

    // Act
    const decision = decideIn(policy, state, { intent: alertIntent('worker-llm', [llmQueue], et('2026-11-23T10:05:00')) }, et('2026-11-23T10:05:00'));

    // Assess
    expect(decision.reasons[0]?.message).toBe('cooldown of llm-queue-buildup: 5m left of 10m');
  });

  it('records the action as absolute and bumps the generation', () => {
    // Prepare
    const state = stateOf('worker-llm', { desired: 2, window: 'peak', generation: 7 });
    const now = et('2026-11-23T10:00:00');

    // Act
    const decision = decideIn(policy, state, { intent: alertIntent('worker-llm', [llmQueue], now) }, now);

    // Assess
    expect(decision.state).toMatchObject({ desired: 3, generation: 8, lastScaleAt: now.toISOString(), lastUpAt: now.toISOString() });
    expect(decision.state.recentIntents).toContain(decision.intentId);
    expect(decision.state.history.at(-1)).toMatchObject({ from: 2, to: 3, code: 'ScaleUp' });
  });

  it('gives no second action when the same intent is delivered again', () => {
    // Prepare
    const now = et('2026-11-23T10:00:00');
    const intent = alertIntent('worker-llm', [llmQueue], now);
    const first = decideIn(policy, stateOf('worker-llm', { desired: 2, window: 'peak' }), { intent }, now);

    // Act
    const again = decideIn(policy, first.state, { intent, observed: 3 }, new Date(now.getTime() + 60_000));

    // Assess
    expect(first.verdict).toBe('scale');
    expect(again).toMatchObject({ verdict: 'none', from: 3, to: 3, reasons: [{ code: 'Duplicate' }] });
  });

  describe('a redelivery against the pending action the worker recorded before calling EKS or Kubernetes', () => {
    const now = et('2026-11-23T10:00:00');
    const intent = alertIntent('worker-llm', [llmQueue], now);
    const first = decideIn(policy, stateOf('worker-llm', { desired: 2, window: 'peak' }), { intent }, now);
    const audit = { intent: intent.id, generation: first.state.generation, at: first.at, source: 'alert', from: 2, to: 3, verdict: 'scale' as const, code: 'ScaleUp', message: 'x', emergency: false };
    const pendingState = { ...first.state, pending: { to: 3, from: 2, emergency: false, audit } };

    it.each([
      { case: 'the action happened (live 3): finished, no second action, its audit event sent', observed: 3, verdict: 'none', to: 3, code: 'RecoveredUnrecordedAction', outbox: 1 },
      { case: 'the action did not happen (live 2, e.g. EKS ResourceInUse): acts again', observed: 2, verdict: 'scale', to: 3, code: 'PendingActionRetried', outbox: 0 },
    ])('$case', ({ observed, verdict, to, code, outbox }) => {
      // Act
      const again = decideIn(policy, pendingState, { intent, observed }, new Date(now.getTime() + 30_000));

      // Assess
      expect({ verdict: again.verdict, to: again.to, code: again.reasons[0]?.code, outbox: again.outbox.length }).toEqual({ verdict, to, code, outbox });
      expect(again.state.pending).toBeUndefined();
    });

    it('another intent finds the record of one that never acted (dead-lettered): dropped, and it decides from the live size', () => {
      // Act
      const next = decideIn(policy, pendingState, { intent: tickIntent('worker-llm', et('2026-11-23T10:20:00')), observed: 2 }, et('2026-11-23T10:20:00'));

      // Assess
      expect(next.reasons.map((r) => r.code)).toContain('PendingAbandoned');
      expect(next.from).toBe(2);
    });

    it('a redelivery with no pending record is no proof of anything: live 3 against a recorded 2 is drift', () => {
      // Act
      const again = decideIn(policy, stateOf('worker-llm', { desired: 2, window: 'peak' }), { intent, observed: 3 }, now);

      // Assess
      expect(again.reasons.map((r) => r.code)).not.toContain('RecoveredUnrecordedAction');
      expect(again.reasons.map((r) => r.code)).toContain('DriftDetected');
    });
  });

  it('follows someone else\'s change when the target adopts drift', () => {
    // Prepare: someone ran kubectl scale to 6 after the scaler set 3
    const now = et('2026-11-23T10:00:00');

    // Act
    const decision = decideIn(policy, stateOf('app', { desired: 3, window: 'peak' }), { intent: tickIntent('app', now), observed: 6 }, now);

    // Assess
    expect(decision).toMatchObject({ verdict: 'none', from: 6, to: 6 });
    expect(decision.reasons.map((r) => r.code)).toContain('DriftDetected');
    expect(decision.state.desired).toBe(6);
  });

  it('asks the GPU pool for nodes before an emergency doubling of worker-llm', () => {
    // Prepare: worker-llm 3 + worker-rl 1 on one 4-GPU node
    const now = et('2026-11-23T10:00:00');
    const pool = policy.targets.find((t) => t.id === 'gpu-pool');
    const member = (id: string, desired: number) => ({ target: policy.targets.find((t) => t.id === id) as never, desired });
    if (pool?.kind !== 'eks-nodegroup') throw new Error('policy.yaml has no gpu-pool');
    const gpu = { pool, poolDesired: 1, members: [member('worker-llm', 3), member('worker-rl', 1), member('training-workers', 0)] };

    // Act
    const decision = decideIn(policy, stateOf('worker-llm', { desired: 3 }), { intent: emergencyIntent('worker-llm', { action: 'double' }, now), gpu }, now);

    // Assess: 6 + 1 GPUs need 2 nodes
    expect(decision).toMatchObject({ verdict: 'scale', from: 3, to: 6, followUps: [{ target: 'gpu-pool', ensureAtLeast: 2 }] });
  });

  it('pauses with an expiry and resumes on command', () => {
    // Prepare
    const now = et('2026-11-23T10:00:00');

    // Act
    const paused = decideIn(policy, stateOf('api', { desired: 10 }), { intent: emergencyIntent('api', { action: 'pause', ttl: 3600 }, now) }, now);
    const resumed = decideIn(policy, paused.state, { intent: emergencyIntent('api', { action: 'resume' }, now) }, now);

    // Assess
    expect(paused.reasons[0]).toEqual({ code: 'PauseSet', message: 'paused until 2026-11-23T16:00:00.000Z (1h); reason: incident 42' });
    expect(paused.state.pause).toEqual({ until: '2026-11-23T16:00:00.000Z', reason: 'incident 42' });
    expect(resumed.reasons[0]?.code).toBe('Resumed');
    expect(resumed.state.pause).toBeUndefined();
  });

  it('ignores a resolved notice older than the firing it would close', () => {
    // Prepare
    const now = et('2026-11-23T10:30:00');
    const firing = { ...seen(llmQueue, et('2026-11-23T10:00:00')), startsAt: '2026-11-23T15:00:00.000Z' };
    const staleResolve = { ...llmQueue, status: 'resolved' as const, startsAt: '2026-11-23T12:00:00.000Z' };

    // Act
    const decision = decideIn(policy, stateOf('worker-llm', { desired: 3, window: 'peak', alerts: [firing] }), { intent: alertIntent('worker-llm', [staleResolve], now) }, now);

    // Assess
    expect(decision.state.alerts).toHaveLength(1);
    expect(decision.reasons.map((r) => r.code)).toContain('StaleAlert');
  });

  it('expires a firing alert that Alertmanager stopped re-sending', () => {
    // Prepare
    const now = et('2026-11-23T15:00:00');

    // Act
    const decision = decideIn(policy, stateOf('worker-llm', { desired: 3, window: 'peak', alerts: [seen(llmQueue, et('2026-11-23T10:00:00'))] }), { intent: tickIntent('worker-llm', now) }, now);

    // Assess
    expect(decision.state.alerts).toEqual([]);
    expect(decision.reasons.map((r) => r.code)).toContain('AlertExpired');
  });
});

describe('Function: decide — sources that used to conflict', () => {
  const now = et('2026-11-23T10:00:00');
  const firingSeen = (name: string, rules: string[], i: number, at: Date) => ({
    fingerprint: `fp-${name}-${i}`, alertname: name, rules, startsAt: at.toISOString(), seenAt: at.toISOString(),
  });

  it('keeps a firing veto when thirteen alerts arrive, and blocks scale-ups while alerts had to be dropped', () => {
    // Prepare: the veto first, then twelve LLM alerts
    const state = stateOf('worker-llm', { desired: 3, window: 'peak', alerts: [{ ...seen(vramLow, et('2026-11-23T09:00:00')) }] });
    const alerts = Array.from({ length: 12 }, (_, i) => alert('LLMQueueBuildup', ['llm-queue-buildup'], { fingerprint: `fp-q-${i}` }));

    // Act
    const decision = decideIn(policy, state, { intent: alertIntent('worker-llm', alerts, now) }, now);
    const crowded = decideIn(policy, stateOf('worker-llm', { desired: 3, window: 'peak' }), { intent: alertIntent('worker-llm', [...alerts, alert('LLMHighLatency', ['llm-high-latency'])], now) }, now);
    const vetoes = Array.from({ length: 13 }, (_, i) => alert('VRAMHeadroomLow', ['vram-headroom-low'], { fingerprint: `fp-vram-${i}` }));
    const tooManyVetoes = decideIn(policy, stateOf('worker-llm', { desired: 3, window: 'peak' }), { intent: alertIntent('worker-llm', vetoes, now) }, now);

    // Assess
    expect(decision.state.alerts.map((a) => a.alertname)).toContain('VRAMHeadroomLow');
    expect(decision.state.alerts).toHaveLength(12);
    expect(decision).toMatchObject({ verdict: 'hold', to: 3, limitedBy: { code: 'VetoedByAlert' } });
    // Thirteen alerts, none a veto: the one that went is known not to be one; the up acts
    expect(crowded).toMatchObject({ verdict: 'scale', to: 4 });
    expect(crowded.reasons.map((r) => r.code)).toContain('AlertsTruncated');
    // Thirteen vetoes: the newest ten are kept, and the state says a veto had to go (fail safe)
    expect(tooManyVetoes.state.alerts).toHaveLength(10);
    expect(tooManyVetoes.state.alerts.map((a) => a.fingerprint)).toEqual(vetoes.slice(3).map((v) => v.fingerprint));
    expect(tooManyVetoes.state.alertsTruncated).toBe(true);
    // Two slots stay for the alerts that scale, whatever the vetoes
    const withQueue = decideIn(policy, tooManyVetoes.state, { intent: alertIntent('worker-llm', [llmQueue], now) }, now);
    expect(withQueue.state.alerts.map((a) => a.alertname)).toContain('LLMQueueBuildup');
    expect(withQueue.state.alertsTruncated).toBe(true);
    // The three dropped vetoes are remembered: the hold stays while any of them may still fire,
    // however many of the kept ones resolve, and ends when each is seen resolved
    expect(tooManyVetoes.state.droppedVetoes?.map((d) => d.fingerprint)).toEqual(vetoes.slice(0, 3).map((v) => v.fingerprint));
    const keptResolved = decideIn(policy, tooManyVetoes.state, { intent: alertIntent('worker-llm', vetoes.slice(3).map((v) => ({ ...v, status: 'resolved' as const })), now) }, now);
    expect(keptResolved.state.alerts).toEqual([]);
    expect(keptResolved.state.alertsTruncated).toBe(true);
    const droppedResolved = decideIn(policy, keptResolved.state, { intent: alertIntent('worker-llm', vetoes.slice(0, 3).map((v) => ({ ...v, status: 'resolved' as const })), now) }, now);
    expect(droppedResolved.state.alertsTruncated).toBeUndefined();
    expect(droppedResolved.state.droppedVetoes).toBeUndefined();
  });

  it('does not revive a resolved alert from a late copy of its firing notice', () => {
    // Prepare: firing, then resolved
    const firing = alert('APIHighCPU', ['api-high-cpu'], { startsAt: '2026-11-23T14:50:00.000Z' });
    const first = decideIn(policy, stateOf('api', { desired: 3 }), { intent: alertIntent('api', [firing], now) }, now);
    const resolved = decideIn(policy, first.state, { intent: alertIntent('api', [{ ...firing, status: 'resolved' }], et('2026-11-23T10:05:00')) }, et('2026-11-23T10:05:00'));

    // Act: the firing notice again, 20 minutes later (outside SQS's 5-minute deduplication)
    const late = decideIn(policy, resolved.state, { intent: alertIntent('api', [firing], et('2026-11-23T10:25:00')) }, et('2026-11-23T10:25:00'));

    // Assess
    expect(first.to).toBe(5);
    expect(late.state.alerts).toEqual([]);
    expect(late).toMatchObject({ verdict: 'none', to: 5 });
    expect(late.reasons.map((r) => r.code)).toContain('StaleAlert');
  });

  it.each([
    { source: 'an emergency set', intent: emergencyIntent('api', { action: 'set', replicas: 10 }, et('2026-11-22T11:00:00')), verdict: 'hold' },
    { source: 'a firing notice', intent: alertIntent('api', [alert('APIHighCPU', ['api-high-cpu'])], et('2026-11-23T05:00:00')), verdict: 'none' },
  ])('drops $source older than its maximum age', ({ intent, verdict }) => {
    // Act
    const decision = decideIn(policy, stateOf('api', { desired: 5 }), { intent }, now);

    // Assess
    expect(decision).toMatchObject({ verdict, to: 5, reasons: [{ code: 'IntentTooOld' }] });
    expect(decision.state.alerts).toEqual([]);
  });

  it('records an alert as seen when it was sent, not when it was read', () => {
    // Act: sent at 10:00, read at 10:04
    const decision = decideIn(policy, stateOf('api', { desired: 5 }), { intent: alertIntent('api', [alert('APIHighCPU', ['api-high-cpu'])], now) }, et('2026-11-23T10:04:00'));

    // Assess
    expect(decision.state.alerts[0]?.seenAt).toBe(now.toISOString());
  });

  it.each([
    { value: 31, expected: 4, code: 'WithinTolerance' },
    { value: 32, expected: 4, code: 'WithinTolerance' },
    { value: 34, expected: 5, code: 'ScaleUp' },
    { value: 26, expected: 4, code: 'WithinTolerance' },
  ])('proportional: $value against a target of 30 at 4 replicas -> $expected (10% tolerance)', ({ value, expected, code }) => {
    // Prepare
    const proportional = { ...policy, rules: [...policy.rules, ruleSchema.parse({ id: 'llm-per-replica', alert: 'LLMQueueLength', target: 'worker-llm', action: { type: 'proportional', targetValue: 30 } })] };

    // Act
    const decision = decideIn(proportional, stateOf('worker-llm', { desired: 4, window: 'peak', lastUpAt: et('2026-11-23T08:00:00').toISOString() }), { intent: alertIntent('worker-llm', [alert('LLMQueueLength', ['llm-per-replica'], { value })], now) }, now);

    // Assess
    expect({ to: decision.to, code: decision.cause?.code }).toEqual({ to: expected, code });
  });

  it('pins an HPA target at an emergency size and gives the HPA its range back on resume', () => {
    // Act: HSOF emergency "scale to 2 replicas", then resume
    const pinned = decideIn(policy, stateOf('hsof', { desired: 6 }), { intent: emergencyIntent('hsof', { action: 'set', replicas: 2 }, now) }, now);
    const held = decideIn(policy, pinned.state, { intent: alertIntent('hsof', [alert('HSOFGPUBusy', ['hsof-gpu-busy'])], et('2026-11-23T10:10:00')) }, et('2026-11-23T10:10:00'));
    const resumed = decideIn(policy, held.state, { intent: emergencyIntent('hsof', { action: 'resume' }, et('2026-11-23T10:20:00')) }, et('2026-11-23T10:20:00'));

    // Assess
    expect(pinned).toMatchObject({ verdict: 'scale', from: 6, to: 2, hpa: 'pin', state: { pause: { pinned: true, until: et('2026-11-23T11:00:00').toISOString() } } });
    expect(held).toMatchObject({ verdict: 'hold', to: 2, limitedBy: { code: 'Paused' } });
    expect(resumed).toMatchObject({ verdict: 'scale', hpa: 'release' });
    expect(resumed.state.pause).toBeUndefined();
  });

  it('releases the pin when it expires by itself', () => {
    // Prepare
    const pinned = decideIn(policy, stateOf('hsof', { desired: 6 }), { intent: emergencyIntent('hsof', { action: 'scaleToMin', ttl: 600 }, now) }, now);

    // Act
    const expired = decideIn(policy, pinned.state, { intent: tickIntent('hsof', et('2026-11-23T10:11:00')) }, et('2026-11-23T10:11:00'));

    // Assess
    expect(expired).toMatchObject({ verdict: 'scale', from: 2, to: 2, hpa: 'release' });
    expect(expired.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['PauseExpired', 'PinReleased']));
  });

  it('caps a pause at the policy maximum, and says so', () => {
    // Act
    const decision = decideIn(policy, stateOf('api', { desired: 5 }), { intent: emergencyIntent('api', { action: 'pause', ttl: 3650 * 86_400 / 10 }, now) }, now);

    // Assess: 365 days asked, 7 days kept
    expect(decision.state.pause?.until).toBe(new Date(now.getTime() + 7 * 86_400_000).toISOString());
    expect(decision.reasons[0]?.message).toContain("the policy's maxPause");
  });

  it('an event window ends: the API returns to the size it began from, 15 minutes after, one pod at a time', () => {
    // Prepare: launch day, API at 3 before the event
    let state = stateOf('api', { desired: 3, window: 'normal-morning' });
    const sizes: Record<string, number> = {};
    for (let t = et('2026-12-01T07:00:00').getTime(); t <= et('2026-12-01T21:30:00').getTime(); t += 60_000) {
      state = decideIn(policy, state, { intent: tickIntent('api', new Date(t)) }, new Date(t)).state;
      sizes[new Date(t).toISOString()] = state.desired ?? -1;
    }
    const at = (local: string) => sizes[et(local).toISOString()];

    // Assess: 2x from 07:30, held through the event, back down from 20:15 by one per cooldown
    expect([at('2026-12-01T07:29:00'), at('2026-12-01T07:30:00'), at('2026-12-01T19:59:00')]).toEqual([3, 6, 6]);
    expect([at('2026-12-01T20:14:00'), at('2026-12-01T20:15:00'), at('2026-12-01T20:20:00'), at('2026-12-01T20:25:00'), at('2026-12-01T21:30:00')]).toEqual([6, 5, 4, 3, 3]);
  });
});

describe('Function: decide — repeated notices', () => {
  it('a firing alert Alertmanager re-sends every hour (the same intent id) stays seen: a 6-hour veto still vetoes after alertTtl (4h)', () => {
    // Prepare: VRAMHeadroomLow fires from 10:00, re-sent hourly with the same id
    const vram = alert('VRAMHeadroomLow', ['vram-headroom-low']);
    let state = stateOf('worker-llm', { desired: 3, window: 'peak' });
    for (let hour = 0; hour <= 5; hour++) {
      const at = new Date(et('2026-11-23T10:00:00').getTime() + hour * 3600_000);
      state = decideIn(policy, state, { intent: alertIntent('worker-llm', [vram], at, 'a-vram-same-id') }, at).state;
    }

    // Act: 15:30, five and a half hours after it began
    const later = decideIn(policy, state, { intent: alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'])], et('2026-11-23T15:30:00')) }, et('2026-11-23T15:30:00'));

    // Assess
    expect(later).toMatchObject({ verdict: 'hold', limitedBy: { code: 'VetoedByAlert' } });
  });
});
