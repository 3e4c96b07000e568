import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type Decision, headlineOf } from './domain/decision.ts';

export const SERVICE = 'gpu-autoscaler';
/** CloudWatch namespace of the EMF metrics; the alarms and dashboard read it. */
export const METRICS_NAMESPACE = 'GpuAutoscaler';

export const logger = new Logger({ serviceName: SERVICE });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE });

/**
 * The log fields of a decision: every line about it carries the target, the intent id and
 * the alert fingerprints, so one alert can be followed from payload to node group.
 */
export const decisionKeys = (d: Decision) => ({
  target: d.target,
  intentId: d.intentId,
  fingerprints: d.fingerprints,
});

/** Logs a decision and counts it by reason (`scaling_decisions_total{reason = limitedBy ?? cause}`). */
export const recordDecision = (d: Decision): void => {
  const headline = headlineOf(d);
  logger.info(`${d.target} ${d.verdict} ${d.from} -> ${d.to}: ${headline?.code}`, {
    ...decisionKeys(d),
    source: d.source,
    verdict: d.verdict,
    from: d.from,
    to: d.to,
    rule: d.rule,
    cause: d.cause?.code,
    limitedBy: d.limitedBy?.code,
    emergency: d.emergency,
    ...(d.shadow ? { shadow: true } : {}),
    reasons: d.reasons,
    generation: d.state.generation,
  });
  const single = metrics.singleMetric();
  single.addDimensions({ reason: headline?.code ?? 'NoChange', verdict: d.verdict });
  single.addMetric('scaling_decisions_total', MetricUnit.Count, 1);
};
