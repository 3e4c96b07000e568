import { describe, expect, it } from 'vitest';
import { evaluateMetricRule, periodsNeeded, type Series } from '../../shared/domain/metrics.ts';
import { metricRuleSchema } from '../../shared/domain/policy.ts';

const thresholdRule = (missingData: string) =>
  metricRuleSchema.parse({
    id: 'queue-high',
    target: 'worker-llm',
    metric: { namespace: 'Jobs', name: 'queue_length' },
    threshold: { comparison: '>', value: 50, evaluationPeriods: 5, datapoints: 3 },
    action: { type: 'step', by: 1 },
    missingData,
  });

const queueRule = metricRuleSchema.parse({
  id: 'training-queue',
  target: 'training-workers',
  metric: { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', stat: 'Maximum' },
  targetPerReplica: 1,
  idleAfter: '30m',
});

describe('Function: evaluateMetricRule', () => {
  it.each([
    // series newest first; 3 of the last 5 must exceed 50
    { case: '3 of 5 above the threshold', missing: 'notBreaching', series: [60, 10, 70, 10, 80], breaching: true },
    { case: '2 of 5 above the threshold', missing: 'notBreaching', series: [60, 10, 70, 10, 10], breaching: false },
    { case: 'an older breach outside the 5 periods does not count', missing: 'notBreaching', series: [60, 10, 70, 10, 10, 90], breaching: false },
    { case: 'gaps count as fine by default', missing: 'notBreaching', series: [60, null, 70, null, null], breaching: false },
    { case: 'gaps count as breaching when asked', missing: 'breaching', series: [60, null, 70, null, null], breaching: true },
    { case: 'gaps are skipped when ignored: 2 of 2 present', missing: 'ignore', series: [60, null, 70, null, null], breaching: true },
    { case: 'no data at all, ignored', missing: 'ignore', series: [null, null, null, null, null], breaching: false },
  ])('$case -> breaching $breaching', ({ missing, series, breaching }) => {
    expect(evaluateMetricRule(thresholdRule(missing), series).breaching).toBe(breaching);
  });

  it.each([
    { case: 'empty for the whole 30 minutes', series: Array<number>(30).fill(0), idle: true, value: 0 },
    { case: 'empty for 29 minutes, one job before', series: [...Array<number>(29).fill(0), 1], idle: false, value: 0 },
    { case: 'a gap is never idle', series: [0, null, ...Array<number>(28).fill(0)] as Series, idle: false, value: 0 },
    { case: 'one job now', series: [1, ...Array<number>(29).fill(0)], idle: false, value: 1 },
    { case: 'no datapoint now', series: [null, 1], idle: false, value: undefined },
  ])('training queue $case -> idle $idle', ({ series, idle, value }) => {
    expect(evaluateMetricRule(queueRule, series)).toEqual({ rule: 'training-queue', idle, ...(value !== undefined ? { value } : {}) });
  });

  it('looks back over the longer of the evaluation window and the idle period', () => {
    expect([periodsNeeded(thresholdRule('ignore')), periodsNeeded(queueRule)]).toEqual([5, 30]);
  });
});

describe('Schema: metricRuleSchema', () => {
  it.each([
    { case: 'neither metric nor expression', rule: { targetPerReplica: 1 }, error: 'give either metric or expression' },
    { case: 'an expression without its metrics', rule: { expression: 'a / b', targetPerReplica: 1 }, error: 'an expression needs the metrics it names' },
    { case: 'a threshold without an action', rule: { metric: { namespace: 'n', name: 'm' }, threshold: { comparison: '>', value: 1 } }, error: 'a threshold rule needs an action' },
    { case: 'more datapoints than periods', rule: { metric: { namespace: 'n', name: 'm' }, threshold: { comparison: '>', value: 1, evaluationPeriods: 2, datapoints: 3 }, action: { type: 'step', by: 1 } }, error: 'datapoints cannot exceed evaluationPeriods' },
  ])('rejects $case', ({ rule, error }) => {
    const result = metricRuleSchema.safeParse({ id: 'r', target: 't', ...rule });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('; ')).toContain(error);
  });
});
