import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError } from '../errors.ts';

/**
 * Decodes a base64 body (Function URLs send one for some content types) and rejects a body
 * over `maxBytes` with 413 before anything parses it.
 */
export const bodyLimit = ({ maxBytes }: { maxBytes: number }): MiddlewareObj<APIGatewayProxyEventV2> => ({
  before: async (request) => {
    const { event } = request;
    if (event.body !== undefined && event.isBase64Encoded) {
      event.body = Buffer.from(event.body, 'base64').toString('utf8');
      event.isBase64Encoded = false;
    }
    const size = Buffer.byteLength(event.body ?? '');
    if (size > maxBytes) throw new BadRequestError(`body of ${size} bytes is larger than ${maxBytes}`, 413);
  },
});
