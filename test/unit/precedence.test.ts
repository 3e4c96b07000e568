import { describe, expect, it } from 'vitest';
import type { GpuView } from '../../shared/domain/decide/index.ts';
import type { Intent } from '../../shared/domain/intent.ts';
import { type Policy, ruleSchema, scheduleSchema, vetoSchema } from '../../shared/domain/policy.ts';
import { type Limit, PRECEDENCE, type Source } from '../../shared/domain/precedence.ts';
import type { ReasonCode } from '../../shared/domain/reasons.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';
import type { ActiveAlert, TargetState } from '../../shared/domain/state.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { alert, alertIntent, decideIn, emergencyIntent, et, stateOf, tickIntent } from '../support/intents.ts';

const shipped = loadPolicyFile('policy.yaml');

/** The shipped policy with a change, for the pairs it does not exercise itself. */
const variant = (change: (p: Policy) => Partial<Policy>): Policy => ({ ...shipped, ...change(shipped) });
const withTarget = (id: string, fields: Record<string, unknown>) => (p: Policy) => ({
  targets: p.targets.map((t) => (t.id === id ? ({ ...t, ...fields } as typeof t) : t)),
});

const firing = (alertname: string, rules: string[], at: Date, value?: number): ActiveAlert => ({
  fingerprint: `fp-${alertname.toLowerCase()}`,
  alertname,
  rules,
  startsAt: at.toISOString(),
  seenAt: at.toISOString(),
  ...(value !== undefined ? { value } : {}),
});
const ago = (at: Date, minutes: number) => new Date(at.getTime() - minutes * 60_000).toISOString();

const T = et('2026-11-23T10:00:00');
const vram = firing('VRAMHeadroomLow', ['vram-headroom-low'], T);
const queueBuildup = firing('LLMQueueBuildup', ['llm-queue-buildup'], T);

const gpuView = (poolDesired: number, llm: number, rl: number, training = 0, lastDownAt?: string): GpuView => {
  const target = (id: string) => resolvePolicy(shipped).target(id) as never;
  return {
    pool: target('gpu-pool'),
    poolDesired,
    members: [
      { target: target('worker-llm'), desired: llm, ...(lastDownAt ? { lastDownAt } : {}) },
      { target: target('worker-rl'), desired: rl },
      { target: target('training-workers'), desired: training },
    ],
  };
};

interface Row {
  /** The two sources the row sets against each other, from the precedence table. */
  pair: [Source | Limit, Source | Limit];
  /** The runbook line the row encodes. */
  line: string;
  policy?: Policy;
  state: TargetState;
  intent: Intent;
  now?: Date;
  observed?: number;
  gpu?: GpuView;
  expected: { verdict: 'scale' | 'hold' | 'none'; to: number; cause?: ReasonCode; limitedBy?: ReasonCode; also?: ReasonCode };
}

const offPeak = et('2026-11-24T01:00:00');
const prePeak = et('2026-11-23T08:30:00');

