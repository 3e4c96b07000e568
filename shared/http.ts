import { createHash, timingSafeEqual } from 'node:crypto';
import { BadRequestError, QueueUnavailableError } from './errors.ts';

/** Alertmanager batches alerts per group; thousands of alerts stay well under this. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface JsonResult {
  statusCode: number;
  body: Record<string, unknown>;
}

/** An answer as JSON, or as text of its own type (the Prometheus exposition). */
export type HttpResult = JsonResult | { statusCode: number; text: string; contentType: string };

/**
 * Maps an error to the answer Alertmanager acts on: 4xx is never retried (the request is
 * wrong), 5xx is retried (we could not queue; nothing was acknowledged).
 */
export const errorResult = (error: unknown): JsonResult => {
  if (error instanceof BadRequestError) {
    return {
      statusCode: error.statusCode,
      body: { error: error.message, ...(error.details.length ? { details: error.details } : {}), ...(error.moreIssues ? { moreIssues: error.moreIssues } : {}) },
    };
  }
  if (error instanceof QueueUnavailableError) return { statusCode: 503, body: { error: error.message } };
  return { statusCode: 500, body: { error: 'internal error; see the logs' } };
};

/** A query string's parameters; one given more than once is a list, for the schema to refuse rather than keep the last. */
export const queryParameters = (search: URLSearchParams): Record<string, string | string[]> => {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(search.keys())) {
    const values = search.getAll(key);
    out[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return out;
};

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * A bearer token is tens of characters; a longer Authorization header is refused unread, so
 * that a flood of huge headers costs a length check each, not a parse.
 */
export const MAX_AUTHORIZATION_LENGTH = 4096;

const SCHEME = 'bearer';
// What String.prototype.trim removes: one character at a time, so no pattern can backtrack.
const isSpace = (char: string): boolean => char.trim() === '';
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/**
 * The credentials of `Authorization: Bearer <token>` (scheme in any case, any whitespace
 * after it), or undefined: one pass over at most MAX_AUTHORIZATION_LENGTH characters.
 */
export const bearerCredentials = (header: string | undefined): string | undefined => {
  if (header === undefined || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const text = header.trim();
  if (text.slice(0, SCHEME.length).toLowerCase() !== SCHEME) return undefined;
  let at = SCHEME.length;
  while (at < text.length && isSpace(text.charAt(at))) at += 1;
  const credentials = text.slice(at);
  return at > SCHEME.length && credentials !== '' && !LINE_BREAK.test(credentials) ? credentials : undefined;
};

/** Compares presented credentials with the token in constant time, whatever the lengths. */
export const tokenMatches = (credentials: string, token: string): boolean => timingSafeEqual(digest(credentials), digest(token));

/** Checks `Authorization: Bearer <token>`. */
export const bearerMatches = (header: string | undefined, token: string): boolean => {
  const credentials = bearerCredentials(header);
  return credentials !== undefined && tokenMatches(credentials, token);
};

/** A Lambda Function URL / HTTP API answer with a JSON body. */
export const jsonResponse = (statusCode: number, body: unknown) => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
