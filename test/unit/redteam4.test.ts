import '../support/awsClients.ts';
import { afterEach, describe, expect, it } from 'vitest';
import type { Policy } from '../../shared/domain/policy.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { gatedStore, localSession } from '../support/localHttp.ts';
import { type AlertSpec, llmAlert as llm, vramVetoes as vram, webhookPayload } from '../support/payloads.ts';

// Red team 4: keyed emergency commands (ek- ids, emergencyKeys marks, IdempotencyKeyReused at the
// worker) and veto slots (droppedVetoes, P0..P3 ordering of the other alerts), through `npm start`'s
// HTTP API only (POST /webhook, /emergency, /tick; GET /status) on a ManualClock.

const shipped = loadPolicyFile('policy.yaml');

describe('red team 4 (npm start HTTP API)', () => {
  const local = localSession(shipped);
  const { start, raw, post, ticksFor, status } = local;
  const alerts = (list: AlertSpec[]) => webhookPayload(list);
  const body = (extra: Record<string, unknown>) => ({ reason: 'INC-1', actor: 'oncall', ...extra });

  afterEach(() => local.close());

  // ------------------------------------------------------------------ 1. dropped vetoes (safety)

  // Fixed (vetoesForgottenUntil). Was (decide/observe.ts readIntoState: `droppedVetoes` is capped at 8 and the overflow is
  // `forgotten` for one decision only). A VRAM storm across four GPU nodes (group_by node: one
  // Alertmanager group per node, 8 per-GPU VRAMHeadroomLow vetoes each) keeps 10 vetoes, remembers
  // 8 dropped ones and forgets the rest. Every veto of the first node is forgotten. When the other
  // three nodes' groups resolve, nothing remembers node a: alertsTruncated clears and worker-llm
  // SCALES UP on its P1 while 8 VRAM vetoes still fire (node a's group has no change to send until
  // its repeat_interval, hours away).
  // Observed: desired 2 -> 3 (ScaleUp), /status vetoes []. Expected: held (AlertsTruncatedVeto) until
  // node a's vetoes are seen again or alertTtl passes since the newest forgotten one was seen; 2.
  // Fix: never forget silently: keep a sentinel (e.g. `vetoesForgottenUntil` = newest forgotten
  // seenAt + alertTtl) that keeps the target truncated, or store more, shorter dropped marks.
  // Shown through POST /webhook, /tick and GET /status of `npm start`. Control: three nodes hold.
  const nodeStorm = async (nodes: string[]) => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    for (const node of nodes) {
      await post('/webhook', alerts(vram(node, 8)));
      local.clock.advance(60);
    }
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    for (const node of [...nodes].reverse().slice(0, -1)) {
      local.clock.advance(5 * 60);
      await post('/webhook', alerts(vram(node, 8, 'resolved')));
    }
    await ticksFor(2);
    const view = await status('worker-llm');
    return { desired: view.desired, blocked: view.lastDecisions[0]?.code !== 'ScaleUp' };
  };

  it('VRAM vetoes of four GPU nodes: the first node, still firing, keeps blocking ups after the other three resolve', async () => {
    expect(await nodeStorm(['a', 'b', 'c', 'd'])).toEqual({ desired: 2, blocked: true });
  });

  it('holds (control): three nodes of VRAM vetoes, the first still firing: ups stay blocked', async () => {
    expect(await nodeStorm(['a', 'b', 'c'])).toEqual({ desired: 2, blocked: true });
  });

  // Fixed (downs hold too where a veto of the target blocks them). Was (decide/limits.ts veto, line ~29: `if (up && ctx.state.alertsTruncated)`; observe.ts keepAlerts
  // drops vetoes by recency whatever they block). Vetoes may block downs (policy `blocks: down`), but
  // a dropped veto only holds ups. A "batch running, do not scale down" veto seen before 10 per-GPU
  // VRAM vetoes is the one dropped; LLMQueueIdle then scales worker-llm DOWN while it fires.
  // Observed: desired 5 -> 4 (ScaleDown). Expected: 5, held (the truncation should hold downs too
  // when a dropped veto may block them: remember `blocks` in droppedVetoes, or hold both ways).
  // Shown through POST /emergency, /webhook, /tick and GET /status. Control: 9 VRAM vetoes hold at 5.
  const downVetoPolicy: Policy = {
    ...shipped,
    vetoes: [...shipped.vetoes, { id: 'llm-batch-running', alert: 'LLMBatchRunning', matchers: [], blocks: 'down', targets: ['worker-llm'] }],
  };
  const downVetoSeq = async (vramVetoes: number) => {
    await start('2026-11-24T03:00:00-05:00', downVetoPolicy);
    await post('/tick');
    await post('/emergency', body({ action: 'set', target: 'worker-llm', replicas: 5 }));
    local.clock.advance(20 * 60); // past scaleDownDelay (15m) and the rules' cooldown (10m)
    await post('/webhook', alerts([{ alertname: 'LLMBatchRunning', fingerprint: 'b47c4000b47c4000' }]));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', vramVetoes)));
    await post('/webhook', alerts([llm('LLMQueueIdle', 'llmidle')]));
    await ticksFor(1);
    return (await status('worker-llm')).desired;
  };

  it('a dropped veto that blocks downs still blocks the scale-down', async () => {
    expect(await downVetoSeq(10)).toBe(5);
  });

  it('holds (control): with 9 VRAM vetoes the down veto is kept and the scale-down is held', async () => {
    expect(await downVetoSeq(9)).toBe(5);
  });

  // Fixed (droppedVetoes keep startsAt). Was (decide/observe.ts readIntoState: `resolved` cleared a dropped veto by fingerprint alone;
  // droppedVetoes keeps no startsAt). A kept alert ignores a resolve older than its firing
  // (mergeAlert: StaleAlert), a dropped one does not: VRAMHeadroomLow on gpu z0 fires, resolves,
  // fires again (new startsAt), is dropped for 10 newer VRAM vetoes, and then the earlier resolve
  // arrives again (Alertmanager retrying a failed webhook delivery, or the HA peer's late copy).
  // The dropped veto is forgotten; when the 10 others resolve worker-llm SCALES UP while z0 fires.
  // Observed: desired 2 -> 3, /status vetoes []. Expected: 2, held (keep startsAt in droppedVetoes
  // and ignore a resolve older than it, as mergeAlert does). Control: 9 others (z0 kept) hold.
  const staleResolveSeq = async (others: number) => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    const z0 = (state: 'firing' | 'resolved', startsAt: string): AlertSpec => ({ alertname: 'VRAMHeadroomLow', labels: { node: 'z', gpu: '0' }, fingerprint: 'ffffffffffff0000', status: state, startsAt });
    await post('/webhook', alerts([z0('firing', '2026-11-24T07:55:00.000Z')]));
    local.clock.advance(60);
    await post('/webhook', alerts([z0('resolved', '2026-11-24T07:55:00.000Z')]));
    local.clock.advance(60);
    await post('/webhook', alerts([z0('firing', '2026-11-24T08:01:30.000Z')]));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('a', others)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    local.clock.advance(6 * 60);
    await post('/webhook', alerts([z0('resolved', '2026-11-24T07:55:00.000Z')])); // the old resolve, again
    local.clock.advance(5 * 60);
    await post('/webhook', alerts(vram('a', others, 'resolved')));
    await ticksFor(2);
    const view = await status('worker-llm');
    return { desired: view.desired, vetoes: view.vetoes };
  };

  it('a late copy of an old resolve does not clear a dropped veto that fired again', async () => {
    // Held: the dropped veto is not named (the state keeps its fingerprint), the hold says why
    expect(await staleResolveSeq(10)).toEqual({ desired: 2, vetoes: ['AlertsTruncated'] });
  });

  it('holds (control): the same late resolve for a kept veto is stale and ignored', async () => {
    expect(await staleResolveSeq(9)).toEqual({ desired: 2, vetoes: ['VRAMHeadroomLow'] });
  });

  // ------------------------------------------------------------------ 2. a P1 lost to compaction

  // Fixed (compaction drops the least urgent alert). Was (domain/state.ts compactState: `next.alerts.findIndex((a) => !a.veto)` drops the first
  // non-veto in the list, which keepAlerts orders by seenAt, i.e. the OLDEST, whatever its priority).
  // keepAlerts now keeps a P1 over a P3, but compaction undoes it: a busy worker-llm (10 VRAM vetoes
  // kept, 8 dropped, a P1 LLMQueueBuildup, a later P3 LLMGPUIdle) passes 4,096 bytes after two
  // operator evaluateNow commands; the P1 is dropped, the P3 kept, and the next tick scales DOWN
  // (VRAM vetoes and alertsTruncated block only ups) while the P1 still fires.
  // Observed: /status alerts lack LLMQueueBuildup, desired 5 -> 4. Expected: the P3 dropped first
  // (least urgent, as keepAlerts does), desired 5. Control: without the two commands, held at 5.
  const compactedP1 = async (commands: number) => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/emergency', body({ action: 'set', target: 'worker-llm', replicas: 5 }));
    local.clock.advance(20 * 60);
    await post('/webhook', alerts(vram('a', 8)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('b', 10)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmqueuebuildup0')]));
    local.clock.advance(60);
    await post('/webhook', alerts([llm('LLMGPUIdle', 'llmgpuidle000000')]));
    for (let k = 0; k < commands; k += 1) {
      local.clock.advance(60);
      await post('/emergency', body({ action: 'evaluateNow', target: 'worker-llm', idempotencyKey: `INC-7-${k}` }));
    }
    await ticksFor(1);
    const view = await status('worker-llm');
    return { p1Kept: view.alerts.some((a) => a.alertname === 'LLMQueueBuildup'), desired: view.desired };
  };

  it('size pressure drops the P3 before the P1, and the P3 scale-down does not undo the P1', async () => {
    expect(await compactedP1(2)).toEqual({ p1Kept: true, desired: 5 });
  });

  it('holds (control): the same alerts without the commands keep the P1, no scale-down', async () => {
    expect(await compactedP1(0)).toEqual({ p1Kept: true, desired: 5 });
  });

  // ------------------------------------------------------------------ 3. idempotency keys

  // Fixed (the refusal is checked before the Duplicate branch). Was (domain/decide/index.ts, the Duplicate branch -> decide/record.ts: a redelivery of a REFUSED
  // intent is recorded as a use of its key). decide() refuses B (same key as A, another command)
  // and does not remember it as a use; but when B is delivered again (the worker's write went
  // through and then the call timed out, so SQS redelivers), remembersIntent(B) is true (its
  // refusal is in `emergencies`), and the Duplicate path's record() appends B's mark to
  // `emergencyKeys` and a `Duplicate` answer (not IdempotencyKeyReused) to `emergencies`. From then
  // on the handler finds "another command" for A: the operator's retry of A, the command that
  // acted, gets 409 "send this command with a new key".
  // Observed: retry of A -> 409. Expected: 200 with A's answer. Fix: in the Duplicate branch,
  // do not record a mark/answer for an intent whose remembered answer is IdempotencyKeyReused.
  // Shown through POST /emergency and /tick (a store whose put succeeds, then throws once).
  it('a redelivered refused command does not turn the first command into a reused key', async () => {
    const g = gatedStore();
    await start('2026-11-24T03:00:00-05:00', shipped, g.store);
    await post('/tick');
    g.arm(2);
    g.failNextPutWhere((s) => s.history.at(-1)?.code === 'IdempotencyKeyReused');
    const replies = await Promise.all([
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-77' })),
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 8, idempotencyKey: 'INC-77' })),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 409]);
    local.clock.advance(400); // past the visibility timeout: the refused intent comes back
    await post('/tick');
    const retry = await raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-77' }));
    expect({ status: retry.status, desired: (await status('app')).desired }).toEqual({ status: 200, desired: 5 });
  });

  // Fixed (refused targets are marked; 409 only when every target refused). Was (app/emergency.ts emergency(): `if (refused.length > 0 ...) throw reusedKey(...)` after the
  // other targets' intents were applied). A multi-target `double` whose key is refused at the worker
  // on ONE target (it raced a single-target command with the same key) doubles the others and then
  // answers 409 "send this command with a new key" as if nothing had happened. The operator does
  // exactly that, and api doubles a second time.
  // Observed: 409, api 3 -> 6 (the advised retry with a new key would take it to 12). Expected: a 409 only
  // when nothing acted; otherwise 200 (or 207) with each target's outcome, the refused one marked.
  // Shown through POST /emergency (two requests reading the state at the same moment).
  it('a multi-target double refused on one target at the worker does not answer 409 after doubling the others', async () => {
    const g = gatedStore();
    await start('2026-11-24T03:00:00-05:00', shipped, g.store);
    await post('/tick');
    const before = (await status('api')).desired;
    g.arm(2);
    const [, multi] = await Promise.all([
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-9' })),
      raw('/emergency', body({ action: 'double', targets: ['api', 'app'], idempotencyKey: 'INC-9' })),
    ]);
    const after = (await status('api')).desired;
    expect(multi?.status === 409 && after !== before, `reply ${multi?.status}, api ${before} -> ${after}: ${multi?.text}`).toBe(false);
  });

  // Fixed (marks are trimmed after texts, answers and readings). Was (domain/state.ts compactState: emergencyKeys are trimmed, one by one, before the messages
  // are shortened and before the emergency answers; record.ts compacts after adding a mark). On a
  // busy GPU target (10 kept + 8 dropped VRAM vetoes) the document sits at ~4 KB, so every new
  // keyed command pushes out the oldest mark: the "last 32 keyed commands" are about 20. A keyed
  // `double`, followed by a script's `evaluateNow all` with a fresh key each minute, is retried
  // after 25 of them: its mark, answer and intent are all gone, and it doubles AGAIN.
  // Observed: desired 2 -> 4 -> 8. Expected: 4 (the retry answered, no second action). Fix:
  // shorten texts (and drop old answers) before trimming keys; marks are 16 bytes each.
  it('a keyed double retried after 25 keyed commands on a busy target doubles once', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts(vram('a', 8)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('b', 10)));
    await post('/emergency', body({ action: 'double', target: 'worker-llm', idempotencyKey: 'INC-100-double' }));
    for (let k = 1; k <= 25; k += 1) {
      local.clock.advance(60);
      await post('/emergency', body({ action: 'evaluateNow', all: true, idempotencyKey: `INC-100-eval-${k}` }));
    }
    local.clock.advance(6 * 60);
    const retry = await raw('/emergency', body({ action: 'double', target: 'worker-llm', idempotencyKey: 'INC-100-double' }));
    expect({ status: retry.status, desired: (await status('worker-llm')).desired }).toEqual({ status: 200, desired: 4 });
  });

  // ------------------------------------------------------------------ what held

  it('holds: a keyed double retried after 20 other keyed commands (no size pressure) doubles once', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    const first = await post('/emergency', body({ action: 'double', target: 'api', idempotencyKey: 'K-D' }));
    for (let k = 0; k < 20; k += 1) await post('/emergency', body({ action: 'evaluateNow', target: 'api', idempotencyKey: `K-E-${k}` }));
    local.clock.advance(6 * 60);
    const retry = await post('/emergency', body({ action: 'double', target: 'api', idempotencyKey: 'K-D' }));
    expect(retry.outcomes?.[0]?.intent).toBe(first.outcomes?.[0]?.intent);
    expect((await status('api')).desired).toBe(first.outcomes?.[0]?.decision?.to);
    expect((await raw('/emergency', body({ action: 'scaleToMin', target: 'api', idempotencyKey: 'K-D' }))).status).toBe(409);
  });

  it('holds: after a racing second command is refused (409), the first one retried is answered 200 and acts once', async () => {
    const g = gatedStore();
    await start('2026-11-24T03:00:00-05:00', shipped, g.store);
    await post('/tick');
    g.arm(2);
    const replies = await Promise.all([
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-78' })),
      raw('/emergency', body({ action: 'set', target: 'app', replicas: 8, idempotencyKey: 'INC-78' })),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 409]);
    local.clock.advance(6 * 60);
    const retry = await raw('/emergency', body({ action: 'set', target: 'app', replicas: 5, idempotencyKey: 'INC-78' }));
    expect({ status: retry.status, desired: (await status('app')).desired }).toEqual({ status: 200, desired: 5 });
    expect((await raw('/emergency', body({ action: 'set', target: 'app', replicas: 8, idempotencyKey: 'INC-78' }))).status).toBe(409);
  });

  it('holds: unkeyed commands are each their own (the same set twice acts, no 409)', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    const a = await post('/emergency', body({ action: 'scaleToMin', target: 'app' }));
    const b = await post('/emergency', body({ action: 'scaleToMin', target: 'app' }));
    expect(a.outcomes?.[0]?.intent).not.toBe(b.outcomes?.[0]?.intent);
  });

  it('holds: a dropped veto that is never re-sent expires after alertTtl and ups resume', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts(vram('a', 1)));
    local.clock.advance(60);
    await post('/webhook', alerts(vram('b', 10)));
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    local.clock.advance(5 * 60);
    await post('/webhook', alerts(vram('b', 10, 'resolved')));
    await ticksFor(2);
    expect((await status('worker-llm')).desired).toBe(2);
    local.clock.advance(4 * 3600);
    await post('/webhook', alerts([llm('LLMQueueBuildup', 'llmq')]));
    await ticksFor(1);
    expect((await status('worker-llm')).desired).toBe(3);
  });
});
