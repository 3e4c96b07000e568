import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { status } from '../../shared/app/status.ts';
import { CloudWatchMetricSource } from '../../shared/adapters/aws/cloudWatchMetricSource.ts';
import { AwsServiceHealth } from '../../shared/adapters/aws/serviceHealth.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { SsmTickRecordStore } from '../../shared/adapters/aws/ssmTickRecordStore.ts';
import { ssmToken } from '../../shared/adapters/aws/webhookToken.ts';
import { readConfig } from '../../shared/config.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { jsonResponse, queryParameters } from '../../shared/http.ts';
import { bearerAuth } from '../../shared/middleware/bearerAuth.ts';
import { httpErrors } from '../../shared/middleware/httpErrors.ts';
import { logger } from '../../shared/observability.ts';
import { loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { type Clock, type MetricSource, type ServiceHealth, type StateStore, systemClock, type TickRecordStore } from '../../shared/ports.ts';
import { AWS_CLIENT_OPTIONS } from '../../shared/adapters/aws/clientOptions.ts';

export interface StatusDeps {
  policy: Policy;
  store: StateStore;
  /** The tick's document: the counters and readings of `GET /metrics`. */
  ticks: TickRecordStore;
  clock: Clock;
  health: ServiceHealth;
  /** The tick's metric source: explain reads the metric rules as the next tick would. */
  metrics?: MetricSource;
  /** Status's own read-only token; the webhook's does not open status, and this one opens nothing else. */
  token: () => Promise<string>;
}

/**
 * GET: per-target state, bounds in force, window, cooldowns, pause, alerts and last decisions,
 * and the service's health. GET /explain?target=T[&at=ISO]: a target's reason chain and what a
 * tick would decide now, without acting (audit events are on the EventBridge bus, not read here).
 * GET /metrics: the same state as Prometheus series, for a scrape job with the same token.
 */
export const buildHandler = (deps: StatusDeps) =>
  middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors())
    .use(bearerAuth({ token: deps.token }))
    .handler(async (event) => {
      if (event.rawPath === '/metrics') {
        // prom-client only for the scrape: a chunk of its own, outside the cold start of GET /status.
        const { prometheusExposition } = await import('../../shared/app/prometheus.ts');
        const { contentType, text } = await prometheusExposition(deps.policy, deps);
        return { statusCode: 200, headers: { 'content-type': contentType }, body: text };
      }
      if (event.rawPath === '/explain') {
        // decide() only for explain: a chunk of its own, outside the cold start of GET /status.
        const { explain, parseExplainQuery } = await import('../../shared/app/explain.ts');
        return jsonResponse(200, await explain(deps.policy, parseExplainQuery(queryParameters(new URLSearchParams(event.rawQueryString))), deps));
      }
      return jsonResponse(200, await status(deps.policy, deps));
    });

const config = readConfig();
if (!config.STATUS_TOKEN_PARAMETER) throw new Error('STATUS_TOKEN_PARAMETER is not set: status never runs without a bearer token');

const ssm = new SSMClient(AWS_CLIENT_OPTIONS);
const cloudWatch = new CloudWatchClient(AWS_CLIENT_OPTIONS);

export const handler = buildHandler({
  policy: loadBundledPolicy(config.POLICY_PATH),
  store: new SsmStateStore(ssm, config.STATE_PREFIX),
  ticks: new SsmTickRecordStore(ssm, config.STATE_PREFIX),
  clock: systemClock,
  health: new AwsServiceHealth(cloudWatch, new SQSClient(AWS_CLIENT_OPTIONS), config.DEAD_LETTER_QUEUE_URL, systemClock),
  metrics: new CloudWatchMetricSource(cloudWatch),
  token: ssmToken(ssm, config.STATUS_TOKEN_PARAMETER),
});
