import { Logger } from '@aws-lambda-powertools/logger';
import type { Decision } from './domain/decision.ts';

export const SERVICE = 'gpu-autoscaler';
/** CloudWatch namespace of the EMF metrics; the alarms and dashboard read it. */
export const METRICS_NAMESPACE = 'GpuAutoscaler';

export const logger = new Logger({ serviceName: SERVICE });

/**
 * The log fields of a decision: every line about it carries the target, the intent id and
 * the alert fingerprints, so one alert can be followed from payload to node group.
 */
export const decisionKeys = (d: Decision) => ({
  target: d.target,
  intentId: d.intentId,
  fingerprints: d.fingerprints,
});