const rows: Row[] = [
  // --- operator emergency against everything automatic (TenSafe "Emergency Procedures") ---
  { pair: ['emergency', 'pause'], line: 'TenSafe: immediately double capacity, even while the autoscaler is paused',
    state: stateOf('api', { desired: 10, pause: { until: ago(T, -60), reason: 'INC-1' } }), intent: emergencyIntent('api', { action: 'double' }, T),
    expected: { verdict: 'scale', to: 20, cause: 'EmergencyDouble', also: 'PauseOverridden' } },
  { pair: ['emergency', 'veto'], line: 'an operator may override the VRAM veto, and the decision says so',
    state: stateOf('worker-llm', { desired: 3, alerts: [vram] }), intent: emergencyIntent('worker-llm', { action: 'set', replicas: 5 }, T), gpu: gpuView(2, 3, 1),
    expected: { verdict: 'scale', to: 5, cause: 'EmergencySet', also: 'VetoOverridden' } },
  { pair: ['emergency', 'hardBounds'], line: 'no path, emergency included, exceeds the hard max (API pods 3-50)',
    state: stateOf('api', { desired: 10 }), intent: emergencyIntent('api', { action: 'set', replicas: 100 }, T),
    expected: { verdict: 'scale', to: 50, cause: 'EmergencySet', limitedBy: 'ClampedToMax' } },
  { pair: ['emergency', 'windowFloor'], line: 'HSOF rollback: scale to the minimum safe size, whatever the window keeps',
    now: et('2026-12-01T12:00:00'), state: stateOf('api', { desired: 8, window: 'launch-day' }), intent: emergencyIntent('api', { action: 'scaleToMin' }, et('2026-12-01T12:00:00')),
    expected: { verdict: 'scale', to: 3, cause: 'EmergencyScaleToMin' } },
  { pair: ['emergency', 'alert'], line: 'an emergency acts inside a rule cooldown',
    state: stateOf('api', { desired: 10, lastScaleAt: ago(T, 1), alerts: [firing('APILowLoad', ['api-low-load'], T)] }), intent: emergencyIntent('api', { action: 'double' }, T),
    expected: { verdict: 'scale', to: 20, cause: 'EmergencyDouble' } },

  // --- pause ("disable autoscaling") against automatic sources ---
  { pair: ['pause', 'alert'], line: 'disable autoscaling: a P0 alert is held with the pause reason',
    state: stateOf('app', { desired: 3, window: 'peak', pause: { until: ago(T, -30), reason: 'INC-2' } }), intent: alertIntent('app', [alert('AppHighLatency', ['app-high-latency'])], T),
    expected: { verdict: 'hold', to: 3, cause: 'ScaleUp', limitedBy: 'Paused' } },
  { pair: ['pause', 'schedule'], line: 'a window entry held by a pause stays pending for the window',
    now: prePeak, state: stateOf('app', { desired: 3, window: 'normal-morning', pause: { until: ago(prePeak, -20), reason: 'INC-3' } }), intent: tickIntent('app', prePeak),
    expected: { verdict: 'hold', to: 3, cause: 'ScheduleEntry', limitedBy: 'Paused' } },
  { pair: ['pause', 'hardBounds'], line: 'hard limits hold even while paused (API production minimum 3)',
    state: stateOf('api', { desired: 1, pause: { until: ago(T, -30), reason: 'INC-4' } }), intent: tickIntent('api', T),
    expected: { verdict: 'scale', to: 3, cause: 'ClampedToMin' } },
  { pair: ['pause', 'coupling'], line: 'a paused GPU pool does not grow for its workloads',
    state: stateOf('gpu-pool', { desired: 1, pause: { until: ago(T, -30), reason: 'INC-5' } }), intent: tickIntent('gpu-pool', T), gpu: gpuView(1, 4, 2),
    expected: { verdict: 'hold', to: 1, cause: 'GpuCapacityRequested', limitedBy: 'Paused' } },
  { pair: ['pause', 'drift'], line: 'a paused target is not restored either',
    policy: variant(withTarget('app', { onDrift: 'restore' })), state: stateOf('app', { desired: 5, pause: { until: ago(T, -30), reason: 'INC-6' } }), intent: tickIntent('app', T), observed: 3,
    expected: { verdict: 'hold', to: 3, cause: 'DriftRestored', limitedBy: 'Paused' } },
  { pair: ['pause', 'veto'], line: 'a pause and a veto together: held, the veto named first',
    state: stateOf('worker-llm', { desired: 3, alerts: [vram, queueBuildup], pause: { until: ago(T, -30), reason: 'INC-7' } }), intent: tickIntent('worker-llm', T), gpu: gpuView(2, 3, 1),
    expected: { verdict: 'hold', to: 3, cause: 'ScaleUp', limitedBy: 'VetoedByAlert' } },

  // --- the P0 VRAM veto against every automatic scale-up (decision matrix: "do not scale up") ---
  { pair: ['veto', 'alert'], line: 'GPU VRAM < 20%: queue buildup (P1) does not scale worker-llm up',
    state: stateOf('worker-llm', { desired: 3, alerts: [vram] }), intent: alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'])], T), gpu: gpuView(2, 3, 1),
    expected: { verdict: 'hold', to: 3, cause: 'ScaleUp', limitedBy: 'VetoedByAlert' } },
  { pair: ['veto', 'schedule'], line: 'GPU VRAM < 20%: the 08:30 peak pre-scale does not scale worker-llm up',
    now: prePeak, state: stateOf('worker-llm', { desired: 3, window: 'normal-morning', alerts: [firing('VRAMHeadroomLow', ['vram-headroom-low'], prePeak)] }), intent: tickIntent('worker-llm', prePeak), gpu: gpuView(1, 3, 1),
    expected: { verdict: 'hold', to: 3, cause: 'ScheduleEntry', limitedBy: 'VetoedByAlert' } },
  { pair: ['veto', 'windowFloor'], line: 'GPU VRAM < 20%: not even a window floor scales up',
    policy: variant((p) => ({ schedules: [...p.schedules, scheduleSchema.parse({ id: 'floor', start: '09:00', end: '18:00', priority: 40, targets: { 'worker-llm': { floor: 5 } } })] })),
    state: stateOf('worker-llm', { desired: 3, window: 'floor', alerts: [vram] }), intent: tickIntent('worker-llm', T), gpu: gpuView(2, 3, 1),
    expected: { verdict: 'hold', to: 3, cause: 'ScheduleFloor', limitedBy: 'VetoedByAlert' } },
  { pair: ['veto', 'metric'], line: 'a veto blocks a metric rule\'s scale-up too',
    policy: variant((p) => ({ vetoes: [...p.vetoes, vetoSchema.parse({ id: 'training-veto', alert: 'TrainingHalt', targets: ['training-workers'] })] })),
    state: stateOf('training-workers', { desired: 1, alerts: [firing('TrainingHalt', ['training-veto'], T)] }),
    intent: { ...tickIntent('training-workers', T), metrics: [{ rule: 'training-queue', value: 4, idle: false }] }, gpu: gpuView(2, 2, 1, 1),
    expected: { verdict: 'hold', to: 1, cause: 'ScaleUp', limitedBy: 'VetoedByAlert' } },
  { pair: ['veto', 'drift'], line: 'a veto blocks restoring a size someone lowered',
    policy: variant(withTarget('worker-llm', { onDrift: 'restore' })), state: stateOf('worker-llm', { desired: 4, alerts: [vram] }), intent: tickIntent('worker-llm', T), observed: 2, gpu: gpuView(2, 4, 1),
    expected: { verdict: 'hold', to: 2, cause: 'DriftRestored', limitedBy: 'VetoedByAlert' } },
  { pair: ['veto', 'hardBounds'], line: 'the hard minimum holds even under a veto (worker-llm 2-8)',
    state: stateOf('worker-llm', { desired: 1, alerts: [vram] }), intent: tickIntent('worker-llm', T), gpu: gpuView(2, 1, 1),
    expected: { verdict: 'scale', to: 2, cause: 'ClampedToMin', also: 'VetoedByAlert' } },
  { pair: ['veto', 'alert'], line: 'an up-veto lets a scale-down through',
    state: stateOf('worker-llm', { desired: 5, alerts: [vram], lastUpAt: ago(T, 60), lastScaleAt: ago(T, 60) }), intent: alertIntent('worker-llm', [alert('LLMQueueIdle', ['llm-queue-idle'])], T), gpu: gpuView(2, 5, 1),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleDown' } },

  // --- rules among themselves and against windows (decision matrix 4.1) ---
  { pair: ['alert', 'alert'], line: 'high latency (P0) and low CPU (P3) together: up wins',
    state: stateOf('app', { desired: 3, window: 'peak', alerts: [firing('AppLowCPU', ['app-low-cpu'], T)] }), intent: alertIntent('app', [alert('AppHighLatency', ['app-high-latency'])], T),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleUp', also: 'UpBeatsDown' } },
  { pair: ['alert', 'schedule'], line: 'off-peak (P3) does not cut below what queue buildup (P1) holds, veto or not',
    now: offPeak, state: stateOf('worker-llm', { desired: 7, window: 'normal-evening', lastScaleAt: ago(offPeak, 60), lastUpAt: ago(offPeak, 60), alerts: [firing('VRAMHeadroomLow', ['vram-headroom-low'], offPeak), firing('LLMQueueBuildup', ['llm-queue-buildup'], offPeak)] }),
    intent: tickIntent('worker-llm', offPeak), gpu: gpuView(2, 7, 1),
    expected: { verdict: 'hold', to: 7, cause: 'ScaleUp', limitedBy: 'VetoedByAlert' } },
  { pair: ['alert', 'schedule'], line: 'an up-rule in its cooldown still keeps off-peak from cutting',
    now: offPeak, state: stateOf('worker-llm', { desired: 7, window: 'normal-evening', lastScaleAt: ago(offPeak, 2), lastUpAt: ago(offPeak, 2), alerts: [firing('LLMQueueBuildup', ['llm-queue-buildup'], offPeak)] }),
    intent: tickIntent('worker-llm', offPeak), gpu: gpuView(2, 7, 1),
    expected: { verdict: 'hold', to: 7, cause: 'ScaleUp', limitedBy: 'CooldownActive' } },
  { pair: ['alert', 'schedule'], line: 'a rule holding its level (proportional, inside the 10% band) keeps off-peak from cutting',
    policy: variant((p) => ({ rules: [...p.rules, ruleSchema.parse({ id: 'llm-per-replica', alert: 'LLMQueueLength', target: 'worker-llm', priority: 'P1', action: { type: 'proportional', targetValue: 30 } })] })),
    now: offPeak, state: stateOf('worker-llm', { desired: 4, window: 'normal-evening', lastUpAt: ago(offPeak, 60), lastScaleAt: ago(offPeak, 60), alerts: [firing('LLMQueueLength', ['llm-per-replica'], offPeak, 31)] }),
    intent: tickIntent('worker-llm', offPeak), gpu: gpuView(1, 4, 0),
    expected: { verdict: 'hold', to: 4, cause: 'ScheduleEntry', limitedBy: 'UpInForce' } },
  { pair: ['alert', 'schedule'], line: 'a pre-scale (P3) and a low-utilisation down (P3): up wins the tie',
    now: prePeak, state: stateOf('app', { desired: 3, window: 'normal-morning', alerts: [firing('AppLowCPU', ['app-low-cpu'], prePeak)] }), intent: tickIntent('app', prePeak),
    expected: { verdict: 'scale', to: 5, cause: 'ScheduleEntry' } },
  { pair: ['alert', 'windowFloor'], line: 'launch day: low load does not go below the event floor',
    now: et('2026-12-01T12:00:00'), state: stateOf('api', { desired: 6, window: 'launch-day', windowEntry: { to: 6, before: 3, done: true } }), intent: alertIntent('api', [alert('APILowLoad', ['api-low-load'])], et('2026-12-01T12:00:00')),
    expected: { verdict: 'hold', to: 6, cause: 'ScaleDown', limitedBy: 'ScheduleFloor' } },
  { pair: ['alert', 'windowCeiling'], line: 'a window ceiling caps a scale-up',
    policy: variant((p) => ({ schedules: [...p.schedules, scheduleSchema.parse({ id: 'capped', start: '09:00', end: '18:00', priority: 40, targets: { api: { ceiling: 12 } } })] })),
    state: stateOf('api', { desired: 10, window: 'capped' }), intent: alertIntent('api', [alert('APIQueueBackup', ['api-queue-backup'])], T),
    expected: { verdict: 'scale', to: 12, cause: 'ScaleUp', limitedBy: 'ScheduleCeiling' } },
  { pair: ['windowCeiling', 'alert'], line: 'a window ceiling outranks the rules: above it, down one step even with an up firing',
    policy: variant((p) => ({ schedules: [...p.schedules, scheduleSchema.parse({ id: 'capped', start: '09:00', end: '18:00', priority: 40, targets: { api: { ceiling: 12 } } })] })),
    state: stateOf('api', { desired: 15, window: 'capped', alerts: [firing('APIHighCPU', ['api-high-cpu'], T)] }), intent: tickIntent('api', T),
    expected: { verdict: 'scale', to: 14, cause: 'ScheduleCeiling', limitedBy: 'OneStepAtATime' } },
  { pair: ['alert', 'hardBounds'], line: 'TenSafe: API pods never exceed 50',
    state: stateOf('api', { desired: 48 }), intent: alertIntent('api', [alert('APIQueueBackup', ['api-queue-backup'])], T),
    expected: { verdict: 'scale', to: 50, cause: 'ScaleUp', limitedBy: 'ClampedToMax' } },
  { pair: ['alert', 'coupling'], line: 'a GPU workload grows only as far as its pool\'s max carries',
    state: stateOf('worker-llm', { desired: 8 }), intent: alertIntent('worker-llm', [alert('LLMQueueBuildup', ['llm-queue-buildup'])], T),
    gpu: { ...gpuView(20, 8, 4, 10), pool: { ...gpuView(20, 8, 4, 10).pool, max: 5 } },
    expected: { verdict: 'hold', to: 8, cause: 'ScaleUp', limitedBy: 'GpuCapacityLimit' } },
  { pair: ['alert', 'metric'], line: 'a metric rule and an alert rule: the largest up wins',
    policy: variant((p) => ({ rules: [...p.rules, ruleSchema.parse({ id: 'training-backlog', alert: 'TrainingBacklog', target: 'training-workers', action: { type: 'step', by: 1 } })] })),
    state: stateOf('training-workers', { desired: 1, alerts: [firing('TrainingBacklog', ['training-backlog'], T)] }),
    intent: { ...tickIntent('training-workers', T), metrics: [{ rule: 'training-queue', value: 4, idle: false }] }, gpu: gpuView(3, 2, 1, 1),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleUp' } },
  { pair: ['metric', 'schedule'], line: 'the training queue (P1) keeps its workers through a window that wants fewer',
    policy: variant((p) => ({ schedules: [...p.schedules, scheduleSchema.parse({ id: 'quiet', start: '09:00', end: '18:00', priority: 40, targets: { 'training-workers': { desired: 0 } } })] })),
    state: stateOf('training-workers', { desired: 3, window: 'quiet', windowEntry: { to: 0, before: 3, done: false }, lastUpAt: ago(T, 60), lastScaleAt: ago(T, 60) }),
    intent: { ...tickIntent('training-workers', T), metrics: [{ rule: 'training-queue', value: 3, idle: false }] }, gpu: gpuView(2, 2, 1, 3),
    expected: { verdict: 'hold', to: 3, cause: 'ScheduleEntry', limitedBy: 'UpInForce' } },

  // --- schedules: entries, pre-scale, event end ("scale up aggressively, down conservatively") ---
  { pair: ['schedule', 'alert'], line: 'a window entry that lowers waits the scale-down delay after an up',
    now: et('2026-11-23T18:00:00'), state: stateOf('worker-llm', { desired: 5, window: 'peak', lastUpAt: ago(et('2026-11-23T18:00:00'), 10), lastScaleAt: ago(et('2026-11-23T18:00:00'), 10) }),
    intent: tickIntent('worker-llm', et('2026-11-23T18:00:00')), gpu: gpuView(2, 5, 1),
    expected: { verdict: 'hold', to: 5, cause: 'ScheduleEntry', limitedBy: 'ScaleDownDelayed' } },
  { pair: ['schedule', 'hardBounds'], line: 'off-peak goes down one step at a time',
    now: offPeak, state: stateOf('app', { desired: 5, window: 'normal-evening' }), intent: tickIntent('app', offPeak),
    expected: { verdict: 'scale', to: 4, cause: 'ScheduleEntry', limitedBy: 'OneStepAtATime' } },
  { pair: ['schedule', 'alert'], line: 'a pre-scale only raises: worker-llm at 8 stays 8 at 08:30',
    now: prePeak, state: stateOf('worker-llm', { desired: 8, window: 'normal-morning' }), intent: tickIntent('worker-llm', prePeak), gpu: gpuView(3, 8, 1),
    expected: { verdict: 'none', to: 8, also: 'PreScale' } },
  { pair: ['schedule', 'pause'], line: 'the held entry applies once the pause lifts, inside the window',
    now: et('2026-11-23T08:51:00'), state: stateOf('app', { desired: 3, window: 'peak', windowEntry: { to: 5, before: 3, done: false }, pause: { until: et('2026-11-23T08:50:00').toISOString(), reason: 'INC-8' } }),
    intent: tickIntent('app', et('2026-11-23T08:51:00')),
    expected: { verdict: 'scale', to: 5, cause: 'ScheduleEntry', also: 'PauseExpired' } },
  { pair: ['eventEnd', 'alert'], line: 'TenSafe: after the event, scale down 15 minutes later, one pod at a time',
    now: et('2026-12-01T20:16:00'), state: stateOf('api', { desired: 6, window: null, windowReturn: { window: 'launch-day', to: 3, after: et('2026-12-01T20:15:00').toISOString() }, lastUpAt: ago(T, 600) }),
    intent: tickIntent('api', et('2026-12-01T20:16:00')),
    expected: { verdict: 'scale', to: 5, cause: 'EventEnded', limitedBy: 'OneStepAtATime' } },
  { pair: ['eventEnd', 'alert'], line: 'after the event, a firing scale-up keeps the pods',
    now: et('2026-12-01T20:16:00'), state: stateOf('api', { desired: 6, window: null, windowReturn: { window: 'launch-day', to: 3, after: et('2026-12-01T20:15:00').toISOString() }, lastUpAt: ago(T, 600), lastScaleAt: ago(et('2026-12-01T20:16:00'), 1), alerts: [firing('APIHighCPU', ['api-high-cpu'], et('2026-12-01T20:16:00'))] }),
    intent: tickIntent('api', et('2026-12-01T20:16:00')),
    expected: { verdict: 'hold', to: 6, cause: 'ScaleUp', limitedBy: 'CooldownActive' } },
  { pair: ['eventEnd', 'schedule'], line: 'the return waits its 15 minutes after the end',
    now: et('2026-12-01T20:05:00'), state: stateOf('api', { desired: 6, window: null, windowReturn: { window: 'launch-day', to: 3, after: et('2026-12-01T20:15:00').toISOString() } }),
    intent: tickIntent('api', et('2026-12-01T20:05:00')),
    expected: { verdict: 'none', to: 6 } },

  // --- GPU pool: coupling, idle shrink, drain ---
  { pair: ['coupling', 'idle'], line: 'a pool grows to what its workloads need before shrinking for idleness',
    state: stateOf('gpu-pool', { desired: 1, idleSince: ago(T, 120) }), intent: tickIntent('gpu-pool', T), gpu: gpuView(1, 4, 2),
    expected: { verdict: 'scale', to: 2, cause: 'GpuCapacityRequested' } },
  { pair: ['coupling', 'hardBounds'], line: 'GPU nodes 1-20: a pool never grows past its max',
    state: stateOf('gpu-pool', { desired: 19 }), intent: { ...tickIntent('gpu-pool', T), ensureAtLeast: 25 }, gpu: gpuView(19, 8, 4, 10),
    expected: { verdict: 'scale', to: 20, cause: 'GpuCapacityRequested', limitedBy: 'ClampedToMax' } },
  { pair: ['idle', 'drain'], line: 'GPU pool idle: pods drain (60 s) before nodes go',
    state: stateOf('gpu-pool', { desired: 3, idleSince: ago(T, 120), lastUpAt: ago(T, 600) }), intent: tickIntent('gpu-pool', T), gpu: gpuView(3, 2, 1, 0, ago(T, 0.5)),
    expected: { verdict: 'hold', to: 3, cause: 'GpuPoolIdle', limitedBy: 'DrainingPods' } },
  { pair: ['idle', 'alert'], line: 'GPU pods pending (P1) beats an idle shrink',
    state: stateOf('gpu-pool', { desired: 3, idleSince: ago(T, 120), lastUpAt: ago(T, 600), lastScaleAt: ago(T, 600), alerts: [firing('GPUPodsPending', ['gpu-pods-pending'], T)] }), intent: tickIntent('gpu-pool', T), gpu: gpuView(3, 2, 1),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleUp', also: 'UpBeatsDown' } },
  { pair: ['idle', 'schedule'], line: 'an idle shrink waits the scale-down delay after the pool grew',
    state: stateOf('gpu-pool', { desired: 3, idleSince: ago(T, 120), lastUpAt: ago(T, 5) }), intent: tickIntent('gpu-pool', T), gpu: gpuView(3, 2, 1),
    expected: { verdict: 'hold', to: 3, cause: 'GpuPoolIdle', limitedBy: 'ScaleDownDelayed' } },

  // --- drift restore ---
  { pair: ['drift', 'alert'], line: 'restoring a lowered size and a scale-up together: the larger up wins',
    policy: variant(withTarget('app', { onDrift: 'restore' })), state: stateOf('app', { desired: 5 }), intent: alertIntent('app', [alert('AppHighCPU', ['app-high-cpu'])], T), observed: 2,
    expected: { verdict: 'scale', to: 5, cause: 'DriftRestored' } },
  { pair: ['drift', 'alert'], line: 'a firing scale-up (P1) is never cut by a drift restore',
    policy: variant(withTarget('app', { onDrift: 'restore' })), state: stateOf('app', { desired: 3, lastScaleAt: ago(T, 1), alerts: [firing('AppRequestQueueHigh', ['app-request-queue'], T)] }), intent: tickIntent('app', T), observed: 6,
    expected: { verdict: 'hold', to: 6, cause: 'ScaleUp', limitedBy: 'CooldownActive' } },
  { pair: ['drift', 'schedule'], line: 'a drift restore outranks a window entry (P3)',
    policy: variant(withTarget('app', { onDrift: 'restore' })), now: offPeak, state: stateOf('app', { desired: 5, window: 'normal-evening' }), intent: tickIntent('app', offPeak), observed: 3,
    expected: { verdict: 'scale', to: 5, cause: 'DriftRestored' } },

  // --- rate limits (GPU services guide: HPA behaviour +100% and -50% per minute) ---
  { pair: ['alert', 'rateLimit'], line: 'GPU services: a scale-down removes at most half per minute',
    state: stateOf('embedding-service', { desired: 6, alerts: [firing('EmbeddingUnderused', ['embedding-underused'], T)], proposedSince: { down: ago(T, 10) } }), intent: tickIntent('embedding-service', T),
    expected: { verdict: 'scale', to: 3, cause: 'ScaleDown', limitedBy: 'RateLimited' } },
  { pair: ['rateLimit', 'alert'], line: 'GPU services: a scale-up adds at most +100% per minute',
    policy: variant((p) => ({ rules: [...p.rules, ruleSchema.parse({ id: 'embedding-burst', alert: 'EmbeddingBurst', target: 'embedding-service', action: { type: 'setAtLeast', replicas: 10 }, cooldown: '0s' })] })),
    state: stateOf('embedding-service', { desired: 3, alerts: [firing('EmbeddingBurst', ['embedding-burst'], T)], proposedSince: { up: ago(T, 5) } }), intent: tickIntent('embedding-service', T),
    expected: { verdict: 'scale', to: 6, cause: 'ScaleUp', limitedBy: 'RateLimited' } },
  { pair: ['rateLimit', 'alert'], line: 'the period counts from its start: a service that doubled 30 s ago holds until the minute is over',
    policy: variant((p) => ({ rules: [...p.rules, ruleSchema.parse({ id: 'embedding-burst', alert: 'EmbeddingBurst', target: 'embedding-service', action: { type: 'setAtLeast', replicas: 10 }, cooldown: '0s' })] })),
    state: stateOf('embedding-service', {
      desired: 6,
      alerts: [firing('EmbeddingBurst', ['embedding-burst'], T)],
      proposedSince: { up: ago(T, 6) },
      history: [{ at: new Date(T.getTime() - 30_000).toISOString(), intent: 'earlier', from: 3, to: 6, code: 'RateLimited', cause: 'ScaleUp', message: 'scale-up limited' }],
    }),
    intent: tickIntent('embedding-service', T),
    expected: { verdict: 'hold', to: 6, cause: 'ScaleUp', limitedBy: 'RateLimited' } },
  // --- stabilization windows (GPU services guide: 300 s up, 600 s down) ---
  { pair: ['stabilization', 'alert'], line: 'GPU services: a scale-down waits until the rules have asked for it 10 minutes',
    state: stateOf('embedding-service', { desired: 6, alerts: [firing('EmbeddingUnderused', ['embedding-underused'], T)], proposedSince: { down: ago(T, 4) } }), intent: tickIntent('embedding-service', T),
    expected: { verdict: 'hold', to: 6, cause: 'ScaleDown', limitedBy: 'Stabilizing' } },
  { pair: ['stabilization', 'alert'], line: 'GPU services: a scale-up waits until the rules have asked for it 5 minutes, counted from the first ask',
    state: stateOf('embedding-service', { desired: 3, alerts: [firing('EmbeddingHighCPU', ['embedding-cpu'], T)] }), intent: tickIntent('embedding-service', T),
    expected: { verdict: 'hold', to: 3, cause: 'ScaleUp', limitedBy: 'Stabilizing' } },
  { pair: ['stabilization', 'emergency'], line: 'an operator command does not wait for the stabilization window',
    state: stateOf('embedding-service', { desired: 3 }), intent: emergencyIntent('embedding-service', { action: 'double' }, T),
    expected: { verdict: 'scale', to: 6, cause: 'EmergencyDouble' } },
];

describe('Precedence: every pair of sources', () => {
  it.each(rows)('$pair.0 vs $pair.1 — $line', ({ policy, state, intent, now, observed, gpu, expected }) => {
    // Act
    const decision = decideIn(policy ?? shipped, state, { intent, ...(observed !== undefined ? { observed } : {}), ...(gpu ? { gpu } : {}) }, now ?? T);

    // Assess
    expect({ verdict: decision.verdict, to: decision.to, cause: decision.cause?.code, limitedBy: decision.limitedBy?.code }).toEqual({
      verdict: expected.verdict,
      to: expected.to,
      cause: expected.cause,
      limitedBy: expected.limitedBy,
    });
    expect(decision.reasons[0]?.code).toBe(expected.limitedBy ?? expected.cause ?? decision.reasons[0]?.code);
    if (expected.also) expect(decision.reasons.map((r) => r.code)).toContain(expected.also);
  });

  it('has a row for every source of the table', () => {
    const covered = new Set<string>(rows.flatMap((r) => r.pair));
    expect([...Object.keys(PRECEDENCE), 'pause', 'veto'].filter((s) => !covered.has(s))).toEqual([]);
  });
});
