import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError } from '../errors.ts';
import { bearerCredentials, tokenMatches } from '../http.ts';

export interface BearerAuthOptions {
  /** The expected token; the caller caches it (a SecureString read at most once a minute). */
  token: () => Promise<string>;
  /** Called for each refused request: the webhook counts them (`scaling_webhook_unauthorized_total`). */
  onRefused?: () => void;
}

/**
 * Rejects a request without `Authorization: Bearer <token>` with 401, compared in constant
 * time. A header that is no bearer credential is refused before the token is read, so an
 * unauthenticated flood costs no SSM or KMS call.
 */
export const bearerAuth = ({ token, onRefused }: BearerAuthOptions): MiddlewareObj<APIGatewayProxyEventV2> => ({
  before: async (request) => {
    const credentials = bearerCredentials(request.event.headers?.authorization ?? request.event.headers?.Authorization);
    if (credentials === undefined || !tokenMatches(credentials, await token())) {
      onRefused?.();
      throw new BadRequestError('missing or wrong bearer token', 401);
    }
  },
});
