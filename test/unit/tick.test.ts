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
  it('reconciles every target once per reconcileEvery (5m), spread over its minutes, once every state is recorded', async () => {
    // Prepare: a first tick records every target
    const clock = new ManualClock('2026-11-23T10:00:30-05:00');
    const autoscaler = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), print: () => undefined });
    await autoscaler.tick();

    // Act: the next five minutes
    const perMinute: string[][] = [];
    for (let minute = 0; minute < 5; minute++) {
      clock.advance(60);
      perMinute.push((await autoscaler.tick()).queued.map((i) => i.target));
    }

    // Assess: each target exactly once, and never all of them in the same minute
    expect(perMinute.flat().sort()).toEqual(policy.targets.map((t) => t.id).sort());
    expect(Math.max(...perMinute.map((m) => m.length))).toBeLessThan(policy.targets.length);
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

    // Act: the minutes up to app's reconcile
    for (let minute = 0; minute < 5; minute++) {
      clock.advance(60);
      await autoscaler.tick();
    }

    // Assess
    expect(autoscaler.cluster.snapshot().app?.desired).toBe(5);
    expect(autoscaler.decisions.filter((d) => d.target === 'app').at(-1)?.reasons.map((r) => r.code)).toContain('DriftRestored');
  });
});
