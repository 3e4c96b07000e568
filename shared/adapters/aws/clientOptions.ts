/**
 * Every AWS client the functions make: a call that hangs must fail well inside the function's
 * timeout (a batch of slow calls once outlived the worker's 60 s and came back whole), and the
 * SDK's own retries stay few, because the queue retries whole intents.
 */
export const AWS_CLIENT_OPTIONS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
} as const;
