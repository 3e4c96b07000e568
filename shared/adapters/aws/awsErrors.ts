import { isTransientNetworkError, PermanentScalingError, RetryableScalingError } from '../../errors.ts';

/** AWS errors that pass: an update in progress, throttling, a server fault. */
const RETRYABLE = new Set(['ResourceInUseException', 'ThrottlingException', 'TooManyRequestsException', 'ServerException', 'ServiceUnavailableException']);

/** Classifies an AWS SDK failure of `what` as worth a retry or not. */
export const classifyAwsError = (error: unknown, what: string): Error => {
  const name = (error as { name?: string }).name ?? 'Error';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  const message = `${what}: ${name}: ${(error as Error).message}`;
  if (RETRYABLE.has(name) || status >= 500 || status === 429 || isTransientNetworkError(error)) return new RetryableScalingError(message, { cause: error });
  return new PermanentScalingError(message, { cause: error });
};
