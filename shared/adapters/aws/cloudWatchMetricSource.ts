import { type CloudWatchClient, GetMetricDataCommand, type MetricDataQuery, type MetricStat as CwMetricStat } from '@aws-sdk/client-cloudwatch';
import { periodsNeeded, type Series } from '../../domain/metrics.ts';
import type { MetricRule, MetricStat } from '../../domain/policy.ts';
import type { MetricSource } from '../../ports.ts';

/** GetMetricData takes at most 500 queries per call. */
const QUERIES_PER_CALL = 500;

const metricStat = (m: MetricStat, period: number): CwMetricStat => ({
  Metric: { Namespace: m.namespace, MetricName: m.name, Dimensions: Object.entries(m.dimensions).map(([Name, Value]) => ({ Name, Value })) },
  Period: period,
  Stat: m.stat,
});

/** The queries of one rule; an expression's metric ids are prefixed so that rules never collide. */
const queriesFor = (rule: MetricRule, id: string): MetricDataQuery[] => {
  if (rule.metric) return [{ Id: id, MetricStat: metricStat(rule.metric, rule.period), ReturnData: true }];
  const metrics = Object.entries(rule.metrics ?? {});
  let expression = rule.expression ?? '';
  for (const [name] of metrics) expression = expression.replace(new RegExp(`\\b${name}\\b`, 'g'), `${id}_${name}`);
  return [
    ...metrics.map(([name, m]) => ({ Id: `${id}_${name}`, MetricStat: metricStat(m, rule.period), ReturnData: false })),
    { Id: id, Expression: expression, Period: rule.period, ReturnData: true },
  ];
};

/**
 * Every metric rule of the policy in as few GetMetricData calls as the API allows (500
 * queries each), once per tick; never GetMetricStatistics in a loop.
 */
export class CloudWatchMetricSource implements MetricSource {
  public constructor(private readonly cloudWatch: CloudWatchClient) {}

  public async read(rules: readonly MetricRule[], now: Date): Promise<Map<string, Series>> {
    const end = Math.floor(now.getTime() / 60_000) * 60_000;
    const span = Math.max(...rules.map((r) => periodsNeeded(r) * r.period)) * 1000;
    const ids = new Map(rules.map((rule, i) => [`q${i}`, rule]));
    const calls: MetricDataQuery[][] = [[]];
    for (const [id, rule] of ids) {
      const queries = queriesFor(rule, id);
      const current = calls.at(-1) ?? [];
      if (current.length + queries.length > QUERIES_PER_CALL) calls.push([...queries]);
      else current.push(...queries);
    }
    const points = new Map<string, { t: number; v: number }[]>();
    for (const queries of calls) {
      let NextToken: string | undefined;
      do {
        const page = await this.cloudWatch.send(
          new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: new Date(end - span), EndTime: new Date(end), ScanBy: 'TimestampDescending', NextToken }),
        );
        for (const result of page.MetricDataResults ?? []) {
          const list = points.get(result.Id ?? '') ?? [];
          (result.Timestamps ?? []).forEach((t, i) => list.push({ t: t.getTime(), v: result.Values?.[i] ?? Number.NaN }));
          points.set(result.Id ?? '', list);
        }
        NextToken = page.NextToken;
      } while (NextToken);
    }
    const series = new Map<string, Series>();
    for (const [id, rule] of ids) {
      const period = rule.period * 1000;
      const slots: (number | null)[] = Array.from({ length: periodsNeeded(rule) }, () => null);
      for (const { t, v } of points.get(id) ?? []) {
        // A datapoint is stamped with the start of its period; the newest period ends at `end`.
        const slot = Math.round((end - period - t) / period);
        if (slot >= 0 && slot < slots.length && Number.isFinite(v)) slots[slot] = v;
      }
      series.set(rule.id, slots);
    }
    return series;
  }
}
