import '../support/awsClients.ts';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { gatedStore, localSession, type TargetView } from '../support/localHttp.ts';
import { webhookPayload } from '../support/payloads.ts';

// Red team 3: today's changes (emergency idempotency keys refused with 409, 10 veto slots of 12),
// through `npm start`'s HTTP API only (POST /webhook, /emergency, /tick; GET /status).

const shipped = loadPolicyFile('policy.yaml');

describe('red team 3 (npm start HTTP API)', () => {
  const local = localSession(shipped);
  const { start, raw, post, ticksFor, status } = local;
  type A = { alertname: string; labels?: Record<string, string>; fingerprint: string; status?: 'firing' | 'resolved'; startsAt?: string };
  const alerts = (list: A[]) => webhookPayload(list);
  const gpuVetoes = (n: number, status: 'firing' | 'resolved' = 'firing', from = 0): A[] =>
    Array.from({ length: n }, (_, i) => ({ alertname: 'VRAMHeadroomLow', labels: { gpu: String(from + i) }, fingerprint: `vram-${from + i}`, status }));
  const llm = (alertname: string, fingerprint: string, status: 'firing' | 'resolved' = 'firing'): A => ({ alertname, labels: { service: 'worker-llm' }, fingerprint, status });
  const body = (extra: Record<string, unknown>) => ({ reason: 'INC-1', actor: 'oncall', ...extra });
  const emergencyCodes = (view: TargetView) => view.lastDecisions.filter((d) => d.code.startsWith('Emergency'));

  afterEach(() => local.close());

  // ------------------------------------------------------------------ 1. idempotency keys

  // Fixed (the worker refuses too: IdempotencyKeyReused). Was (emergency.ts refuseReusedKey, check-then-act): the 409 is decided from the state the
  // request reads before it queues, and the worker (decide/index.ts) never compares an intent's
  // key prefix with the ones it remembers. Two requests with the same key and different
  // commands that overlap (an operator's retry with a corrected command while the first is still
  // queued or being worked, or two on-call engineers' scripts using the incident id as the key)
  // both pass the check, both get 200, and both ACT: app goes 2 -> 5 -> 8.
  // Observed: statuses [200, 200], two Emergency decisions on app. Expected: one 200 and one 409,
  // one action. Shown through POST /emergency on `npm start` (the store holds both reads at the
  // same instant, as two Lambda emergency functions reading SSM together would).
  it('same key, two different commands at once: one is refused with 409 and only one acts', async () => {
    const { store, arm } = gatedStore();
    await start('2026-11-24T03:00:00-05:00', shipped, store);
    await post('/tick');
    arm(2);
    const replies = await Promise.all([
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-77' })),
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 8, idempotencyKey: 'INC-77' })),
    ]);
    const app = await status('app');
    expect({ statuses: replies.map((r) => r.status).sort(), emergencyActions: emergencyCodes(app).length }).toEqual({ statuses: [200, 409], emergencyActions: 1 });
  });

  // Fixed (keyed ids are tagged ek-). Was (intentIds.ts + emergency.ts refuseReusedKey): yesterday's keyed id
  // was `e-` + 40 hex of sha256(target, key); today's prefix is the first 32 of those same hex
  // digits, so every keyed intent a state document remembers from before the upgrade "starts
  // with the prefix" and differs from today's id. An operator retrying, right after the deploy
  // (or after restarting `npm start --state-dir` on the new version), the very command whose
  // reply was lost gets 409 "already used for another command" instead of the first one's answer.
  // Observed: 409. Expected: 200 with the remembered decision (the command cannot be told apart,
  // so a legacy id should count as the same command, as it did yesterday), no second action.
  // Shown through POST /emergency on `npm start`, over a state document as yesterday's version wrote it.
  it('a keyed command remembered by the previous version is answered, not refused as another command', async () => {
    const store = new MemoryStateStore();
    await start('2026-11-24T03:00:00-05:00', shipped, store);
    await post('/tick');
    const first = await post('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-5' }));
    // The document as yesterday's version wrote it: the same decision under the legacy keyed id.
    const legacy = `e-${createHash('sha256').update(['app', 'INC-5'].join('\n')).digest('hex').slice(0, 40)}`;
    const doc = (await store.getMany(['app'])).get('app');
    await store.put(JSON.parse(JSON.stringify(doc).replaceAll(first.outcomes?.[0]?.intent ?? 'no intent', legacy)));
    const retry = await raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-5' }));
    expect({ status: retry.status, desired: (await status('app')).desired }).toEqual({ status: 200, desired: 5 });
  });

  it('holds: the same command with its JSON keys reordered, and ttl 30m vs 1800s, is the same command (200, one action)', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    const a = await post('/emergency', { idempotencyKey: 'K-1', replicas: 6, action: 'set', target: 'hsof', ttl: '30m', actor: 'x', reason: 'r' });
    const b = await post('/emergency', body({ target: 'hsof', action: 'set', ttl: '1800s', replicas: 6, idempotencyKey: 'K-1' }));
    expect(b.outcomes?.[0]?.intent).toBe(a.outcomes?.[0]?.intent);
    expect(b.outcomes?.[0]?.decision).toEqual(a.outcomes?.[0]?.decision);
    expect(emergencyCodes(await status('hsof'))).toHaveLength(1);
  });

  it('holds: a multi-target request where only one target remembers the key with another command is refused whole (409), nothing acts', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'K-2' }));
    const r = await raw('/emergency', body({ action: 'set', targets: ['api', 'app'], replicas: 8, idempotencyKey: 'K-2' }));
    expect(r.status, r.text).toBe(409);
    expect((await status('app')).desired).toBe(5);
    expect(emergencyCodes(await status('api'))).toHaveLength(0);
    // evaluateNow with a key and no target reaches every target; the same key with pause: 409
    await post('/emergency', body({ action: 'evaluateNow', idempotencyKey: 'K-3' }));
    expect((await raw('/emergency', body({ action: 'pause', all: true, ttl: '1h', idempotencyKey: 'K-3' }))).status).toBe(409);
    expect((await raw('/emergency', body({ action: 'evaluateNow', all: true, idempotencyKey: 'K-3' }))).status).toBe(200);
  });

  it('holds: a keyed double retried (before and after it is applied) doubles once', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    const [a, b] = await Promise.all([
      post('/emergency', body({ action: 'double', target: 'api', idempotencyKey: 'K-4' })),
      post('/emergency', body({ action: 'double', target: 'api', idempotencyKey: 'K-4' })),
    ]);
    const c = await post('/emergency', body({ action: 'double', target: 'api', idempotencyKey: 'K-4' }));
    expect((await status('api')).desired).toBe(6);
    expect([b.outcomes?.[0]?.decision?.to, c.outcomes?.[0]?.decision?.to]).toEqual([a.outcomes?.[0]?.decision?.to, a.outcomes?.[0]?.decision?.to]);
  });

  // ------------------------------------------------------------------ 2. veto slots

  // Fixed (the other alerts are kept by urgency, then recency). Was (decide/observe.ts keepAlerts): with 10 vetoes in their slots, the other alerts get the
  // 2 slots left by recency (seenAt) alone, whatever their priority, and dropping one sets no
  // flag. A P1 LLMQueueBuildup seen before two P3 scale-down alerts (LLMGPUIdle, LLMLowLatency)
  // is pushed out silently; the scale-down it would have blocked ("a lower priority never undoes
  // a higher one still firing") then runs (VRAMHeadroomLow blocks only ups).
  // Observed: /status worker-llm alerts lack LLMQueueBuildup and desired goes 5 -> 4 while the P1
  // fires. Expected: the P1 kept (drop the lowest priority first, or the oldest P3), desired 5.
  // With 9 vetoes (12 slots enough) the same sequence keeps the P1 and holds at 5 (control below).
  const p1Sequence = async (vetoes: number) => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/emergency', body({ action: 'set', target: 'worker-llm', replicas: 5 }));
    local.clock.advance(20 * 60); // past scaleDownDelay (15m) and the rules' cooldown (10m)
    await post('/webhook', alerts(gpuVetoes(vetoes)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    local.clock.advance(60);
    await post('/webhook', alerts([llm('LLMGPUIdle', 'llm-idle'), llm('LLMLowLatency', 'llm-lowlat')]));
    await ticksFor(1);
    const view = await status('worker-llm');
    return { p1Kept: view.alerts.some((a) => a.alertname === 'LLMQueueBuildup'), desired: view.desired };
  };

  it('10 VRAM vetoes + a P1 + two later P3 scale-downs: the P1 is kept and the scale-down does not undo it', async () => {
    expect(await p1Sequence(10)).toEqual({ p1Kept: true, desired: 5 });
  });

  it('control (holds): 9 VRAM vetoes + the same P1 and P3s: the P1 is kept, no scale-down', async () => {
    expect(await p1Sequence(9)).toEqual({ p1Kept: true, desired: 5 });
  });

  // Fixed (dropped vetoes are remembered: droppedVetoes). Was (decide/observe.ts readIntoState, `stillTruncated`): alertsTruncated is cleared as soon
  // as fewer than 10 vetoes are KEPT, not when the veto that was dropped is known to have
  // resolved. A veto of another alertname (so another Alertmanager group, group_by alertname +
  // target: not re-sent with the VRAM group's notifications, only at repeat_interval) seen first
  // is the one dropped when 10 per-GPU VRAMHeadroomLow vetoes arrive; once one VRAM veto
  // resolves the flag clears, and once the rest resolve worker-llm SCALES UP on its P1 while
  // GPUTempHigh is still firing.
  // Observed: /status worker-llm vetoes [] and desired 2 -> 3. Expected: held (AlertsTruncatedVeto)
  // until the dropped veto is seen resolved or its alertTtl passes; desired 2.
  // Policy: the shipped one plus a second up-blocking veto on worker-llm (any policy with two veto
  // alertnames on a target will do).
  it('a veto dropped for 10 newer VRAM vetoes still blocks ups after the VRAM vetoes resolve', async () => {
    const policy: Policy = {
      ...shipped,
      vetoes: [...shipped.vetoes, { id: 'gpu-temp-high', alert: 'GPUTempHigh', matchers: [], blocks: 'up', targets: ['worker-llm'] }],
    };
    await start('2026-11-24T03:00:00-05:00', policy);
    await post('/tick');
    await post('/webhook', alerts([{ alertname: 'GPUTempHigh', fingerprint: 'temp' }]));
    local.clock.advance(60);
    await post('/webhook', alerts(gpuVetoes(10)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    expect((await status('worker-llm')).desired).toBe(2);
    // /status names the veto it had no room for, not only AlertsTruncated.
    expect((await status('worker-llm')).droppedVetoes).toEqual({ fingerprints: [{ fingerprint: 'temp', since: expect.any(String) }] });
    local.clock.advance(5 * 60);
    // The VRAM group's next notification: nine still firing, one resolved.
    await post('/webhook', alerts([...gpuVetoes(9), ...gpuVetoes(1, 'resolved', 9)]));
    local.clock.advance(5 * 60);
    await post('/webhook', alerts(gpuVetoes(9, 'resolved')));
    await ticksFor(2);
    const view = await status('worker-llm');
    // GPUTempHigh never resolved and was sent 12 minutes ago (alertTtl 4h): it must still hold ups.
    expect({ desired: view.desired, blocked: view.vetoes.length > 0 }).toEqual({ desired: 2, blocked: true });
  });

  it('holds: 11 per-GPU vetoes in one group, resolving one notification at a time: no up until fewer than 1 fires', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts(gpuVetoes(11)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    for (let firing = 10; firing >= 1; firing -= 1) {
      local.clock.advance(5 * 60);
      await post('/webhook', alerts([...gpuVetoes(firing), ...gpuVetoes(1, 'resolved', firing)]));
      await ticksFor(1);
      expect((await status('worker-llm')).desired, `${firing} firing`).toBe(2);
    }
    local.clock.advance(5 * 60);
    await post('/webhook', alerts(gpuVetoes(1, 'resolved')));
    await ticksFor(2);
    expect((await status('worker-llm')).desired).toBe(3);
  });
});
