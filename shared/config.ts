import { z } from 'zod';

/**
 * The functions' settings, from their environment (serverless.yml sets them). Parsed
 * once at cold start; a missing setting stops the function with its name.
 */
export const configSchema = z.object({
  /** The policy file bundled with the function. */
  POLICY_PATH: z.string().default('policy.yaml'),
  /** `/<prefix>/<stage>`: target states live under `<STATE_PREFIX>/targets/`. */
  STATE_PREFIX: z.string().regex(/^\/[A-Za-z0-9_.\-/]+[^/]$/, 'expected a parameter path such as /gpu-autoscaler/prod'),
  QUEUE_URL: z.url(),
  /** The intent queue's dead-letter queue, whose depth status reports. */
  DEAD_LETTER_QUEUE_URL: z.url().optional(),
  /** The EventBridge bus for the audit trail. */
  EVENT_BUS_NAME: z.string().min(1).default('default'),
  /** SSM SecureString holding the webhook's bearer token. */
  TOKEN_PARAMETER: z.string().min(1).optional(),
  /** SSM SecureString holding the status function's read-only bearer token, never the webhook's. */
  STATUS_TOKEN_PARAMETER: z.string().min(1).optional(),
  /** How long the emergency function waits for the worker's outcome. */
  EMERGENCY_TIMEOUT_MS: z.coerce.number().int().positive().default(25_000),
});

export type Config = z.infer<typeof configSchema>;

export const readConfig = (env: NodeJS.ProcessEnv = process.env): Config => {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new Error(`invalid function configuration: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
};
