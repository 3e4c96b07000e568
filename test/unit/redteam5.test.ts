import '../support/awsClients.ts';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { loadPolicyFile, parsePolicy } from '../../shared/policyFile.ts';
import { gatedStore, localSession } from '../support/localHttp.ts';
import { type AlertSpec, llmAlert as llm, vramVetoes as vram, webhookPayload } from '../support/payloads.ts';

// Red team 5: the red team 4 fixes (urgency-ordered compaction, droppedVetoes with startsAt and
// vetoesForgottenUntil, downs held while truncated, the key check before the duplicate check, the
// `refused` status of a multi-target command), through `npm start`'s HTTP API only (POST /webhook,
// /emergency, /tick; GET /status) on a ManualClock and the shipped policy.yaml (or a one-line
// variant of it).

const shipped = loadPolicyFile('policy.yaml');

/** The shipped policy, worker-llm given an HSOF-style `activeWork` alert (pods with batches in flight). */
const activeWorkPolicy: Policy = (() => {
  const text = readFileSync('policy.yaml', 'utf8');
  const anchor = '    max: 8\n    warmup: 180s\n';
  if (!text.includes(anchor)) throw new Error('policy.yaml changed: worker-llm anchor not found');
  return parsePolicy(text.replace(anchor, `${anchor}    activeWork: { alert: LLMActiveBatches, matchers: [service=worker-llm] }\n`), 'policy.yaml+activeWork');
})();

/** The shipped policy with a veto that blocks worker-llm's scale-downs (as red team 4's). */
const downVetoPolicy: Policy = {
  ...shipped,
  vetoes: [...shipped.vetoes, { id: 'llm-batch-running', alert: 'LLMBatchRunning', matchers: [], blocks: 'down', targets: ['worker-llm'] }],
};

