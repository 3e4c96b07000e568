import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { AWS_CLIENT_OPTIONS } from '../../shared/adapters/aws/clientOptions.ts';
import { fifoGroupOf } from '../../shared/app/gpuView.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { emergency, type EmergencyDeps, parseEmergencyRequest } from '../../shared/app/emergency.ts';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { readConfig } from '../../shared/config.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { BadRequestError } from '../../shared/errors.ts';
import { logger } from '../../shared/observability.ts';
import { loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { systemClock } from '../../shared/ports.ts';

/**
 * The runbooks' emergency procedures, invoked directly (IAM only), e.g.
 * `aws lambda invoke --function-name gpu-autoscaler-prod-emergency --payload '{"action":"double","target":"api","reason":"INC-42"}'`.
 * Goes through the queue like everything else and returns the worker's outcome.
 */
export const buildHandler = (policy: Policy, deps: EmergencyDeps) =>
  middy<unknown, unknown>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      try {
        const request = parseEmergencyRequest(event);
        logger.info('emergency requested', { targets: request.all ? 'all' : (request.targets ?? 'all'), action: request.command.action, reason: request.reason, actor: request.actor, idempotencyKey: request.idempotencyKey });
        const outcomes = await emergency(policy, request, deps);
        for (const o of outcomes) logger.info('emergency outcome', { target: o.target, intentId: o.intent, status: o.status, decision: o.decision });
        return { ok: outcomes.every((o) => o.status === 'applied'), outcomes };
      } catch (error) {
        if (error instanceof BadRequestError) return { ok: false, error: error.message, details: error.details, ...(error.moreIssues ? { moreIssues: error.moreIssues } : {}) };
        throw error;
      }
    });

const config = readConfig();

const policy = loadBundledPolicy(config.POLICY_PATH);

export const handler = buildHandler(policy, {
  queue: new SqsIntentQueue(new SQSClient(AWS_CLIENT_OPTIONS), config.QUEUE_URL, fifoGroupOf(policy)),
  store: new SsmStateStore(new SSMClient(AWS_CLIENT_OPTIONS), config.STATE_PREFIX),
  clock: systemClock,
  sleep: (ms) => sleep(ms),
  timeoutMs: config.EMERGENCY_TIMEOUT_MS,
  pollMs: 500,
});
