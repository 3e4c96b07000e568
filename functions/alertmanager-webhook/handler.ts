import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { AWS_CLIENT_OPTIONS } from '../../shared/adapters/aws/clientOptions.ts';
import { fifoGroupOf } from '../../shared/app/gpuView.ts';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { parseWebhookBody, receiveAlerts } from '../../shared/app/receiveAlerts.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { ssmToken } from '../../shared/adapters/aws/webhookToken.ts';
import { readConfig } from '../../shared/config.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { jsonResponse, MAX_BODY_BYTES } from '../../shared/http.ts';
import { bearerAuth } from '../../shared/middleware/bearerAuth.ts';
import { bodyLimit } from '../../shared/middleware/bodyLimit.ts';
import { httpErrors } from '../../shared/middleware/httpErrors.ts';
import { logger } from '../../shared/observability.ts';
import { metrics } from '../../shared/scalerMetrics.ts';
import { loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { type Clock, type IntentQueue, systemClock } from '../../shared/ports.ts';

/** The largest notification logged whole, in UTF-8 bytes (CloudWatch Logs takes events up to 256 KB, the log line's keys included). */
const LOGGED_BODY_BYTES = 200_000;

export interface WebhookDeps {
  policy: Policy;
  queue: IntentQueue;
  clock: Clock;
  token: () => Promise<string>;
}

/** Alertmanager webhook receiver: authenticate, parse, queue one intent per target (its alerts together), answer. */
export const buildHandler = (deps: WebhookDeps) =>
  middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(httpErrors())
    .use(bodyLimit({ maxBytes: MAX_BODY_BYTES }))
    .use(bearerAuth({ token: deps.token, onRefused: () => metrics.addMetric('scaling_webhook_unauthorized_total', MetricUnit.Count, 1) }))
    .handler(async (event) => {
      const payload = parseWebhookBody(event.body);
      // The notification as received, for `gpu-autoscaler backtest --alerts` to replay; a
      // CloudWatch Logs event holds 256 KB, so a larger one is only counted.
      const bytes = Buffer.byteLength(event.body ?? '');
      if (bytes <= LOGGED_BODY_BYTES) logger.info('notification received', { body: payload });
      else logger.info('notification received', { bodyBytes: bytes, alerts: payload.alerts.length });
      const summary = await receiveAlerts(deps.policy, payload, deps);
      for (const q of summary.queued) logger.info('alert queued', { target: q.target, intentId: q.intent, fingerprint: q.fingerprint, alertname: q.alertname, status: q.status, rules: q.rules });
      for (const i of summary.ignored) logger.info('alert ignored', { fingerprint: i.fingerprint, alertname: i.alertname, reason: i.reason });
      if (summary.truncatedAlerts > 0) logger.warn('Alertmanager truncated the notification', { truncatedAlerts: summary.truncatedAlerts });
      metrics.addMetric('scaling_webhook_alerts_total', MetricUnit.Count, summary.received);
      // Intents, not alerts: a target's alerts share one intent (up to 250 alerts each).
      metrics.addMetric('scaling_intents_queued_total', MetricUnit.Count, new Set(summary.queued.map((q) => q.intent)).size);
      return jsonResponse(200, summary);
    });

const config = readConfig();
if (!config.TOKEN_PARAMETER) throw new Error('TOKEN_PARAMETER is not set: the webhook never runs without a bearer token');

const policy = loadBundledPolicy(config.POLICY_PATH);

export const handler = buildHandler({
  policy,
  queue: new SqsIntentQueue(new SQSClient(AWS_CLIENT_OPTIONS), config.QUEUE_URL, fifoGroupOf(policy)),
  clock: systemClock,
  token: ssmToken(new SSMClient(AWS_CLIENT_OPTIONS), config.TOKEN_PARAMETER),
});