describe('red team 5 (npm start HTTP API)', () => {
  const local = localSession(shipped);
  const { start, raw, post, ticksFor, status } = local;
  const alerts = (list: AlertSpec[]) => webhookPayload(list);
  const body = (extra: Record<string, unknown>) => ({ reason: 'INC-5', actor: 'oncall', ...extra });

  afterEach(() => local.close());

  // ------------------------------------------------------------------ 1. activeWork ranked least urgent

  // Fixed (active work ranks above P0). Was (domain/decide/observe.ts alertUrgency: an alert whose rules are not alert rules of the
  // target, such as the `activeWork` pseudo-rule (policyLookups ACTIVE_WORK), ranks 0, BELOW P3;
  // keepAlerts keeps "the other alerts" most urgent first, and compactState's leastUrgent drops the
  // least urgent first). The activeWork alert is what holds a scale-down while pods still have work
  // (HSOF "check hsof_active_jobs before removing a replica"), yet it is the FIRST alert to go: with
  // 10 VRAM vetoes kept and two P3 scale-down alerts, the 13th alert evicted is the activeWork one,
  // and the P3 LLMQueueIdle that arrives scales worker-llm DOWN at once while LLMActiveBatches fires.
  // Dropping a non-veto does not even set alertsTruncated, and worker-llm has no down-blocking veto,
  // so nothing holds. (The same rank makes compactState drop it first under size pressure.)
  // Observed: desired 5 -> 4 (ScaleDown), /status alerts lack LLMActiveBatches. Expected: 5, held
  // (ActiveWork). Fix: treat an activeWork alert like a down-blocking veto in keepAlerts/compactState
  // (never dropped, or ranked above P0), or hold downs while an activeWork alert was dropped.
  // Shown through POST /emergency, /webhook, /tick and GET /status. Control: 9 VRAM vetoes hold at 5.
  const activeWorkSeq = async (vramVetoes: number) => {
    await start('2026-11-24T03:00:00-05:00', activeWorkPolicy);
    await post('/tick');
    await post('/emergency', body({ action: 'set', target: 'worker-llm', replicas: 5 }));
    local.clock.advance(20 * 60); // past scaleDownDelay (15m) and the rules' cooldown (10m)
    await post('/webhook', alerts([llm('LLMActiveBatches', 'ac71e0000000b47c')]));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', vramVetoes)));
    await post('/webhook', alerts([llm('LLMGPUIdle', 'llmgpuidle000000')]));
    local.clock.advance(60);
    await post('/webhook', alerts([llm('LLMQueueIdle', 'llmqueueidle0000')]));
    await ticksFor(1);
    const view = await status('worker-llm');
    return { desired: view.desired, activeWorkKept: view.alerts.some((a) => a.alertname === 'LLMActiveBatches') };
  };

  it('an activeWork alert is not the first alert dropped: no scale-down while the pods have work (13 alerts)', async () => {
    expect(await activeWorkSeq(10)).toEqual({ desired: 5, activeWorkKept: true });
  });

  it('holds (control): with 9 VRAM vetoes (12 alerts) the activeWork alert is kept and the down is held', async () => {
    expect(await activeWorkSeq(9)).toEqual({ desired: 5, activeWorkKept: true });
  });

  // ------------------------------------------------------------------ 2. retry of a partly refused command

  // Fixed (a retry some targets decided is answered, refusals kept). Was (app/emergency.ts emergency() -> refuseReusedKey, line ~111: the pre-check refuses a request
  // if ANY target remembers another command under its key). The red team 4 fix answers a multi-target
  // command refused on some targets with 200 and marks those `refused` (a new key "would act again").
  // But that 200 cannot be retried: the operator's (or CLI's) retry of the SAME request with the SAME
  // key finds, on the refused target, the racing command's mark and gets 409 "send this command with
  // a new key" -- the advice the fix meant never to give once something acted. Following it doubles
  // api a second time.
  // Observed: first reply 200 (app refused, api doubled), identical retry 409. Expected: 200 with the
  // same outcomes (api answered from its state, app still `refused`). Fix: in the pre-check, refuse
  // only if no target remembers THIS request's intent (or only when every target would refuse), and
  // let the worker's remembered refusal answer the refused targets.
  // Shown through POST /emergency (two requests reading the state at the same moment), GET /status.
  it('a multi-target double answered 200 with one target refused can be retried with its key (no 409)', async () => {
    const g = gatedStore();
    await start('2026-11-24T03:00:00-05:00', shipped, g.store);
    await post('/tick');
    g.arm(2);
    const [single, multi] = await Promise.all([
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-9' })),
      raw('/emergency', body({ action: 'double', targets: ['api', 'app'], idempotencyKey: 'INC-9' })),
    ]);
    const firstStatuses = Object.fromEntries((multi?.body.outcomes ?? []).map((o) => [o.target, o.status]));
    // The race as red team 4 showed it: the single-target set wins app, the double is refused there.
    expect({ single: single?.status, multi: multi?.status, firstStatuses }).toEqual({ single: 200, multi: 200, firstStatuses: { api: 'applied', app: 'refused' } });
    const apiAfterFirst = (await status('api')).desired;
    local.clock.advance(60);
    const retry = await raw('/emergency', body({ action: 'double', targets: ['api', 'app'], idempotencyKey: 'INC-9' }));
    expect({ status: retry.status, api: (await status('api')).desired }, retry.text).toEqual({ status: 200, api: apiAfterFirst });
  });

  it('holds: a multi-target command refused on every target answers 409 and changes nothing', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/emergency', body({ action: 'scaleToMin', targets: ['api', 'app'], idempotencyKey: 'INC-10' }));
    const before = [(await status('api')).desired, (await status('app')).desired];
    const reused = await raw('/emergency', body({ action: 'double', targets: ['api', 'app'], idempotencyKey: 'INC-10' }));
    expect({ status: reused.status, sizes: [(await status('api')).desired, (await status('app')).desired] }).toEqual({ status: 409, sizes: before });
  });

  // ------------------------------------------------------------------ 3. keyed retry under size pressure

  // Fixed (marks are never dropped). Was (domain/state.ts compactState: `emergencyKeys` are trimmed to the last FOUR before any
  // non-veto alert is dropped; record.ts and applyIntent.ts publish() compact after adding a mark
  // and the unsent audit records). A busy GPU target (10 kept + 8 dropped VRAM vetoes, a P1 and a
  // P3 alert) while the event bus is failing (EventBridge throttled or down during the same
  // incident: the outbox keeps the last 4 audit records, never dropped) is over 4 KB: history is
  // cut to 1, answers to 1, recent intents to 4 -- and then the marks, the only thing left that
  // remembers a keyed command, to 4. A keyed `double` followed by five keyed commands (a script's
  // evaluateNow each minute) is forgotten, and the CLI's retry of the double doubles AGAIN. Marks
  // are 16 bytes; the P3 alert that outlives them is ~200 and is dropped one step later anyway
  // (failing safe: alertsTruncated).
  // Observed: desired 2 -> 4 -> 8 (retry answered 200 with a second action). Expected: 4, the retry
  // answered without acting. Fix: trim emergencyKeys after the non-veto alerts (or never below the
  // 32 the schema allows; a document still too big goes to the advanced tier, as for vetoes).
  // Shown through POST /webhook, /emergency and GET /status (`print` failing for decision events,
  // which is how `npm start` publishes them). Control: the same with events delivered.
  const keyedUnderPressure = async (eventsDown: boolean) => {
    const print = (line: string) => {
      if (eventsDown && / \[[A-Z][A-Za-z]*\]/.test(line) && !line.includes('tick:')) throw new Error('EventBridge PutEvents: ThrottlingException');
    };
    await start('2026-11-24T03:00:00-05:00', shipped, new MemoryStateStore(), print);
    await post('/tick');
    await post('/webhook', alerts(vram('a', 8)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('b', 10)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmqueuebuildup0')]));
    local.clock.advance(60);
    await post('/webhook', alerts([llm('LLMGPUIdle', 'llmgpuidle000000')]));
    local.clock.advance(60);
    await post('/emergency', body({ action: 'double', target: 'worker-llm', idempotencyKey: 'INC-500-double' }));
    for (let k = 1; k <= 5; k += 1) {
      local.clock.advance(60);
      await post('/emergency', body({ action: 'evaluateNow', target: 'worker-llm', idempotencyKey: `INC-500-eval-${k}` }));
    }
    local.clock.advance(2 * 60);
    const retry = await raw('/emergency', body({ action: 'double', target: 'worker-llm', idempotencyKey: 'INC-500-double' }));
    return { status: retry.status, desired: (await status('worker-llm')).desired };
  };

  it('a keyed double retried after five keyed commands on a busy target, events failing, doubles once', async () => {
    expect(await keyedUnderPressure(true)).toEqual({ status: 200, desired: 4 });
  });

  it('holds (control): the same with events delivered, it doubles once', async () => {
    expect(await keyedUnderPressure(false)).toEqual({ status: 200, desired: 4 });
  });

  // ------------------------------------------------------------------ 4. downs held with nothing dropped

  // Fixed (only dropped or forgotten vetoes hold). Was (domain/decide/observe.ts readIntoState, `stillTruncated`'s third clause
  // `prior.alertsTruncated && kept vetoes >= 10`, combined with limits.ts now holding DOWNS while
  // alertsTruncated on a target with a down-blocking veto). 11 VRAM vetoes (block UP) fire: one is
  // dropped and remembered in droppedVetoes. It is then seen resolved, so droppedVetoes is empty and
  // no veto of any kind is unseen -- yet alertsTruncated stays set for as long as the 10 kept VRAM
  // vetoes keep firing (hours: re-sent every repeat_interval), and every scale-down of worker-llm is
  // held "AlertsTruncatedVeto" although the only down-blocking veto (LLMBatchRunning) never fired.
  // Observed: desired 5, held (AlertsTruncatedVeto). Expected: 4 (LLMQueueIdle; VRAM blocks only
  // ups). Fix: the third clause predates droppedVetoes/vetoesForgottenUntil, which now track every
  // dropped veto: drop it (or keep it only for a document with no droppedVetoes field at all).
  // Shown through POST /emergency, /webhook, /tick and GET /status.
  it('once the one dropped veto is seen resolved, scale-downs are no longer held as truncated', async () => {
    await start('2026-11-24T03:00:00-05:00', downVetoPolicy);
    await post('/tick');
    await post('/emergency', body({ action: 'set', target: 'worker-llm', replicas: 5 }));
    local.clock.advance(20 * 60);
    await post('/webhook', alerts(vram('a', 1)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', 10, 'firing', 1)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', 1, 'resolved'))); // the dropped one (gpu 0) resolves
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', 10, 'firing', 1))); // the other ten are re-sent: still firing
    await post('/webhook', alerts([llm('LLMQueueIdle', 'llmqueueidle0000')]));
    await ticksFor(1);
    const view = await status('worker-llm');
    expect({ desired: view.desired, truncated: view.vetoes.includes('AlertsTruncated') }).toEqual({ desired: 4, truncated: false });
  });

  // ------------------------------------------------------------------ what held

  it('holds: a dropped veto resolved by a notice whose startsAt has another UTC offset is forgotten (ms, not strings)', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    const z0 = (state: 'firing' | 'resolved', startsAt: string): AlertSpec => ({ alertname: 'VRAMHeadroomLow', labels: { node: 'z', gpu: '0' }, fingerprint: 'ffffffffffff0000', status: state, startsAt });
    await post('/webhook', alerts([z0('firing', '2026-11-24T07:55:00.000Z')]));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', 10)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    local.clock.advance(60);
    await post('/webhook', alerts([z0('resolved', '2026-11-24T09:55:00+02:00')])); // the same instant
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', 10, 'resolved')));
    await ticksFor(2);
    expect((await status('worker-llm')).desired).toBe(3);
  });

  it('holds: a keyed command retried on a busy target is answered, and another command under its key is refused', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts(vram('a', 8)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('b', 10)));
    const first = await post('/emergency', body({ action: 'double', target: 'worker-llm', idempotencyKey: 'K-1' }));
    local.clock.advance(60);
    const retry = await raw('/emergency', body({ action: 'double', target: 'worker-llm', idempotencyKey: 'K-1' }));
    const other = await raw('/emergency', body({ action: 'scaleToMin', target: 'worker-llm', idempotencyKey: 'K-1' }));
    expect({ retry: retry.status, intent: retry.body.outcomes?.[0]?.intent, other: other.status, desired: (await status('worker-llm')).desired }).toEqual({
      retry: 200,
      intent: first.outcomes?.[0]?.intent,
      other: 409,
      desired: 4,
    });
  });
});
