import { describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryFifoQueue } from '../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { tick } from '../../shared/app/tick.ts';
import type { MetricSource } from '../../shared/ports.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';

const policy = loadPolicyFile('policy.yaml');

describe('Function: tick', () => {
  it.each([
    // minute of the hour -> targets queued once every state is recorded and nothing changes
    { at: '2026-11-23T10:01:00-05:00', queued: 0 },
    { at: '2026-11-23T10:04:00-05:00', queued: 0 },
    { at: '2026-11-23T10:05:00-05:00', queued: policy.targets.length }, // reconcileEvery 5m: drift check
  ])('at $at queues $queued intents', async ({ at, queued }) => {
    // Prepare: a first tick records every target
    const clock = new ManualClock('2026-11-23T10:00:30-05:00');
    const autoscaler = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), print: () => undefined });
    await autoscaler.tick();
    clock.advance((Date.parse(at) - clock.now().getTime()) / 1000);

    // Act
    const summary = await autoscaler.tick();

    // Assess
    expect(summary.queued).toHaveLength(queued);
    expect(summary.evaluations).toBe(policy.targets.length);
  });

  it('leaves metric-driven targets as they are when CloudWatch throttles, with the reason', async () => {
    // Prepare
    const store = new MemoryStateStore();
    const clock = new ManualClock('2026-11-23T10:00:30-05:00');
    const queue = new MemoryFifoQueue(clock);
    const throttled: MetricSource = {
      read: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
    };

    // Act
    const summary = await tick(policy, { store, queue, clock, metrics: throttled });

    // Assess
    expect(summary.metricError).toBe('ThrottlingException: Rate exceeded');
    const intent = summary.queued.find((i) => i.target === 'training-workers');
    expect(intent?.metrics).toEqual([{ rule: 'training-queue', error: 'ThrottlingException: Rate exceeded' }]);
    expect(summary.foreseen.find((d) => d.target === 'training-workers')?.reasons.map((r) => r.code)).toContain('MetricUnavailable');
  });

  it('restores a size changed behind its back at the next reconcile, when the target says restore', async () => {
    // Prepare
    const restoring = { ...policy, targets: policy.targets.map((t) => (t.id === 'app' ? { ...t, onDrift: 'restore' as const } : t)) };
    const clock = new ManualClock('2026-11-23T10:00:30-05:00');
    const autoscaler = new LocalAutoscaler({ policy: restoring, clock, store: new MemoryStateStore(), print: () => undefined });
    await autoscaler.tick();
    autoscaler.cluster.setOutOfBand('app', 9);

    // Act
    clock.advance(270);
    await autoscaler.tick();

    // Assess
    expect(autoscaler.cluster.snapshot().app?.desired).toBe(5);
    expect(autoscaler.decisions.filter((d) => d.target === 'app').at(-1)?.reasons.map((r) => r.code)).toContain('DriftRestored');
  });
});
