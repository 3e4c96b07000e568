import { describe, expect, it } from 'vitest';
import type { GpuView, WorkloadHealth } from '../../shared/domain/decide/index.ts';
import type { Intent } from '../../shared/domain/intent.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { ACTIVE_WORK } from '../../shared/domain/policyLookups.ts';
import type { ReasonCode } from '../../shared/domain/reasons.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';
import type { ActiveAlert, TargetState } from '../../shared/domain/state.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { alert, alertIntent, decideIn, emergencyIntent, et, input, stateOf } from '../support/intents.ts';

// The runbooks' health checks around a step: HSOF 002 "add one replica, wait for Ready (300 s)",
// "check hsof_active_jobs" before removing one; TenSafe 001 "check PodDisruptionBudget"; 001/002
// "new GPU nodes Ready with nvidia.com/gpu allocatable" before the pods that need them.

const shipped = loadPolicyFile('policy.yaml');
/** worker-llm's queue rule with a 1-minute cooldown, so the readiness wait is what holds the next step. */
const quick: Policy = { ...shipped, rules: shipped.rules.map((r) => (r.id === 'llm-queue-buildup' ? { ...r, cooldown: 60 } : r)) };
const withTarget = (id: string, fields: Record<string, unknown>): Policy => ({
  ...quick,
  targets: quick.targets.map((t) => (t.id === id ? ({ ...t, ...fields } as typeof t) : t)),
});

const T = et('2026-11-23T10:00:00');
const ago = (minutes: number) => new Date(T.getTime() - minutes * 60_000).toISOString();
const firing = (alertname: string, rules: string[]): ActiveAlert => ({ fingerprint: `fp-${alertname.toLowerCase()}`, alertname, rules, startsAt: T.toISOString(), seenAt: T.toISOString() });

/** `ready` of the pods Ready, updated and available (a rollout that is done but for readiness). */
const pods = (ready: number, budget?: number): WorkloadHealth => ({
  ready,
  updated: ready,
  available: ready,
  ...(budget !== undefined ? { budget: { name: 'tensafe-pdb', disruptionsAllowed: budget } } : {}),
});

/** The gpu-pool with worker-llm at `llm` and worker-rl at 2; `seen` of its nodes joined since it grew `grown` minutes ago. */
const pool = (poolDesired: number, llm: number, seen?: number, grown?: number): GpuView => {
  const target = (id: string) => resolvePolicy(shipped).target(id) as never;
  return {
    pool: target('gpu-pool'),
    poolDesired,
    members: [
      { target: target('worker-llm'), desired: llm },
      { target: target('worker-rl'), desired: 2 },
      { target: target('training-workers'), desired: 0 },
    ],
    ...(seen !== undefined ? { nodesSeen: seen } : {}),
    ...(grown !== undefined ? { grownAt: ago(grown) } : {}),
  };
};

const queueBuildup = (target = 'worker-llm') => alertIntent(target, [alert('LLMQueueBuildup', ['llm-queue-buildup'])], T);
const queueIdle = alertIntent('worker-llm', [alert('LLMQueueIdle', ['llm-queue-idle'])], T);
/** worker-llm at 4, scaled up `minutes` ago. */
const llmUp = (minutes: number, extra: Partial<TargetState> = {}) => stateOf('worker-llm', { desired: 4, lastUpAt: ago(minutes), lastScaleAt: ago(minutes), ...extra });

interface Row {
  line: string;
  policy?: Policy;
  state: TargetState;
  intent: Intent;
  health?: WorkloadHealth;
  gpu?: GpuView;
  expected: { verdict: 'scale' | 'hold' | 'none'; to: number; cause?: ReasonCode; limitedBy?: ReasonCode };
}

