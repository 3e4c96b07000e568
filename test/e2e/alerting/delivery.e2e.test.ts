import '../../support/awsClients.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryFifoQueue } from '../../../shared/adapters/local/memoryFifoQueue.ts';
import { loadPolicyFile } from '../../../shared/policyFile.ts';
import { ManualClock } from '../../support/clock.ts';
import type { SinkRequest } from './setup/alertingStack.ts';
import { waitUntil } from './setup/alertingStack.ts';
import { serveLambdaWebhook } from './setup/lambdaWebhookServer.ts';
import { CONNECTION_RESET } from './setup/scalerProxy.ts';
import type { Outage } from './setup/scalerProxy.ts';
import { OFF_PEAK, startScalingStack, WEBHOOK_TOKEN } from './setup/scalingStack.ts';
import type { LocalScaler, ScalingStack } from './setup/scalingStack.ts';

type WebhookModule = typeof import('../../../functions/alertmanager-webhook/handler.ts');

const policy = loadPolicyFile('policy.yaml');
// A real alert takes `for:` (2s), an evaluation, group_wait and a scrape: a few seconds; the slack absorbs a loaded CI box.
const DELIVERY_TIMEOUT_MS = 30_000;

let stack: ScalingStack;
let scaler: LocalScaler;
// Kept listening until the next test starts, so that the resolves of its alerts reach it.
let webhook: WebhookModule;
const timings: Record<string, number> = {};

/** No rule of the policy fires on these. */
const calm = (): void => {
  stack.exporter.set('rl_training_queue_length', { service: 'worker-rl' }, 10);
  stack.exporter.set('llm_queue_length', { service: 'worker-llm' }, 30);
  stack.exporter.set('app_request_queue_length', { service: 'app' }, 50);
  stack.exporter.set('hsof_gpu_utilization_percent', { service: 'hsof' }, 60);
};

interface Notification {
  status?: string;
  externalURL?: string;
  alerts?: { fingerprint?: string; labels?: Record<string, string> }[];
}

