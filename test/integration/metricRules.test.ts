import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { metricRuleSchema, type Policy } from '../../shared/domain/policy.ts';
import { deploy } from './support/deployment.ts';
import { uniqueName } from './support/aws.ts';

const MINUTE = 60_000;

/** The shipped policy with its training queue renamed for this test, plus extra metric rules. */
const withMetrics = (queueName: string, extra: unknown[] = []) => (policy: Policy): Policy => ({
  ...policy,
  metricRules: [
    ...policy.metricRules.map((r) => (r.metric ? { ...r, metric: { ...r.metric, dimensions: { QueueName: queueName } } } : r)),
    ...extra.map((r) => metricRuleSchema.parse(r)),
  ],
});

describe('CloudWatch metric rules on the emulator', () => {
  const start = '2026-11-24T03:00:00-05:00'; // off-peak: the GPU workloads need one node

  const setup = async (extra: unknown[] = []) => {
    const queueName = uniqueName('training-jobs');
    const world = await deploy(start, { min: 1, max: 20, desired: 1 }, withMetrics(queueName, extra));
    /** One datapoint `minutesAgo` periods back from the clock (0 = the newest complete period). */
    const put = async (metric: { namespace: string; name: string; dimensions: Record<string, string> }, value: number, minutesAgo = 0) => {
      const end = Math.floor(world.clock.now().getTime() / MINUTE) * MINUTE;
      await world.clients.cloudWatch.send(
        new PutMetricDataCommand({
          Namespace: metric.namespace,
          MetricData: [{
            MetricName: metric.name,
            Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
            Timestamp: new Date(end - (minutesAgo + 1) * MINUTE + 1000),
            Value: value,
          }],
        }),
      );
    };
    const queueDepth = (value: number, minutesAgo = 0) =>
      put({ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: queueName } }, value, minutesAgo);
    const cycle = async () => {
      await world.tick();
      await world.pump();
    };
    return { world, put, queueDepth, cycle };
  };

  it('scales once when a threshold holds for 3 of 5 periods', async () => {
    // Prepare
    const metric = { namespace: uniqueName('Test'), name: uniqueName('gpu_backlog'), dimensions: { pool: 'gpu' } };
    const { world, put, cycle } = await setup([{
      id: 'gpu-backlog', target: 'gpu-pool', metric: { ...metric, stat: 'Maximum' },
      threshold: { comparison: '>', value: 10, evaluationPeriods: 5, datapoints: 3 }, action: { type: 'step', by: 1 }, cooldown: '5m',
    }]);
    for (const [minutesAgo, value] of [20, 5, 20, 5, 20].entries()) await put(metric, value, minutesAgo);

    // Act: two ticks a minute apart while the backlog lasts
    await cycle();
    world.clock.advance(60);
    await put(metric, 20, 0);
    await cycle();

    // Assess
    expect(await world.nodegroupSize()).toBe(2);
    expect((await world.state('gpu-pool')).history.filter((h) => h.code === 'ScaleUp')).toHaveLength(1);
  });

  it('scales the training workers from the job queue: one per job, to zero once empty for 30m, back to one', async () => {
    // Prepare
    const { world, queueDepth, cycle } = await setup();
    await queueDepth(3);

    // Act: three jobs wait
    await cycle();

    // Assess
    expect(world.workloads.snapshot()['training-workers']?.desired).toBe(3);

    // Act: the queue empties; 20 minutes later it is not idle long enough
    for (let m = 1; m <= 20; m++) {
      world.clock.advance(60);
      await queueDepth(0);
    }
    await cycle();

    // Assess
    expect(world.workloads.snapshot()['training-workers']?.desired).toBe(3);

    // Act: empty for the full 30 minutes
    for (let m = 21; m <= 31; m++) {
      world.clock.advance(60);
      await queueDepth(0);
    }
    await cycle();

    // Assess
    expect(world.workloads.snapshot()['training-workers']?.desired).toBe(0);
    expect((await world.state('training-workers')).history.at(-1)).toMatchObject({ from: 3, to: 0, code: 'ScaleDown' });

    // Act: one job arrives
    world.clock.advance(60);
    await queueDepth(1);
    await cycle();

    // Assess
    expect(world.workloads.snapshot()['training-workers']?.desired).toBe(1);
  });

  it('never scales down on a gap in the data', async () => {
    // Prepare
    const { world, queueDepth, cycle } = await setup();
    await queueDepth(4);
    await cycle();

    // Act: no datapoints for 40 minutes (a publisher outage)
    world.clock.advance(40 * 60);
    await cycle();

    // Assess
    expect(world.workloads.snapshot()['training-workers']?.desired).toBe(4);
  });

  it('reads 600 metric rules with two GetMetricData calls per tick', async () => {
    // Prepare
    const rules = Array.from({ length: 599 }, (_, i) => ({
      id: `queue-${i}`, target: 'training-workers', metric: { namespace: 'Test/Many', name: `depth_${i}` }, targetPerReplica: 10,
    }));
    const { world } = await setup(rules);
    world.clients.resetCalls();

    // Act
    await world.tick();

    // Assess
    expect(world.clients.calls.GetMetricDataCommand).toBe(2);
  });
});
