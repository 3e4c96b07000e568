import { z } from 'zod';
import type { AlertSpan } from './history.ts';

/** Prometheus answers at most 11,000 points per series; each request stays under that. */
const MAX_POINTS = 10_000;

const matrixSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('matrix'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(z.tuple([z.number(), z.string()])) })),
  }),
});

const errorSchema = z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string() });

/** Prometheus could not be read, or answered something that is not a range query's matrix. */
export class PrometheusError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PrometheusError';
  }
}

type Matrix = z.infer<typeof matrixSchema>['data']['result'];

/** The one HTTP call: `GET /api/v1/query_range`. */
const queryRange = async (base: string, query: string, start: number, end: number, step: number): Promise<Matrix> => {
  const url = new URL('api/v1/query_range', base.endsWith('/') ? base : `${base}/`);
  url.search = new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: `${step}s` }).toString();
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new PrometheusError(`cannot reach Prometheus at ${base}: ${(error as Error).message}`, { cause: error });
  }
  const body: unknown = await response.json().catch(() => undefined);
  const failed = errorSchema.safeParse(body);
  if (failed.success) throw new PrometheusError(`Prometheus refused ${query}: ${failed.data.error}`);
  const matrix = matrixSchema.safeParse(body);
  if (!response.ok || !matrix.success) throw new PrometheusError(`Prometheus answered ${response.status} without a range query's matrix for ${query}`);
  return matrix.data.data.result;
};

// A PromQL string holding a regular expression: escape for the regex, then for the string.
const namesMatcher = (names: readonly string[]): string =>
  JSON.stringify([...names].sort().map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));

/**
 * When each alert of `alertnames` fired and resolved between `from` and `to`, read from the
 * `ALERTS` series Prometheus keeps for its alerting rules at `step` seconds: an alert fires at
 * the first step it shows as firing, and resolves at the first step it is gone. Its labels are
 * the series' without `__name__` and `alertstate`, which is what Alertmanager receives.
 */
export const readAlertSpans = async (base: string, alertnames: readonly string[], from: number, to: number, step: number): Promise<AlertSpan[]> => {
  const query = `ALERTS{alertstate="firing",alertname=~${namesMatcher(alertnames)}}`;
  const seen = new Map<string, { labels: Record<string, string>; times: number[] }>();
  for (let start = from; start <= to; start += MAX_POINTS * step * 1000) {
    const end = Math.min(to, start + (MAX_POINTS - 1) * step * 1000);
    for (const series of await queryRange(base, query, start, end, step)) {
      const { __name__: _n, alertstate: _s, ...labels } = series.metric;
      const key = JSON.stringify(Object.entries(labels).sort());
      const entry = seen.get(key) ?? { labels, times: [] };
      entry.times.push(...series.values.map(([at]) => Math.round(at * 1000)));
      seen.set(key, entry);
    }
  }
  const spans: AlertSpan[] = [];
  const stepMs = step * 1000;
  for (const { labels, times } of seen.values()) {
    times.sort((a, b) => a - b);
    let firedAt = times[0] ?? from;
    times.forEach((at, i) => {
      const next = times[i + 1];
      if (next !== undefined && next - at <= stepMs) return;
      const resolvedAt = at + stepMs;
      spans.push({ labels, annotations: {}, firedAt, ...(resolvedAt <= to ? { resolvedAt } : {}) });
      if (next !== undefined) firedAt = next;
    });
  }
  return spans.sort((a, b) => a.firedAt - b.firedAt);
};
