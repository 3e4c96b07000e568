import '../support/awsClients.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { localSession } from '../support/localHttp.ts';
import { webhookPayload } from '../support/payloads.ts';

// Red team 6, through `npm start`'s HTTP API (POST /webhook, /emergency, /tick; GET /status) on a
// ManualClock and the shipped policy.yaml.

const shipped = loadPolicyFile('policy.yaml');

describe('red team 6 (npm start HTTP API)', () => {
  const local = localSession(shipped);
  const { start, post, ticksFor, status } = local;
  afterEach(() => local.close());

  // Fixed (decide/record.ts `repeated`). Was: every reconcile (and every re-sent notice) of a
  // vetoed target recorded the same VetoedByAlert hold again and published its event again, so
  // after half an hour the target's history (8 entries) held nothing but that hold, and the
  // scale-up that happened before it was gone from /status.
  it('a hold seen again by reconciles is recorded and published once; the action before it stays in the history', async () => {
    const printed: string[] = [];
    await start('2026-11-24T20:00:00-05:00', shipped, new MemoryStateStore(), (line) => printed.push(line));
    await post('/tick');
    // Past the evening window's entry (20:00) and its cooldown.
    await ticksFor(15);
    await post('/webhook', webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq' }]));
    const scaled = await status('worker-llm');
    expect(scaled.lastDecisions[0]).toMatchObject({ code: 'ScaleUp' });
    await post('/webhook', webhookPayload([{ alertname: 'VRAMHeadroomLow', labels: { instance: 'gpu-1' }, fingerprint: 'vram1' }]));

    // An hour: twelve reconciles, and Alertmanager re-sending the queue alert every 10 minutes.
    for (let i = 0; i < 6; i++) {
      await ticksFor(10);
      await post('/webhook', webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq' }]));
    }

    const view = await status('worker-llm');
    expect(view.desired).toBe(scaled.desired);
    expect(view.vetoes).toEqual(['VRAMHeadroomLow']);
    expect(view.lastDecisions.map((d) => d.code)).toEqual(['VetoedByAlert', 'ScaleUp', ...scaled.lastDecisions.slice(1).map((d) => d.code)]);
    expect(printed.filter((line) => line.includes('worker-llm') && line.includes('[VetoedByAlert]'))).toHaveLength(1);
  });
});
