import * as z from './zod.ts';
import type { MetricRule } from './policy.ts';

/** What the tick read for one metric rule, carried in the tick intent to the worker. */
export const metricSignalSchema = z.strictObject({
  rule: z.string(),
  /** The newest datapoint, when there is one. */
  value: z.optional(z.number()),
  /** Threshold rules: the threshold held for `datapoints` of the last `evaluationPeriods`. */
  breaching: z.optional(z.boolean()),
  /** The value stayed at or below `activation` for the whole `idleAfter`. */
  idle: z.optional(z.boolean()),
  /** CloudWatch could not be read (throttling, an error): nothing follows from this rule. */
  error: z.optional(z.string().check(z.maxLength(200))),
});

export type MetricSignal = z.infer<typeof metricSignalSchema>;

/** Datapoints newest first, one per period, `null` where CloudWatch has none. */
export type Series = readonly (number | null)[];

/** How many periods the rule looks back: its evaluation window or its idle period. */
export const periodsNeeded = (rule: MetricRule): number =>
  Math.max(rule.threshold?.evaluationPeriods ?? 1, rule.idleAfter ? Math.ceil(rule.idleAfter / rule.period) : 1);

const COMPARE = {
  '>': (a: number, b: number) => a > b,
  '>=': (a: number, b: number) => a >= b,
  '<': (a: number, b: number) => a < b,
  '<=': (a: number, b: number) => a <= b,
} as const;

/** Whether the threshold held for `datapoints` of the last `evaluationPeriods` (CloudWatch alarms' "M out of N"). */
const breaching = (rule: MetricRule, series: Series): boolean | undefined => {
  const threshold = rule.threshold;
  if (!threshold) return undefined;
  const window = Array.from({ length: threshold.evaluationPeriods }, (_, i) => series[i] ?? null);
  const present = window.filter((v): v is number => v !== null);
  const hits = present.filter((v) => COMPARE[threshold.comparison](v, threshold.value)).length;
  switch (rule.missingData) {
    case 'breaching':
      return hits + (window.length - present.length) >= threshold.datapoints;
    case 'notBreaching':
      return hits >= threshold.datapoints;
    case 'ignore':
      return present.length > 0 && hits >= Math.min(threshold.datapoints, present.length);
  }
};

/**
 * Reduces a metric's recent datapoints to what a decision needs. A pure function of the
 * rule and the series; a missing datapoint never makes a target idle.
 */
export const evaluateMetricRule = (rule: MetricRule, series: Series): MetricSignal => {
  const newest = series[0];
  const held = breaching(rule, series);
  const idleSlots = rule.idleAfter ? Math.ceil(rule.idleAfter / rule.period) : undefined;
  const idle =
    idleSlots === undefined
      ? undefined
      : Array.from({ length: idleSlots }, (_, i) => series[i] ?? null).every((v) => v !== null && v <= rule.activation);
  return {
    rule: rule.id,
    ...(newest !== null && newest !== undefined ? { value: newest } : {}),
    ...(held !== undefined ? { breaching: held } : {}),
    ...(idle !== undefined ? { idle } : {}),
  };
};
