import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { headlineOf, type Decision } from './domain/decision.ts';
import { decisionKeys, logger, METRICS_NAMESPACE, SERVICE } from './observability.ts';

/**
 * The scaler's own CloudWatch metrics (EMF), apart from the logger: the functions that emit
 * none (status, emergency) do not load Powertools Metrics at their cold start.
 */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE });

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
