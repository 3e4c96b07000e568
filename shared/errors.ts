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

/** A request the caller must fix; never retried (HTTP 4xx). */
export class BadRequestError extends Error {
  public constructor(
    message: string,
    public readonly statusCode: 400 | 401 | 404 | 413 | 415 = 400,
    public readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'BadRequestError';
  }
}

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
