import { describe, expect, it } from 'vitest';
import type { Policy } from '../../shared/domain/policy.ts';
import { webhookPayload } from '../support/payloads.ts';
import { faultWorld, type FaultWorld } from './support/faults.ts';

// A GPU pool and its workloads decided at once: their intents share the pool's FIFO group, so
// the worker takes them one after another on fresh sizes. Whatever the order, the GPUs the
// workloads' pods request never exceed those of the pool's nodes past one pool update, and
// the pool's max holds. The pool here may grow to 2 nodes (8 GPUs).

const POOL_MAX = 2;
const smallPool = (policy: Policy): Policy => ({
  ...policy,
  targets: policy.targets.map((t) => (t.id === 'gpu-pool' ? { ...t, max: POOL_MAX } : t)),
});

/** GPU requests and GPU nodes after every scaling call, from the sizes the calls set. */
const capacityTimeline = (w: FaultWorld, start: Record<string, number>) => {
  const pool = w.policy.targets.find((t) => t.id === 'gpu-pool');
  const gpusPerNode = pool?.kind === 'eks-nodegroup' ? pool.gpusPerNode : 0;
  const members = w.policy.targets.flatMap((t) => (t.kind !== 'eks-nodegroup' && 'pool' in t && t.pool === 'gpu-pool' ? [t] : []));
  const sizes = { ...start };
  const at = () => ({
    requested: members.reduce((sum, m) => sum + (sizes[m.id] ?? 0) * (m.gpusPerReplica ?? 0), 0),
    provisioned: (sizes['gpu-pool'] ?? 0) * gpusPerNode,
    nodes: sizes['gpu-pool'] ?? 0,
  });
  const timeline = [{ call: 'start', poolUpdate: false, ...at() }];
  for (const call of w.calls) {
    sizes[call.target] = call.to;
    timeline.push({ call: `${call.target} ${call.from} -> ${call.to}`, poolUpdate: call.target === 'gpu-pool', ...at() });
  }
  return timeline;
};

/**
 * Pool updates that left the pods' GPU requests above the nodes' GPUs: an emergency may scale
 * pods before their nodes, and the pool update that follows must cover them.
 */
const uncoveredAfterPoolUpdates = (timeline: ReturnType<typeof capacityTimeline>): string[] => {
  const problems: string[] = [];
  let overSince: string | undefined;
  for (const step of timeline) {
    if (step.requested <= step.provisioned) {
      overSince = undefined;
      continue;
    }
    if (overSince && step.poolUpdate) problems.push(`${step.requested} GPUs requested on ${step.provisioned} after ${step.call} (over since ${overSince})`);
    overSince ??= step.call;
  }
  const last = timeline.at(-1);
  if (last && last.requested > last.provisioned) problems.push(`${last.requested} GPUs requested on ${last.provisioned} at the end`);
  return problems;
};

const alerts = (round: number, names: [string, string][]) =>
  JSON.stringify(webhookPayload(names.map(([alertname, service]) => ({ alertname, labels: { service }, fingerprint: `${service}-${round}`, startsAt: `2026-11-23T15:${String(10 + round).padStart(2, '0')}:00.000Z` }))));

describe('a GPU pool and its workloads decided at once, on the emulator', () => {
  it('scales worker-llm and worker-rl up together, round after round, never past the pool', async () => {
    // Prepare: Monday 10:00, peak: the tick raises worker-llm to 4 and worker-rl to 2 and the pool with them
    const w = await faultWorld('2026-11-23T10:00:00-05:00', undefined, smallPool);
    try {
      await w.tick();
      await w.pump();
      const start = await w.sizes();
      w.forget();

      // Act: both queues build up at once, four times, each after their cooldowns
      for (let round = 1; round <= 4; round += 1) {
        w.clock.advance(16 * 60);
        await w.post(alerts(round, [['LLMQueueBuildup', 'worker-llm'], ['RLTrainingQueueHigh', 'worker-rl']]));
        await w.pump();
      }

      // Assess: the pool grew to its max and no further; the pods fit on its nodes all along
      const timeline = capacityTimeline(w, start);
      expect(uncoveredAfterPoolUpdates(timeline)).toEqual([]);
      expect(Math.max(...timeline.map((s) => s.nodes))).toBe(POOL_MAX);
      expect(timeline.at(-1)).toMatchObject({ nodes: POOL_MAX, requested: POOL_MAX * 4 });
      expect(w.decisions.some((d) => d.code === 'GpuCapacityLimit')).toBe(true);
    } finally {
      w.release();
    }
  });

  it.each([
    { order: 'the idle shrink first', first: 'tick' as const },
    { order: 'the scale-ups first', first: 'alerts' as const },
  ])('shrinks an idle pool racing two scale-ups ($order) without leaving pods on missing nodes', async ({ first }) => {
    // Prepare: 02:00, two GPU nodes for worker-llm 2 and worker-rl 1 (3 GPUs); an hour later the pool is idle
    const w = await faultWorld('2026-11-24T02:00:00-05:00', { min: 1, max: 3, desired: 2 }, smallPool);
    try {
      await w.tick();
      await w.pump();
      w.clock.advance(61 * 60);
      const start = await w.sizes();
      w.forget();

      // Act: the tick's shrink and both workloads' scale-ups queued before the worker takes any
      const scaleUps = () => w.post(alerts(1, [['LLMQueueBuildup', 'worker-llm'], ['RLTrainingQueueHigh', 'worker-rl']]));
      if (first === 'tick') {
        await w.tick();
        await scaleUps();
      } else {
        await scaleUps();
        await w.tick();
      }
      await w.pump();

      // Assess: worker-llm 3 and worker-rl 2 (5 GPUs) end on 2 nodes; never on fewer for longer than one pool update
      const timeline = capacityTimeline(w, start);
      expect(uncoveredAfterPoolUpdates(timeline)).toEqual([]);
      expect(await w.sizes()).toMatchObject({ 'worker-llm': 3, 'worker-rl': 2, 'gpu-pool': 2 });
      expect(Math.max(...timeline.map((s) => s.nodes))).toBeLessThanOrEqual(POOL_MAX);
    } finally {
      w.release();
    }
  });

  it('holds the pool max against an emergency on a member: its pods scale only as far as the max can carry', async () => {
    // Prepare
    const w = await faultWorld('2026-11-23T10:00:00-05:00', undefined, smallPool);
    try {
      await w.tick();
      await w.pump();
      const start = await w.sizes();
      w.forget();

      // Act: an operator sets worker-llm to its max, 8 pods of 1 GPU, next to worker-rl's 2
      const answer = await w.emergency({ action: 'set', target: 'worker-llm', replicas: 8, reason: 'INC-7', actor: 'oncall', idempotencyKey: 'inc-7' });
      await w.pump();

      // Assess: 6 + 2 GPUs on the pool's 2 nodes; the emergency says what limited it
      expect(answer.ok).toBe(true);
      const timeline = capacityTimeline(w, start);
      expect(uncoveredAfterPoolUpdates(timeline)).toEqual([]);
      expect(await w.sizes()).toMatchObject({ 'worker-llm': 6, 'worker-rl': 2, 'gpu-pool': POOL_MAX });
    } finally {
      w.release();
    }
  });
});
