import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorResult } from '../http.ts';
import { logger } from '../observability.ts';

/**
 * Turns errors into the HTTP answers Alertmanager acts on: 4xx for requests it must not
 * retry, 5xx when nothing was acknowledged and it should retry. Logs both.
 */
export const httpErrors = (): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> => ({
  onError: async (request) => {
    const result = errorResult(request.error);
    if (result.statusCode >= 500) logger.error('request failed; the sender should retry', { error: request.error as Error, statusCode: result.statusCode });
    else logger.warn('request rejected', { statusCode: result.statusCode, reason: result.body.error, details: result.body.details });
    request.response = {
      statusCode: result.statusCode,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(result.body),
    };
  },
});
