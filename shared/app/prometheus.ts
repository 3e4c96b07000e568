import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Policy } from '../domain/policy.ts';
import { type CounterSeries, counterSeriesSchema, type TickRecord } from '../domain/tickRecord.ts';
import * as z from '../domain/zod.ts';
import { UnreadableTickRecordError } from '../errors.ts';
import type { StateStore, TickRecordStore } from '../ports.ts';
import type { TickSummary } from './tick.ts';

/** The series of the scaling controller runbook, under its names; the rendered self-alerts read them. */
export const SERIES = {
  replicas: 'scaling_replicas',
  gpuNodes: 'scaling_gpu_nodes',
  evaluations: 'scaling_evaluations_total',
  evaluationDuration: 'scaling_evaluation_duration_seconds',
} as const;

/**
 * Seconds of one tick: a few SSM and CloudWatch reads, a decision per target and a queue send
 * take tenths of a second when all is well; a throttled API takes seconds, and the function
 * stops at 50 (serverless.yml), so the buckets reach it.
 */
export const EVALUATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50];

/** The tick's counters, holding one tick's numbers or none. */
const tickCounters = async (tick?: { evaluations: number; seconds: number }): Promise<CounterSeries[]> => {
  const registry = new Registry();
  const evaluations = new Counter({
    name: SERIES.evaluations,
    help: 'Target evaluations completed by the minute tick (one per target per tick).',
    registers: [registry],
  });
  const duration = new Histogram({
    name: SERIES.evaluationDuration,
    help: 'Duration of one tick: reading every state and metric rule, deciding every target, queueing what changes.',
    buckets: EVALUATION_BUCKETS,
    registers: [registry],
  });
  if (tick) {
    evaluations.inc(tick.evaluations);
    duration.observe(tick.seconds);
  }
  return z.array(counterSeriesSchema).parse(await registry.getMetricsAsJSON());
};

/** The samples of a series, by line and labels: two layouts of one series differ when the buckets changed. */
const layoutOf = (series: CounterSeries): string =>
  series.values.map((v) => `${v.metricName ?? series.name}${JSON.stringify(v.labels)}`).join(' ');

/**
 * Adds one tick to the tick's document, summed by prom-client's own aggregation (as it sums a
 * cluster's workers). A series whose layout changed (new buckets after a deploy) starts again
 * from this tick, which Prometheus's `rate()` and `increase()` take as a counter reset.
 */
export const recordTick = async (summary: TickSummary, seconds: number, deps: { ticks: TickRecordStore }): Promise<{ record: TickRecord; replaced?: string }> => {
  const [{ record: prior, unreadable }, current] = await Promise.all([readTickRecord(deps.ticks), tickCounters({ evaluations: summary.evaluations, seconds })]);
  const layouts = new Map(current.map((series) => [series.name, layoutOf(series)]));
  const kept = (prior?.counters ?? []).filter((series) => layouts.get(series.name) === layoutOf(series));
  // The current tick first: its help text is the one the sum keeps.
  const summed = AggregatorRegistry.aggregate([current, kept]);
  const record: TickRecord = {
    version: 1,
    at: summary.at,
    gauges: summary.gauges,
    counters: z.array(counterSeriesSchema).parse(await summed.getMetricsAsJSON()),
  };
  await deps.ticks.put(record);
  return { record, ...(unreadable ? { replaced: unreadable } : {}) };
};

/**
 * The tick's document, or why it could not be used: a corrupt or foreign one is replaced by the
 * next tick (its counters start again, a reset to Prometheus), not a failure of every tick and scrape.
 */
const readTickRecord = async (ticks: TickRecordStore): Promise<{ record?: TickRecord; unreadable?: string }> => {
  try {
    const record = await ticks.get();
    return record ? { record } : {};
  } catch (error) {
    if (error instanceof UnreadableTickRecordError) return { unreadable: error.message };
    throw error;
  }
};

export interface Exposition {
  contentType: string;
  text: string;
}

/**
 * `GET /metrics`: the runbook's series in the Prometheus text format, computed from the target
 * states (sizes) and the tick's document (counters, gauges the tick read). A target the scaler
 * never set nor saw, and a gauge the last tick could not read, have no sample: a made-up 0
 * would read as "no pending training job" to `scaling_gpu_pool_idle`.
 */
export const prometheusExposition = async (policy: Policy, deps: { store: StateStore; ticks: TickRecordStore }): Promise<Exposition> => {
  const [states, { record }] = await Promise.all([deps.store.list(), readTickRecord(deps.ticks)]);
  const sizes = new Map([...states.values()].flatMap((s) => (s.desired === null ? [] : [[s.target, s.desired] as const])));
  const registry = new Registry();
  const replicas = new Gauge({
    name: SERIES.replicas,
    help: 'Size the scaler last set or saw, per target: replicas, or nodes for a node group.',
    labelNames: ['target'],
    registers: [registry],
  });
  const gpuNodes = new Gauge({
    name: SERIES.gpuNodes,
    help: 'GPU nodes provisioned, per GPU node group (pool), as the scaler last set or saw.',
    labelNames: ['pool'],
    registers: [registry],
  });
  for (const target of policy.targets) {
    const size = sizes.get(target.id);
    if (size === undefined) continue;
    replicas.set({ target: target.id }, size);
    if (target.kind === 'eks-nodegroup' && target.gpusPerNode > 0) gpuNodes.set({ pool: target.id }, size);
    if (target.gauge) new Gauge({ name: target.gauge, help: `Size of target ${target.id}, as scaling_replicas{target="${target.id}"}.`, registers: [registry] }).set(size);
  }
  for (const rule of policy.metricRules) {
    const value = rule.gauge === undefined ? undefined : record?.gauges[rule.gauge];
    if (rule.gauge === undefined || value === undefined) continue;
    new Gauge({ name: rule.gauge, help: `Value of metric rule ${rule.id} (${rule.metric?.name ?? rule.expression}) at the last tick.`, registers: [registry] }).set(value);
  }
  // Before the first tick the counters are there, at zero, so that every series has its type.
  const counters = record?.counters ?? (await tickCounters());
  const exposed = AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), counters]);
  return { contentType: exposed.contentType, text: await exposed.metrics() };
};
