import * as z from './domain/zod.ts';

/**
 * The functions' settings, from their environment (serverless.yml sets them). Parsed
 * once at cold start; a missing setting stops the function with its name.
 */
export const configSchema = z.object({
  /** The policy the build validated and bundled with the function (shared/bundledPolicy.ts). */
  POLICY_PATH: z._default(z.string(), 'dist/policy.json'),
  /** `/<prefix>/<stage>`: target states live under `<STATE_PREFIX>/targets/`. */
  STATE_PREFIX: z.string().check(z.regex(/^\/[A-Za-z0-9_.\-/]+[^/]$/, 'expected a parameter path such as /gpu-autoscaler/prod')),
  QUEUE_URL: z.url(),
  /** The intent queue's dead-letter queue, whose depth status reports. */
  DEAD_LETTER_QUEUE_URL: z.optional(z.url()),
  /** The EventBridge bus for the audit trail. */
  EVENT_BUS_NAME: z._default(z.string().check(z.minLength(1)), 'default'),
  /** SSM SecureString holding the webhook's bearer token. */
  TOKEN_PARAMETER: z.optional(z.string().check(z.minLength(1))),
  /** SSM SecureString holding the status function's read-only bearer token, never the webhook's. */
  STATUS_TOKEN_PARAMETER: z.optional(z.string().check(z.minLength(1))),
  /** How long the emergency function waits for the worker's outcome. */
  EMERGENCY_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive()), 25_000),
});

export type Config = z.infer<typeof configSchema>;

export const readConfig = (env: NodeJS.ProcessEnv = process.env): Config => {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new Error(`invalid function configuration: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
};
