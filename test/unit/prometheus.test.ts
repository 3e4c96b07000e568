import { beforeAll, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { MemoryTickRecordStore } from '../../shared/adapters/local/memoryTickRecordStore.ts';
import { EVALUATION_BUCKETS, prometheusExposition, recordTick } from '../../shared/app/prometheus.ts';
import type { TickSummary } from '../../shared/app/tick.ts';
import { initialState } from '../../shared/domain/state.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { functionUrlEvent, lambdaContext } from '../support/lambda.ts';
import { importStatus } from '../support/handlerModules.ts';

const policy = loadPolicyFile('policy.yaml');
const OFF_PEAK = '2026-11-24T03:00:00-05:00';

const summary = (evaluations: number, gauges: Record<string, number> = {}): TickSummary => ({
  at: OFF_PEAK, evaluations, queued: [], foreseen: [], sizes: {}, gpuNodes: 0, idlePools: [], waiting: [], gauges, unreadable: {},
});

/** `# TYPE` of every series family in an exposition. */
const typesOf = (text: string): Record<string, string> =>
  Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));

/** The value of the sample written exactly as `line` (name and labels). */
const sample = (text: string, line: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe('Function: recordTick', () => {
  it('sums the counters over ticks in the stored document, so a cold start resets nothing', async () => {
    // Prepare: each tick as its own instance would run it, sharing only the document
    const ticks = new MemoryTickRecordStore();

    // Act
    await recordTick(summary(11), 0.2, { ticks });
    await recordTick(summary(11), 3, { ticks });
    const { text } = await prometheusExposition(policy, { store: new MemoryStateStore(), ticks });

    // Assess
    expect(sample(text, 'scaling_evaluations_total')).toBe(22);
    expect(sample(text, 'scaling_evaluation_duration_seconds_count')).toBe(2);
    expect(sample(text, 'scaling_evaluation_duration_seconds_sum')).toBeCloseTo(3.2);
    expect(sample(text, 'scaling_evaluation_duration_seconds_bucket{le="0.25"}')).toBe(1);
    expect(sample(text, 'scaling_evaluation_duration_seconds_bucket{le="5"}')).toBe(2);
    expect(sample(text, 'scaling_evaluation_duration_seconds_bucket{le="+Inf"}')).toBe(2);
  });

  it('starts a histogram again when its buckets changed since the stored one', async () => {
    // Prepare: a document from a build with other buckets
    const ticks = new MemoryTickRecordStore();
    const { record: first } = await recordTick(summary(5), 0.2, { ticks });
    const histogram = first.counters.find((c) => c.type === 'histogram');
    await ticks.put({
      ...first,
      counters: first.counters.map((c) => (c === histogram ? { ...c, values: c.values.map((v) => (v.labels.le === 0.05 ? { ...v, labels: { le: 0.01 } } : v)) } : c)),
    });

    // Act
    const { record } = await recordTick(summary(5), 0.2, { ticks });

    // Assess: the counter goes on, the histogram counts this tick only, with today's buckets
    const values = record.counters.find((c) => c.type === 'histogram')?.values ?? [];
    expect(values.filter((v) => v.metricName?.endsWith('_bucket')).map((v) => v.labels.le)).toEqual([...EVALUATION_BUCKETS, '+Inf']);
    expect(values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(record.counters.find((c) => c.type === 'counter')?.values[0]?.value).toBe(10);
  });
});

describe('Function: prometheusExposition', () => {
  it('names every series of the scaling controller runbook with its type', async () => {
    // Prepare: every target recorded by a first tick, and the training job queue read
    const clock = new ManualClock(OFF_PEAK);
    const autoscaler = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), print: () => undefined });
    autoscaler.metrics.put({ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'tensafe-training-jobs' } }, 3, new Date(clock.now().getTime() - 60_000));
    await autoscaler.tick();

    // Act
    const answer = await autoscaler.handle('GET', '/metrics', {}, '');
    await autoscaler.close();

    // Assess
    expect(answer).toMatchObject({ statusCode: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8' });
    const text = 'text' in answer ? answer.text : '';
    expect(typesOf(text)).toEqual({
      scaling_replicas: 'gauge',
      scaling_gpu_nodes: 'gauge',
      scaling_oms_replicas: 'gauge',
      scaling_pending_training_jobs: 'gauge',
      scaling_evaluations_total: 'counter',
      scaling_evaluation_duration_seconds: 'histogram',
    });
    expect(sample(text, 'scaling_oms_replicas')).toBe(sample(text, 'scaling_replicas{target="api"}'));
    expect(sample(text, 'scaling_pending_training_jobs')).toBe(3);
    expect(sample(text, 'scaling_evaluations_total')).toBe(policy.targets.length);
    for (const target of policy.targets) expect(sample(text, `scaling_replicas{target="${target.id}"}`), target.id).toBeGreaterThanOrEqual(target.min);
    for (const pool of policy.targets.filter((t) => t.kind === 'eks-nodegroup')) expect(sample(text, `scaling_gpu_nodes{pool="${pool.id}"}`), pool.id).toBeDefined();
  });

  it.each([
    // what the scaler does not know -> no sample, rather than a 0 that says "idle"
    { case: 'a target never set nor seen', line: 'scaling_replicas{target="app"}' },
    { case: 'a gauge the last tick could not read', line: 'scaling_pending_training_jobs' },
  ])('leaves out $case', async ({ line }) => {
    // Prepare
    const store = new MemoryStateStore();
    await store.put({ ...initialState('app'), desired: null });
    const ticks = new MemoryTickRecordStore();
    await recordTick(summary(1), 0.1, { ticks });

    // Act
    const { text } = await prometheusExposition(policy, { store, ticks });

    // Assess
    expect(sample(text, line)).toBeUndefined();
    expect(sample(text, 'scaling_evaluations_total')).toBe(1);
  });

  it('has the counters at zero before the first tick', async () => {
    // Act
    const { text } = await prometheusExposition(policy, { store: new MemoryStateStore(), ticks: new MemoryTickRecordStore() });

    // Assess
    expect(sample(text, 'scaling_evaluations_total')).toBe(0);
    expect(sample(text, 'scaling_evaluation_duration_seconds_count')).toBe(0);
  });
});

describe('Handler: status GET /metrics', () => {
  let handler: (event: ReturnType<typeof functionUrlEvent>, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

  beforeAll(async () => {
    const status = await importStatus();
    handler = status.buildHandler({ policy, store: new MemoryStateStore(), ticks: new MemoryTickRecordStore(), clock: new ManualClock(OFF_PEAK), token: async () => 'read-only', health: { lastTickAt: async () => null, deadLetters: async () => 0 } });
  });

  it.each([
    // Authorization header -> status code
    { authorization: 'Bearer read-only', statusCode: 200 },
    { authorization: 'Bearer webhook-token', statusCode: 401 },
    { authorization: undefined, statusCode: 401 },
  ])('answers $statusCode to $authorization', async ({ authorization, statusCode }) => {
    // Act
    const answer = (await handler(functionUrlEvent(undefined, authorization ? { authorization } : {}, 'GET', '/metrics'), lambdaContext('status'))) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };

    // Assess
    expect(answer.statusCode).toBe(statusCode);
    if (statusCode === 200) {
      expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(answer.body).toContain('# TYPE scaling_evaluations_total counter');
    }
  });
});
