import { periodsNeeded, type Series } from '../../domain/metrics.ts';
import type { MetricRule, MetricStat } from '../../domain/policy.ts';
import type { MetricSource } from '../../ports.ts';

interface Point {
  at: number;
  value: number;
}

const keyOf = (m: Pick<MetricStat, 'namespace' | 'name' | 'dimensions'>): string =>
  `${m.namespace}|${m.name}|${Object.entries(m.dimensions).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;

const aggregate = (stat: string, values: number[]): number => {
  switch (stat) {
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return values.length;
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
};

/**
 * Local stand-in for CloudWatch: datapoints put by hand (`POST /metrics`), read like
 * GetMetricData. A value holds until the next one, as a queue depth published every minute does.
 */
export class MemoryMetricSource implements MetricSource {
  readonly #points = new Map<string, Point[]>();

  public put(metric: Pick<MetricStat, 'namespace' | 'name' | 'dimensions'>, value: number, at: Date): void {
    const key = keyOf(metric);
    const points = [...(this.#points.get(key) ?? []), { at: at.getTime(), value }];
    this.#points.set(key, points.slice(-10_000));
  }

  public async read(rules: readonly MetricRule[], now: Date): Promise<Map<string, Series>> {
    const end = Math.floor(now.getTime() / 60_000) * 60_000;
    const series = new Map<string, Series>();
    for (const rule of rules) {
      if (!rule.metric) throw new Error(`metric rule ${rule.id} uses metric math, which only CloudWatch evaluates`);
      const points = this.#points.get(keyOf(rule.metric)) ?? [];
      const period = rule.period * 1000;
      series.set(
        rule.id,
        Array.from({ length: periodsNeeded(rule) }, (_, slot) => {
          const from = end - (slot + 1) * period;
          const values = points.filter((p) => p.at >= from && p.at < from + period).map((p) => p.value);
          if (values.length > 0) return aggregate(rule.metric?.stat ?? 'Average', values);
          return points.findLast((p) => p.at < from)?.value ?? null;
        }),
      );
    }
    return series;
  }
}
