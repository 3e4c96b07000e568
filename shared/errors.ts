/**
 * A scaling call that may succeed later (an update already in progress, throttling, a
 * 5xx): the worker returns the message to the queue instead of deleting it.
 */
export class RetryableScalingError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableScalingError';
  }
}

/**
 * A scaling call that will not succeed by retrying alone (access denied, a missing node
 * group or Deployment): the message fails, and after the configured receives lands in the DLQ.
 */
export class PermanentScalingError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentScalingError';
  }
}

/**
 * The tick's document exists and is not a tick record (corrupt, or written by another version):
 * the tick replaces it, its counters starting again, rather than failing every minute.
 */
export class UnreadableTickRecordError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UnreadableTickRecordError';
  }
}

/**
 * A 4xx lists at most this many problems: enough to fix the request, and an answer that stays
 * small however broken the request (150,000 empty alerts once made a 46 MB answer).
 */
export const MAX_DETAILS = 20;
/**
 * Texts are cut at these lengths: a path, an unrecognised-keys list or an unknown target's name
 * may quote the request at any length.
 */
export const MAX_DETAIL_LENGTH = 300;
export const MAX_MESSAGE_LENGTH = 1000;

const clip = (text: string, length: number): string => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

/** A request the caller must fix; never retried (HTTP 4xx). */
export class BadRequestError extends Error {
  /** The first MAX_DETAILS problems, each with its field path. */
  public readonly details: readonly string[];
  /** How many more problems there were: counted, not listed. */
  public readonly moreIssues: number;

  public constructor(
    message: string,
    public readonly statusCode: 400 | 401 | 404 | 409 | 413 | 415 = 400,
    details: readonly string[] = [],
    moreIssues = 0,
  ) {
    super(clip(message, MAX_MESSAGE_LENGTH));
    this.name = 'BadRequestError';
    this.details = details.slice(0, MAX_DETAILS).map((detail) => clip(detail, MAX_DETAIL_LENGTH));
    this.moreIssues = moreIssues + details.length - this.details.length;
  }
}

/** A schema's complaint about one field, as zod reports it. */
export interface InputIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

const describeIssue = (issue: InputIssue): string => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;

/**
 * A 400 for input that failed its schema: `<summary>: <first issue>`, the first issues as
 * details and how many more there were (`issueCount` when the caller kept only some of them).
 */
export const invalidInput = (summary: string, issues: readonly InputIssue[], issueCount = issues.length): BadRequestError => {
  const details = issues.slice(0, MAX_DETAILS).map((issue) => clip(describeIssue(issue), MAX_DETAIL_LENGTH));
  return new BadRequestError(`${summary}: ${details[0] ?? 'invalid'}`, 400, details, issueCount - details.length);
};

/** Queueing failed: the webhook answers 5xx so that Alertmanager retries. */
export class QueueUnavailableError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QueueUnavailableError';
  }
}

/** Network failures that pass: the API server restarting, a dropped connection, DNS. */
const TRANSIENT_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** A connection that failed or dropped, by its system error code. */
export const isTransientNetworkError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_NETWORK.has(code);
};
