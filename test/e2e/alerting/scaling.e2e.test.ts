import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../../shared/policyFile.ts';
import type { SinkRequest } from './setup/alertingStack.ts';
import { waitUntil } from './setup/alertingStack.ts';
import { startScalingStack, WEBHOOK_TOKEN } from './setup/scalingStack.ts';
import type { LocalScaler, ScalingStack } from './setup/scalingStack.ts';

const policy = loadPolicyFile('policy.yaml');
const LLM = { service: 'worker-llm' } as const;
const GPU = { gpu: '0', node: 'gpu-node-1' } as const;
// A real alert takes `for:` (2s), an evaluation, group_wait and a scrape: a few seconds; the slack absorbs a loaded CI box.
const DELIVERY_TIMEOUT_MS = 30_000;

let stack: ScalingStack;
let scaler: LocalScaler;
// Kept listening until the next test starts, so that the resolves of its alerts reach it.
const timings: Record<string, number> = {};

/** Between the idle (< 10) and build-up (> 50) thresholds, with 83% VRAM headroom: no rule fires. */
const calm = (): void => {
  stack.exporter.set('llm_queue_length', LLM, 30);
  stack.exporter.set('nvidia_gpu_memory_free_bytes', GPU, 20e9);
  stack.exporter.set('nvidia_gpu_memory_total_bytes', GPU, 24e9);
};

/** What the scaler would do now, as an operator's `evaluateNow` shows it. */
const evaluateNow = async (target: string) => {
  const request = JSON.stringify({ action: 'evaluateNow', target, reason: 'e2e: show what holds the target', actor: 'oncall' });
  await scaler.autoscaler.handle('POST', '/emergency', { authorization: `Bearer ${WEBHOOK_TOKEN}` }, request);
  return scaler.decisions(target).at(-1);
};
const steps = (target: string) => scaler.scaled(target).map((d) => `${d.from}->${d.to} ${d.rule}`);

/** A firing notification for `alertname` that the scaler accepted. */
const acceptedFiring = (alertname: string) => (request: SinkRequest): boolean => {
  const payload = request.json as { status?: string; alerts?: { labels?: Record<string, string> }[] } | undefined;
  return request.answeredWith === 200 && payload?.status === 'firing' && payload.alerts?.[0]?.labels?.alertname === alertname;
};

describe('scaling on real alerts: rules and route rendered from policy.yaml, one Prometheus and one Alertmanager', () => {
  beforeAll(async () => {
    const started = Date.now();
    stack = await startScalingStack({
      policy,
      alertmanagers: 1,
      // A 2s repeat shows that Alertmanager re-sending a firing alert does not scale again.
      timings: { group_wait: '1s', group_interval: '1s', repeat_interval: '2s' },
    });
    timings.stackStartMs = Date.now() - started;
  });

  beforeEach(async () => {
    calm();
    scaler = await stack.freshScaler(policy);
  });

  afterAll(async () => {
    await stack.stop();
    console.info(`scaling e2e timings (ms): ${JSON.stringify(timings)}`);
  });

  it('scales worker-llm once when LLMQueueBuildup fires, again only after its 10m cooldown, and down after the 15m delay once the queue drains', async () => {
    // Act: the queue crosses 50
    const raisedAt = Date.now();
    stack.exporter.set('llm_queue_length', LLM, 60);
    await waitUntil(() => scaler.scaled('worker-llm')[0], { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'worker-llm to scale up on LLMQueueBuildup' });
    timings.gaugeToFirstStepMs = Date.now() - raisedAt;

    // Assess: that target and no other
    expect(steps('worker-llm')).toEqual(['2->3 llm-queue-buildup']);
    expect(scaler.autoscaler.decisions.filter((d) => d.verdict === 'scale').map((d) => d.target)).toEqual(['worker-llm']);

    // Act: the alert stays active and Alertmanager repeats it, five minutes into the cooldown
    scaler.clock.advance(5 * 60);
    const firstNotice = stack.proxy.requests.findIndex(acceptedFiring('LLMQueueBuildup'));
    await stack.proxy.waitFor((r) => r.index > firstNotice && acceptedFiring('LLMQueueBuildup')(r), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'Alertmanager to repeat LLMQueueBuildup',
    });
    await scaler.autoscaler.tick();

    // Assess
    expect(steps('worker-llm')).toEqual(['2->3 llm-queue-buildup']);

    // Act: the cooldown is over and the minute tick re-evaluates the alert the scaler holds
    scaler.clock.advance(5 * 60 + 1);
    await scaler.autoscaler.tick();

    // Assess
    expect(steps('worker-llm')).toEqual(['2->3 llm-queue-buildup', '3->4 llm-queue-buildup']);

    // Act: the queue drains below 10: LLMQueueBuildup resolves and LLMQueueIdle fires
    stack.exporter.set('llm_queue_length', LLM, 5);
    await waitUntil(async () => ((await scaler.activeAlerts('worker-llm')).join() === 'LLMQueueIdle' ? true : undefined), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'the scaler to hold LLMQueueIdle instead of LLMQueueBuildup',
    });
    scaler.clock.advance(11 * 60);
    await scaler.autoscaler.tick();
    const held = await evaluateNow('worker-llm');

    // Assess: nothing more up once resolved, and the way down waits for the scale-down delay
    expect(steps('worker-llm')).toHaveLength(2);
    expect(held?.reasons).toContainEqual({ code: 'ScaleDownDelayed', message: 'scale-down waits 15m after a scale-up: 4m left' });

    // Act: 15 minutes after the last step up
    scaler.clock.advance(5 * 60);
    await scaler.autoscaler.tick();

    // Assess
    expect(steps('worker-llm')).toEqual(['2->3 llm-queue-buildup', '3->4 llm-queue-buildup', '4->3 llm-queue-idle']);
  });

  it('holds the LLM worker\'s scale-up while VRAMHeadroomLow fires, and takes the step once it resolves', async () => {
    // Act: VRAM headroom falls to 8%, then the queue builds up
    stack.exporter.set('nvidia_gpu_memory_free_bytes', GPU, 2e9);
    await waitUntil(async () => ((await scaler.activeAlerts('worker-llm')).includes('VRAMHeadroomLow') ? true : undefined), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'the scaler to hold VRAMHeadroomLow for worker-llm',
    });
    stack.exporter.set('llm_queue_length', LLM, 60);
    const vetoed = await waitUntil(() => scaler.decisions('worker-llm').find((d) => d.reasons[0]?.code === 'VetoedByAlert'), {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      what: 'the scale-up of worker-llm to be vetoed',
    });
    scaler.clock.advance(11 * 60);
    await scaler.autoscaler.tick();

    // Assess: still at 2 past the rule's cooldown, and the reason names the veto
    expect(vetoed.reasons[0]?.message).toBe('scale-up by llm-queue-buildup blocked: VRAMHeadroomLow is firing (veto vram-headroom-low)');
    expect(steps('worker-llm')).toEqual([]);
    expect(scaler.autoscaler.cluster.snapshot()['worker-llm']?.desired).toBe(2);

    // Act: headroom back to 83%
    stack.exporter.set('nvidia_gpu_memory_free_bytes', GPU, 20e9);
    await waitUntil(() => scaler.scaled('worker-llm')[0], { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'worker-llm to scale once the veto resolves' });

    // Assess
    expect(steps('worker-llm')).toEqual(['2->3 llm-queue-buildup']);
    expect(await scaler.activeAlerts('worker-llm')).toEqual(['LLMQueueBuildup']);
  });
});
