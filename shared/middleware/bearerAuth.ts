import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError } from '../errors.ts';
import { bearerMatches } from '../http.ts';
import { metrics } from '../observability.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

export interface BearerAuthOptions {
  /** The expected token; the caller caches it (a SecureString read at most once a minute). */
  token: () => Promise<string>;
}

/** Rejects a request without `Authorization: Bearer <token>` with 401, compared in constant time. */
export const bearerAuth = ({ token }: BearerAuthOptions): MiddlewareObj<APIGatewayProxyEventV2> => ({
  before: async (request) => {
    const header = request.event.headers?.authorization ?? request.event.headers?.Authorization;
    if (!bearerMatches(header, await token())) {
      metrics.addMetric('scaling_webhook_unauthorized_total', MetricUnit.Count, 1);
      throw new BadRequestError('missing or wrong bearer token', 401);
    }
  },
});
