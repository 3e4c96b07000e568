import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { status } from '../../shared/app/status.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { ssmToken } from '../../shared/adapters/aws/webhookToken.ts';
import { readConfig } from '../../shared/config.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { jsonResponse } from '../../shared/http.ts';
import { bearerAuth } from '../../shared/middleware/bearerAuth.ts';
import { httpErrors } from '../../shared/middleware/httpErrors.ts';
import { logger } from '../../shared/observability.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { type Clock, type StateStore, systemClock } from '../../shared/ports.ts';
import { AWS_CLIENT_OPTIONS } from '../../shared/adapters/aws/clientOptions.ts';

export interface StatusDeps {
  policy: Policy;
  store: StateStore;
  clock: Clock;
  /** Status's own read-only token; the webhook's does not open status, and this one opens nothing else. */
  token: () => Promise<string>;
}

/** GET: per-target state, bounds in force, window, cooldowns, pause, alerts and last decisions. */
export const buildHandler = (deps: StatusDeps) =>
  middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors())
    .use(bearerAuth({ token: deps.token }))
    .handler(async () => jsonResponse(200, { at: deps.clock.now().toISOString(), targets: await status(deps.policy, deps) }));

const config = readConfig();
if (!config.STATUS_TOKEN_PARAMETER) throw new Error('STATUS_TOKEN_PARAMETER is not set: status never runs without a bearer token');

export const handler = buildHandler({
  policy: loadPolicyFile(config.POLICY_PATH),
  store: new SsmStateStore(new SSMClient(AWS_CLIENT_OPTIONS), config.STATE_PREFIX),
  clock: systemClock,
  token: ssmToken(config.STATUS_TOKEN_PARAMETER),
});
