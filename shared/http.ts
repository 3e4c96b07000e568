import { createHash, timingSafeEqual } from 'node:crypto';
import { BadRequestError, QueueUnavailableError } from './errors.ts';

/** Alertmanager batches alerts per group; thousands of alerts stay well under this. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HttpResult {
  statusCode: number;
  body: Record<string, unknown>;
}

/**
 * Maps an error to the answer Alertmanager acts on: 4xx is never retried (the request is
 * wrong), 5xx is retried (we could not queue; nothing was acknowledged).
 */
export const errorResult = (error: unknown): HttpResult => {
  if (error instanceof BadRequestError) {
    return { statusCode: error.statusCode, body: { error: error.message, ...(error.details.length ? { details: error.details } : {}) } };
  }
  if (error instanceof QueueUnavailableError) return { statusCode: 503, body: { error: error.message } };
  return { statusCode: 500, body: { error: 'internal error; see the logs' } };
};

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Checks `Authorization: Bearer <token>` in constant time, whatever the lengths. */
export const bearerMatches = (header: string | undefined, token: string): boolean => {
  const match = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '');
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), digest(token));
};

/** A Lambda Function URL / HTTP API answer with a JSON body. */
export const jsonResponse = (statusCode: number, body: unknown) => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
