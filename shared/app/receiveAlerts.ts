import { alertValue, parseWebhookPayload, type WebhookPayload } from '../domain/alertmanager.ts';
import type { AlertObservation, Intent } from '../domain/intent.ts';
import { routeAlert } from '../domain/matching.ts';
import type { Policy } from '../domain/policy.ts';
import { rulesOf } from '../domain/policyLookups.ts';
import { BadRequestError, invalidInput, MAX_DETAILS, QueueUnavailableError } from '../errors.ts';
import type { Clock, IntentQueue } from '../ports.ts';
import { alertIntentId, alertsIntentId } from './intentIds.ts';

/** Alerts of one target per intent: well inside an SQS message's 256 KiB, whatever the labels. */
const ALERTS_PER_INTENT = 250;

export interface QueuedAlert {
  target: string;
  alertname: string;
  fingerprint: string;
  status: 'firing' | 'resolved';
  rules: string[];
  intent: string;
}

export interface IgnoredAlert {
  alertname: string;
  fingerprint: string;
  reason: 'NoRuleMatched' | 'DuplicateInPayload';
}

/** What the webhook answers: each alert either queued for a target or ignored, with why. */
export interface AlertsSummary {
  received: number;
  truncatedAlerts: number;
  queued: QueuedAlert[];
  ignored: IgnoredAlert[];
}

/** Parses a webhook body: 400 with the field path when it is not an Alertmanager v4 payload. */
export const parseWebhookBody = (body: string | undefined): WebhookPayload => {
  if (body === undefined || body.trim() === '') throw new BadRequestError('empty body: expected an Alertmanager webhook payload');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new BadRequestError(`body is not JSON: ${(error as Error).message}`);
  }
  const result = parseWebhookPayload(json, MAX_DETAILS);
  if (!result.success) throw invalidInput('not an Alertmanager v4 payload', result.issues, result.issueCount);
  return result.data;
};

/**
 * Maps each alert to the targets whose rules or vetoes match it and queues one intent per
 * target, its alerts together (at most 250 alerts per intent). Resolves after every intent is queued; an alert that matches nothing is
 * acknowledged and reported, never an error.
 */
export const receiveAlerts = async (
  policy: Policy,
  payload: WebhookPayload,
  deps: { queue: IntentQueue; clock: Clock },
): Promise<AlertsSummary> => {
  const now = deps.clock.now().toISOString();
  const summary: AlertsSummary = { received: payload.alerts.length, truncatedAlerts: payload.truncatedAlerts, queued: [], ignored: [] };
  // One intent per target and notification, its alerts together: a notification of a thousand
  // alerts is a few intents, not a thousand deliveries of one state each.
  const byTarget = new Map<string, { keys: string[]; alerts: AlertObservation[]; queued: QueuedAlert[] }>();
  const seen = new Set<string>();
  for (const alert of payload.alerts) {
    const alertname = alert.labels.alertname ?? '';
    const routes = routeAlert(policy, alert.labels);
    if (routes.size === 0) {
      summary.ignored.push({ alertname, fingerprint: alert.fingerprint, reason: 'NoRuleMatched' });
      continue;
    }
    const startsAt = new Date(alert.startsAt).toISOString();
    for (const [target, rules] of routes) {
      const key = alertIntentId(target, alert.fingerprint, alert.status, startsAt, rules);
      if (seen.has(key)) {
        summary.ignored.push({ alertname, fingerprint: alert.fingerprint, reason: 'DuplicateInPayload' });
        continue;
      }
      seen.add(key);
      const value = valueFor(policy, target, rules, alert);
      const group = byTarget.get(target) ?? { keys: [], alerts: [], queued: [] };
      group.keys.push(key);
      group.alerts.push({ fingerprint: alert.fingerprint, alertname, status: alert.status, startsAt, rules, ...(value !== undefined ? { value } : {}) });
      group.queued.push({ target, alertname, fingerprint: alert.fingerprint, status: alert.status, rules, intent: '' });
      byTarget.set(target, group);
    }
  }
  const intents: Intent[] = [];
  for (const [target, group] of byTarget) {
    // An SQS message holds 256 KiB: a target with more alerts than fit gets more than one intent.
    for (let i = 0; i < group.alerts.length; i += ALERTS_PER_INTENT) {
      const id = alertsIntentId(target, group.keys.slice(i, i + ALERTS_PER_INTENT));
      intents.push({ id, target, createdAt: now, source: 'alert', alerts: group.alerts.slice(i, i + ALERTS_PER_INTENT) });
      for (const queued of group.queued.slice(i, i + ALERTS_PER_INTENT)) summary.queued.push({ ...queued, intent: id });
    }
  }
  try {
    await deps.queue.send(intents);
  } catch (error) {
    throw new QueueUnavailableError(`could not queue ${intents.length} intent(s): ${(error as Error).message}`, { cause: error });
  }
  return summary;
};

/** The value a proportional rule reads, from the annotation the rule names. */
const valueFor = (policy: Policy, target: string, rules: readonly string[], alert: WebhookPayload['alerts'][number]): number | undefined => {
  for (const id of rules) {
    const rule = rulesOf(policy, target).get(id);
    if (rule?.action.type === 'proportional') return alertValue(alert, rule.action.valueFrom);
  }
  return alertValue(alert, 'value');
};