const notificationOf = (request: SinkRequest): Notification => (request.json ?? {}) as Notification;
/** A firing notification for `alertname`, whatever it was answered. */
const isFor = (alertname: string) => (request: SinkRequest): boolean => {
  const notification = notificationOf(request);
  return notification.status === 'firing' && notification.alerts?.[0]?.labels?.alertname === alertname;
};
const steps = (target: string) => scaler.scaled(target).map((d) => `${d.from}->${d.to} ${d.rule}`);
/** A structured log line or EMF record the function printed; anything else is not ours. */
const jsonLine = (line: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** Summed over the pair: failed HTTP attempts (`requests`) or notifications given up (`notifications`). */
const webhookFailures = async (kind: 'requests' | 'notifications'): Promise<number> => {
  const name = kind === 'requests' ? 'alertmanager_notification_requests_failed_total' : 'alertmanager_notifications_failed_total';
  let total = 0;
  for (const am of stack.alertmanagers) total += await am.metric(name, { integration: 'webhook' });
  return total;
};

describe('delivery on real alerts: an HA pair of Alertmanagers without gossip, a webhook that goes down, a wrong token', () => {
  beforeAll(async () => {
    // The handler module builds its default wiring from the environment when imported.
    Object.assign(process.env, {
      STATE_PREFIX: '/gpu-autoscaler/e2e',
      QUEUE_URL: 'http://127.0.0.1:9/queue/e2e.fifo',
      TOKEN_PARAMETER: '/gpu-autoscaler/e2e/webhook-token',
    });
    webhook = await import('../../../functions/alertmanager-webhook/handler.ts');
    const started = Date.now();
    stack = await startScalingStack({ policy, alertmanagers: 2, timings: { group_wait: '1s', group_interval: '1s', repeat_interval: '1h' } });
    timings.stackStartMs = Date.now() - started;
  });

  beforeEach(async () => {
    calm();
    stack.proxy.failWith({ kind: 'none' });
    scaler = await stack.freshScaler(policy);
  });

  afterAll(async () => {
    await stack.stop();
    console.info(`delivery e2e timings (ms): ${JSON.stringify(timings)}`);
  });

  it('acts once on the notification both Alertmanagers of the pair deliver', async () => {
    // Prepare
    const sentBefore = scaler.autoscaler.queue.sent;

    // Act: the RL training queue crosses 20
    stack.exporter.set('rl_training_queue_length', { service: 'worker-rl' }, 30);
    const copies = await Promise.all(
      stack.alertmanagers.map((am) =>
        stack.proxy.waitFor((r) => isFor('RLTrainingQueueHigh')(r) && notificationOf(r).externalURL === am.url, {
          timeoutMs: DELIVERY_TIMEOUT_MS,
          what: `RLTrainingQueueHigh from ${am.url}`,
        }),
      ),
    );
    await waitUntil(() => scaler.scaled('worker-rl')[0], { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'worker-rl to scale up' });

    // Assess: two accepted copies of one alert, one intent, one step
    expect(copies.map((c) => c.answeredWith)).toEqual([200, 200]);
    expect(new Set(copies.map((c) => notificationOf(c).alerts?.[0]?.fingerprint)).size).toBe(1);
    expect(scaler.autoscaler.queue.sent - sentBefore).toBe(1);
    expect(steps('worker-rl')).toEqual(['1->2 rl-training-queue']);
  });

  it.each<{ outage: Outage; answer: number }>([
    { outage: { kind: 'status', status: 503 }, answer: 503 },
    { outage: { kind: 'reset' }, answer: CONNECTION_RESET },
  ])('retries through an outage ($outage.kind) and loses nothing once the webhook is back', async ({ outage, answer }) => {
    // Prepare: the webhook goes down
    stack.proxy.failWith(outage);
    const failuresBefore = await webhookFailures('requests');
    const downAt = Date.now();

    // Act: two alerts for two targets fire while it is down
    stack.exporter.set('llm_queue_length', { service: 'worker-llm' }, 60);
    stack.exporter.set('app_request_queue_length', { service: 'app' }, 150);
    await waitUntil(
      () => {
        const failed = (alertname: string) => stack.proxy.requests.filter((r) => r.answeredWith === answer && isFor(alertname)(r)).length;
        return failed('LLMQueueBuildup') >= 2 && failed('AppRequestQueueHigh') >= 2 ? true : undefined;
      },
      { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'two failed attempts per alert' },
    );
    const stepsWhileDown = [...steps('worker-llm'), ...steps('app')];
    stack.proxy.failWith({ kind: 'none' });
    const backAt = Date.now();
    await waitUntil(() => (scaler.scaled('worker-llm').length > 0 && scaler.scaled('app').length > 0 ? true : undefined), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'both targets to scale once the webhook is back',
    });
    timings[`${outage.kind}OutageMs`] = backAt - downAt;
    timings[`${outage.kind}BackToStepsMs`] = Date.now() - backAt;

    // Assess: Alertmanager retried, and each alert acted exactly once after the outage
    expect(stepsWhileDown).toEqual([]);
    expect(steps('worker-llm')).toEqual(['2->3 llm-queue-buildup']);
    expect(steps('app')).toEqual(['2->3 app-request-queue']);
    expect((await webhookFailures('requests')) - failuresBefore).toBeGreaterThanOrEqual(4);
  });

  it('answers a wrong bearer token 401, queues nothing, and shows the rejection in logs and metrics on both sides', async () => {
    // Prepare: the webhook function expects a token other than the one in Alertmanager's credentials file
    const output = [vi.spyOn(process.stdout, 'write'), vi.spyOn(process.stderr, 'write')];
    const queue = new MemoryFifoQueue(new ManualClock(OFF_PEAK));
    const handler = webhook.buildHandler({ policy, queue, clock: new ManualClock(OFF_PEAK), token: async () => 'a-rotated-token' });
    const lambda = await serveLambdaWebhook('alertmanager-webhook', handler);
    stack.proxy.forwardTo(lambda.url);
    const failuresBefore = await webhookFailures('notifications');

    // Act: HSOF GPUs above 85%
    stack.exporter.set('hsof_gpu_utilization_percent', { service: 'hsof' }, 95);
    const rejected = await stack.proxy.waitFor((r) => r.answeredWith === 401 && isFor('HSOFGPUBusy')(r), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'HSOFGPUBusy to be rejected',
    });
    await waitUntil(async () => ((await webhookFailures('notifications')) > failuresBefore ? true : undefined), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'Alertmanager to count the failed notification',
    });
    const printed = output
      .flatMap((spy) => spy.mock.calls.map(([chunk]) => String(chunk)))
      .flatMap((text) => text.split('\n'))
      .flatMap((line) => jsonLine(line) ?? []);
    for (const spy of output) spy.mockRestore();
    await lambda.close();

    // Assess: the function's warning and EMF metric, Alertmanager's log line, nothing queued
    expect(rejected.headers.authorization).toBe(`Bearer ${WEBHOOK_TOKEN}`);
    expect(queue.sent).toBe(0);
    expect(printed).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'request rejected', statusCode: 401, reason: 'missing or wrong bearer token' }));
    expect(printed).toContainEqual(expect.objectContaining({ scaling_webhook_unauthorized_total: 1 }));
    expect(stack.alertmanagers.some((am) => /unexpected status code 401/.test(am.logs()))).toBe(true);
  });
});