const rows: Row[] = [
  // --- readiness before the next step up (HSOF 002 §2, autoscaling rules 4.2 "verify health checks pass") ---
  { line: 'the last step is 3 of 4 Ready 2 minutes on: the next step waits', policy: quick,
    state: llmUp(2), intent: queueBuildup(), health: pods(3), gpu: pool(2, 4),
    expected: { verdict: 'hold', to: 4, cause: 'ScaleUp', limitedBy: 'WaitingForReady' } },
  { line: 'all 4 Ready: the warm-up (model loading, 180 s) is what holds now', policy: quick,
    state: llmUp(2), intent: queueBuildup(), health: pods(4), gpu: pool(2, 4),
    expected: { verdict: 'hold', to: 4, cause: 'ScaleUp', limitedBy: 'WarmingUp' } },
  { line: 'all 4 Ready and warmed up: the next step goes', policy: quick,
    state: llmUp(4), intent: queueBuildup(), health: pods(4), gpu: pool(2, 4),
    expected: { verdict: 'scale', to: 5, cause: 'ScaleUp' } },
  { line: 'still 3 of 4 Ready past readyTimeout (300 s): StepNotReady, no further up', policy: quick,
    state: llmUp(6), intent: queueBuildup(), health: pods(3), gpu: pool(2, 4),
    expected: { verdict: 'hold', to: 4, cause: 'ScaleUp', limitedBy: 'StepNotReady' } },
  { line: 'pods not Ready that the scaler never added: StepNotReady as well', policy: quick,
    state: stateOf('worker-llm', { desired: 4 }), intent: queueBuildup(), health: pods(2), gpu: pool(2, 4),
    expected: { verdict: 'hold', to: 4, cause: 'ScaleUp', limitedBy: 'StepNotReady' } },
  { line: 'Ready again after StepNotReady: ups resume', policy: quick,
    state: llmUp(30), intent: queueBuildup(), health: pods(4), gpu: pool(2, 4),
    expected: { verdict: 'scale', to: 5, cause: 'ScaleUp' } },
  { line: 'an emergency double is not held by readiness (operator actions act at once)', policy: quick,
    state: llmUp(2), intent: emergencyIntent('worker-llm', { action: 'double' }, T), health: pods(3), gpu: pool(4, 4),
    expected: { verdict: 'scale', to: 8, cause: 'EmergencyDouble' } },
  { line: 'a scale-down is not held by readiness', policy: quick,
    state: llmUp(30), intent: queueIdle, health: pods(2), gpu: pool(2, 4),
    expected: { verdict: 'scale', to: 3, cause: 'ScaleDown' } },
  { line: 'waitForReady: false turns the wait off', policy: withTarget('worker-llm', { waitForReady: false }),
    state: llmUp(4), intent: queueBuildup(), health: pods(3), gpu: pool(2, 4),
    expected: { verdict: 'scale', to: 5, cause: 'ScaleUp' } },
  { line: 'a workload without GPUs does not wait by default (app)',
    state: stateOf('app', { desired: 3, window: 'peak' }), intent: alertIntent('app', [alert('AppHighLatency', ['app-high-latency'])], T), health: pods(1),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleUp' } },
  { line: 'waitForReady: true on one without GPUs (api), with its own readyTimeout of 2 minutes', policy: withTarget('api', { waitForReady: true, readyTimeout: 120 }),
    state: stateOf('api', { desired: 7, lastUpAt: ago(3), lastScaleAt: ago(3) }), intent: alertIntent('api', [alert('APIHighLatency', ['api-high-latency'])], T), health: pods(3),
    expected: { verdict: 'hold', to: 7, cause: 'ScaleUp', limitedBy: 'StepNotReady' } },

  // --- PodDisruptionBudget before a scale-down (TenSafe 001 best practice 4) ---
  { line: 'the PDB allows no disruption: the scale-down holds',
    state: stateOf('api', { desired: 5, lastUpAt: ago(60), lastScaleAt: ago(60) }), intent: alertIntent('api', [alert('APILowLoad', ['api-low-load'])], T), health: pods(5, 0),
    expected: { verdict: 'hold', to: 5, cause: 'ScaleDown', limitedBy: 'DisruptionBudgetExhausted' } },
  { line: 'the PDB allows one: one step down goes',
    state: stateOf('api', { desired: 5, lastUpAt: ago(60), lastScaleAt: ago(60) }), intent: alertIntent('api', [alert('APILowLoad', ['api-low-load'])], T), health: pods(5, 1),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleDown' } },
  { line: 'the PDB allows 2 of a 10-step scale to zero (training workers, maxStepDown 10)',
    state: stateOf('training-workers', { desired: 6, lastUpAt: ago(60), lastScaleAt: ago(60) }),
    intent: { ...alertIntent('training-workers', [], T), source: 'tick', metrics: [{ rule: 'training-queue', value: 0, idle: true }] }, health: pods(6, 2), gpu: pool(3, 2),
    expected: { verdict: 'scale', to: 4, cause: 'ScaleDown', limitedBy: 'DisruptionBudgetExhausted' } },
  { line: 'an operator rollback is not held by the PDB',
    state: stateOf('api', { desired: 5 }), intent: emergencyIntent('api', { action: 'scaleToMin' }, T), health: pods(5, 0),
    expected: { verdict: 'scale', to: 3, cause: 'EmergencyScaleToMin' } },
  { line: 'the PDB does not hold a scale-up',
    state: stateOf('api', { desired: 5 }), intent: alertIntent('api', [alert('APIHighLatency', ['api-high-latency'])], T), health: pods(5, 0),
    expected: { verdict: 'scale', to: 9, cause: 'ScaleUp' } },

  // --- active work before a scale-down (HSOF 002 "check hsof_active_jobs") ---
  { line: 'hsof_active_jobs > 0: HSOF low load does not remove a replica',
    state: stateOf('hsof', { desired: 4, lastUpAt: ago(60), lastScaleAt: ago(60), alerts: [firing('HSOFActiveJobs', [ACTIVE_WORK])] }), intent: alertIntent('hsof', [alert('HSOFLowLoad', ['hsof-low-load'])], T),
    expected: { verdict: 'hold', to: 4, cause: 'ScaleDown', limitedBy: 'ActiveWork' } },
  { line: 'no active work: one replica goes',
    state: stateOf('hsof', { desired: 4, lastUpAt: ago(60), lastScaleAt: ago(60) }), intent: alertIntent('hsof', [alert('HSOFLowLoad', ['hsof-low-load'])], T),
    expected: { verdict: 'scale', to: 3, cause: 'ScaleDown' } },
  { line: 'active work does not hold a scale-up',
    state: stateOf('hsof', { desired: 4, lastUpAt: ago(60), lastScaleAt: ago(60), alerts: [firing('HSOFActiveJobs', [ACTIVE_WORK])] }), intent: alertIntent('hsof', [alert('HSOFGPUBusy', ['hsof-gpu-busy'])], T), health: pods(4),
    expected: { verdict: 'scale', to: 5, cause: 'ScaleUp' } },
  { line: 'an operator rollback acts through active work',
    state: stateOf('hsof', { desired: 4, alerts: [firing('HSOFActiveJobs', [ACTIVE_WORK])] }), intent: emergencyIntent('hsof', { action: 'scaleToMin' }, T),
    expected: { verdict: 'scale', to: 2, cause: 'EmergencyScaleToMin' } },

  // --- GPU nodes seen, not counted (001/002: new nodes Ready with nvidia.com/gpu allocatable) ---
  { line: 'the pool grew to 3 nodes 5 minutes ago and 2 have joined: the pods wait for the third', policy: quick,
    state: stateOf('worker-llm', { desired: 6, lastUpAt: ago(30), lastScaleAt: ago(30) }), intent: queueBuildup(), health: pods(6), gpu: pool(3, 6, 2, 5),
    expected: { verdict: 'hold', to: 6, cause: 'ScaleUp', limitedBy: 'WaitingForNodes' } },
  { line: 'the third node never joined within joinTimeout (15 min): NodesNotJoined', policy: quick,
    state: stateOf('worker-llm', { desired: 6, lastUpAt: ago(30), lastScaleAt: ago(30) }), intent: queueBuildup(), health: pods(6), gpu: pool(3, 6, 2, 20),
    expected: { verdict: 'hold', to: 6, cause: 'ScaleUp', limitedBy: 'NodesNotJoined' } },
  { line: 'all 3 joined: the pods scale', policy: quick,
    state: stateOf('worker-llm', { desired: 6, lastUpAt: ago(30), lastScaleAt: ago(30) }), intent: queueBuildup(), health: pods(6), gpu: pool(3, 6, 3, 5),
    expected: { verdict: 'scale', to: 7, cause: 'ScaleUp' } },
  { line: 'an emergency scales the pods whether or not the nodes joined', policy: quick,
    state: stateOf('worker-llm', { desired: 6 }), intent: emergencyIntent('worker-llm', { action: 'set', replicas: 7 }, T), gpu: pool(3, 6, 2, 20),
    expected: { verdict: 'scale', to: 7, cause: 'EmergencySet' } },
];

describe('decide(): health around a step (readiness, disruption budget, active work, nodes joined)', () => {
  it.each(rows)('$line', ({ policy = shipped, state, intent, health, gpu, expected }) => {
    // Act
    const decision = decideIn(policy, state, input(intent, { ...(health ? { health } : {}), ...(gpu ? { gpu } : {}) }), T);

    // Assess
    expect({ verdict: decision.verdict, to: decision.to, cause: decision.cause?.code, limitedBy: decision.limitedBy?.code }).toEqual({
      verdict: expected.verdict,
      to: expected.to,
      cause: expected.cause,
      limitedBy: expected.limitedBy,
    });
  });

  it('says how many are Ready and how long is left', () => {
    // Act
    const waiting = decideIn(quick, llmUp(2), input(queueBuildup(), { health: pods(3), gpu: pool(2, 4) }), T);
    const notReady = decideIn(quick, llmUp(6), input(queueBuildup(), { health: pods(3), gpu: pool(2, 4) }), T);

    // Assess
    expect(waiting.reasons[0]?.message).toBe('3 of 4 replica(s) Ready: the next scale-up waits for the last step (3m left of 5m)');
    expect(notReady.reasons[0]?.message).toBe('3 of 4 replica(s) Ready 6m after the last scale-up (readyTimeout 5m): no automatic scale-up until they are');
  });
});
