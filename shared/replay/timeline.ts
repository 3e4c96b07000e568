import { parse } from 'yaml';
import { z } from 'zod';
import { durationSchema } from '../domain/duration.ts';
import type { Policy } from '../domain/policy.ts';
import { type AlertSpan, type History, noticesFromSpans } from './history.ts';
import { readInputFile } from '../inputFile.ts';

const instantSchema = z.iso.datetime({ offset: true }).transform((text) => Date.parse(text));
const labelsSchema = z.record(z.string(), z.string()).default({});

/** An alert that fires at `at`, and resolves `for` later (or stays firing to the end). */
const alertEventSchema = z.strictObject({
  at: instantSchema,
  alert: z.string().min(1),
  labels: labelsSchema,
  annotations: labelsSchema,
  for: z.optional(durationSchema),
});

/** A CloudWatch datapoint the metric rules read; it holds until the next one. */
const metricEventSchema = z.strictObject({
  at: instantSchema,
  metric: z.strictObject({ namespace: z.string().min(1), name: z.string().min(1), dimensions: labelsSchema }),
  value: z.number().finite(),
});

/**
 * `simulate --events FILE`: a YAML (or JSON) list of alerts and metric values, e.g.
 * `- { at: 2027-03-10T10:00:00-05:00, alert: LLMQueueBuildup, labels: { service: worker-llm }, for: 40m }`.
 */
export const timelineSchema = z.array(z.union([alertEventSchema, metricEventSchema]));
export type Timeline = z.output<typeof timelineSchema>;

/** A timeline file that cannot be used, with every problem and where. */
export class TimelineError extends Error {
  public constructor(source: string, problems: readonly string[]) {
    super(`invalid events file ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TimelineError';
  }
}

export const parseTimeline = (text: string, source: string): Timeline => {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new TimelineError(source, [`not valid YAML: ${(error as Error).message}`]);
  }
  const result = timelineSchema.safeParse(document ?? []);
  if (!result.success) throw new TimelineError(source, result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  return result.data;
};

export const loadTimeline = (path: string): Timeline => parseTimeline(readInputFile(path, (problems) => new TimelineError(path, problems)), path);

/** The timeline as the scaler would have met it: Alertmanager's notices for its alerts, and its metric values. */
export const timelineHistory = (policy: Policy, timeline: Timeline, until: number): History => {
  const spans: AlertSpan[] = [];
  const metrics: History['metrics'] = [];
  for (const event of timeline) {
    if ('alert' in event) {
      spans.push({
        labels: { ...event.labels, alertname: event.alert },
        annotations: event.annotations,
        firedAt: event.at,
        ...(event.for !== undefined ? { resolvedAt: event.at + event.for * 1000 } : {}),
      });
    } else {
      metrics.push({ at: event.at, metric: event.metric, value: event.value });
    }
  }
  return { notices: noticesFromSpans(policy, spans, until), metrics: metrics.sort((a, b) => a.at - b.at) };
};
