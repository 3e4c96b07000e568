import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { status } from '../../shared/app/status.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import type { ServiceHealth } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';

const policy = loadPolicyFile('policy.yaml');

describe('Function: status', () => {
  it.each([
    // health, problems reported
    { case: 'a tick 180 s ago', health: { lastTickAt: '2026-11-23T13:57:00.000Z', deadLetters: 0 }, problems: [] },
    { case: 'a tick 181 s ago', health: { lastTickAt: '2026-11-23T13:56:59.000Z', deadLetters: 0 }, problems: ['no tick for 3 minutes (last 2026-11-23T13:56:59.000Z): evaluations stalled'] },
    { case: 'no tick seen', health: { lastTickAt: null, deadLetters: 0 }, problems: ['no tick seen: schedules, alert expiry and idle pools are not re-evaluated'] },
    { case: 'dead letters', health: { lastTickAt: '2026-11-23T14:00:00.000Z', deadLetters: 2 }, problems: ['2 intent(s) in the dead-letter queue: scaling actions that did not happen'] },
    { case: 'a host that cannot read its DLQ', health: { lastTickAt: '2026-11-23T14:00:00.000Z', deadLetters: null }, problems: [] },
  ])('$case: healthy when no problem is listed', async ({ health, problems }) => {
    // Prepare
    const source: ServiceHealth = { lastTickAt: async () => health.lastTickAt, deadLetters: async () => health.deadLetters };

    // Act
    const report = await status(policy, { store: new MemoryStateStore(), clock: new ManualClock('2026-11-23T14:00:00.000Z'), health: source });

    // Assess
    expect(report).toMatchObject({ healthy: problems.length === 0, problems, deadLetters: health.deadLetters });
  });

  it('reports health it cannot read as a problem, and still shows every target', async () => {
    // Prepare: CloudWatch and SQS both refuse
    const source: ServiceHealth = {
      lastTickAt: async () => Promise.reject(new Error('AccessDenied: cloudwatch:GetMetricData')),
      deadLetters: async () => Promise.reject(new Error('AccessDenied: sqs:GetQueueAttributes')),
    };

    // Act
    const report = await status(policy, { store: new MemoryStateStore(), clock: new ManualClock('2026-11-23T14:00:00.000Z'), health: source });

    // Assess
    expect(report).toMatchObject({
      healthy: false,
      lastTickAt: null,
      deadLetters: null,
      problems: ['the last tick could not be read: AccessDenied: cloudwatch:GetMetricData', 'the dead-letter queue could not be read: AccessDenied: sqs:GetQueueAttributes'],
    });
    expect(report.targets.map((t) => t.id)).toEqual(policy.targets.map((t) => t.id));
  });
});
