import { UnreadableTickRecordError } from '../errors.ts';
import * as z from './zod.ts';

/**
 * One sample of a counter or histogram as prom-client's `getMetricsAsJSON()` gives it: the
 * histogram's `_bucket` (with `le`), `_sum` and `_count` lines each carry their `metricName`.
 */
const sampleSchema = z.object({
  value: z.number(),
  labels: z.record(z.string(), z.union([z.string(), z.number()])),
  metricName: z.optional(z.string()),
});

/** A counter or histogram, summed over every tick: what Prometheus sees as one series family. */
export const counterSeriesSchema = z.object({
  name: z.string().check(z.regex(/^[a-z_][a-z0-9_]*$/)),
  help: z.string(),
  type: z.enum(['counter', 'histogram']),
  aggregator: z.literal('sum'),
  values: z.array(sampleSchema).check(z.maxLength(32)),
});

/**
 * The minute tick's own document (`<prefix>/tick` in SSM), beside the targets' and written only
 * by the tick: the counters Prometheus reads live here, so that a cold start never resets them,
 * with what the last tick read that no target state holds.
 */
export const tickRecordSchema = z.strictObject({
  version: z.literal(1),
  /** When the last tick finished its evaluations. */
  at: z.iso.datetime({ offset: true }),
  /** The values of the metric rules' `gauge`s that tick read, e.g. scaling_pending_training_jobs. */
  gauges: z.record(z.string(), z.number()),
  /** scaling_evaluations_total and scaling_evaluation_duration_seconds since the first tick. */
  counters: z.array(counterSeriesSchema).check(z.maxLength(4)),
});

export type CounterSeries = z.infer<typeof counterSeriesSchema>;
export type TickRecord = z.infer<typeof tickRecordSchema>;

/** A stored tick document read back, `where` naming it; one that is not a tick record throws UnreadableTickRecordError. */
export const parseTickRecord = (text: string, where: string): TickRecord => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UnreadableTickRecordError(`${where} is not JSON: ${(error as Error).message}`.slice(0, 300));
  }
  const result = tickRecordSchema.safeParse(json);
  if (!result.success) throw new UnreadableTickRecordError(`${where} is not a tick record: ${result.error.issues[0]?.path.join('.') || '(root)'}: ${result.error.issues[0]?.message}`.slice(0, 300));
  return result.data;
};
