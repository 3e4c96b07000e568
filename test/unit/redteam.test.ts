import { afterEach, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';

// Red-team probes of the README's promises, driven through the local runtime's HTTP API.

const shipped = loadPolicyFile('policy.yaml');

interface TargetView {
  id: string;
  desired: number | null;
  live: number | null;
  vetoes: string[];
  alerts: { alertname: string }[];
  cooldowns: Record<string, number>;
  pause: { until: string; pinned?: true; reason: string } | null;
  lastDecisions: { code: string; cause?: string; from: number; to: number; intent: string }[];
}

describe('red team', () => {
  let scaler: LocalAutoscaler | undefined;
  let url = '';
  let clock: ManualClock;
  let store: MemoryStateStore;
  let printed: string[] = [];

  const start = async (at: string, policy: Policy = shipped) => {
    clock = new ManualClock(at);
    store = new MemoryStateStore();
    printed = [];
    scaler = new LocalAutoscaler({ policy, clock, store, print: (l) => printed.push(l) });
    url = await scaler.listen(0);
  };
  const postRaw = async (path: string, body: unknown = {}) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const post = async (path: string, body: unknown = {}) => {
    const r = await postRaw(path, body);
    expect(r.status, `${path} ${JSON.stringify(body)} -> ${JSON.stringify(r.body)}`).toBe(200);
    return r.body;
  };
  const tickAt = async (local: string) => {
    clock.advance((Date.parse(local) - clock.now().getTime()) / 1000);
    return post('/tick');
  };
  const statusBody = async () => (await (await fetch(`${url}/status`)).json()) as { targets: TargetView[]; deadLetters: number; queue: { messages: unknown[]; deadLetters: unknown[] }; healthy: boolean; problems: string[] };
  const status = async (id: string): Promise<TargetView> => {
    const view = (await statusBody()).targets.find((t) => t.id === id);
    if (!view) throw new Error(`no ${id} in /status`);
    return view;
  };
  const explain = async (id: string) => (await (await fetch(`${url}/explain?target=${id}`)).json()) as Record<string, any>;
  type A = { alertname: string; labels?: Record<string, string>; fingerprint: string; status?: 'firing' | 'resolved'; startsAt?: string };
  const alerts = (list: A[]) => webhookPayload(list);
  const vram = (n: number): A => ({ alertname: 'VRAMHeadroomLow', labels: { instance: `gpu-${n}` }, fingerprint: `vram${n}` });

  afterEach(async () => {
    await scaler?.close();
    scaler = undefined;
  });

  const queueMetric = (value: number) =>
    post('/metrics', { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'tensafe-training-jobs' }, value });
  const ticks = async (minutes: number, each?: () => Promise<unknown>) => {
    for (let m = 0; m < minutes; m++) {
      clock.advance(60);
      await each?.();
      await post('/tick');
    }
  };
  const firing = (alertname: string, service: string, fingerprint: string): A => ({ alertname, labels: { service }, fingerprint, startsAt: clock.now().toISOString() });

  // ---- wrong scaling actions -------------------------------------------------------------

  // BUG: keepAlerts() keeps every veto even past STATE_LIMITS.alerts (12), so the 13th
  // VRAMHeadroomLow (one per GPU node, each its own fingerprint) makes a state document that
  // targetStateSchema.parse refuses; the intent fails until it is too old (12 min), blocking the
  // whole gpu-pool FIFO group, and is then dropped as IntentTooOld: that veto is lost. When the
  // other 12 resolve, worker-llm scales up while VRAMHeadroomLow still fires on gpu-12.
  // README: "a veto blocks every automatic scale-up ... If alerts had to be dropped to keep the
  // state small (every veto is kept), the target is treated as vetoed".
  it('a 13th firing veto is not lost: worker-llm does not scale up while VRAMHeadroomLow still fires', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick'); // peak: worker-llm 4
    await post('/webhook', alerts(Array.from({ length: 13 }, (_, n) => vram(n))));
    await ticks(13);
    await post('/webhook', alerts(Array.from({ length: 12 }, (_, n) => ({ ...vram(n), status: 'resolved' as const }))));
    const before = (await status('worker-llm')).desired;
    await post('/webhook', alerts([firing('LLMQueueBuildup', 'worker-llm', 'llmq')]));
    await ticks(2);
    expect((await status('worker-llm')).desired).toBe(before); // actual: 4 -> 5 under a firing veto
  });

  // BUG: same root cause, seen from the rest of the FIFO group: the failing veto intents stay in
  // flight and everything else in the gpu-pool group (training-workers, gpu-pool) waits.
  // README: "a message that fails waits ... while the other targets go on".
  it('13 firing vetoes on the GPU workers do not stall the training workers of the same pool', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts(Array.from({ length: 13 }, (_, n) => vram(n))));
    await post('/webhook', alerts([firing('TrainingGPUBusy', 'tensafe-training', 'tgb')]));
    const body = await statusBody();
    expect(body.queue.messages).toEqual([]); // actual: two veto intents in flight, training-workers queued behind them
    expect((await status('training-workers')).desired).toBe(2); // actual: 0
  });

  // BUG: gpuViewFor() counts a member whose state document cannot be read at its hard min, so the
  // pool's idle shrink (and deprovisionPool) drops nodes that running pods use.
  // README: "A state document that cannot be read holds its own target's automatic decisions";
  // "one with more nodes than they need for idleAfter shrinks" (need = the workloads' sizes).
  it('a GPU pool does not shrink under a workload whose state document cannot be read', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'set', target: 'worker-llm', replicas: 8, reason: 'INC-5', actor: 'jane' });
    expect((await status('gpu-pool')).desired).toBe(3); // 8 + 1 GPUs on 4-GPU nodes
    store.putDocument('worker-llm', '{"broken":');
    await ticks(70);
    expect((await status('gpu-pool')).desired).toBeGreaterThanOrEqual(3); // actual: 1 [GpuPoolIdle]
    expect(scaler!.cluster.snapshot()['worker-llm']?.pending).toBe(0); // actual: 4 GPU pods pending
  });

  // BUG: metric rules are proposed only from the tick intent's readings; an alert intent carries
  // none, so a P3 down-rule alert meets no P1 metric candidate and lowers the target.
  // README: "A lower-priority source never undoes a higher one still in force"; metric rules
  // "rank as alert rules of the same priority" (training-queue is P1).
  it('a P3 alert (TrainingGPUIdle) does not undo the P1 training-queue metric rule still in force', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await ticks(20, () => queueMetric(6));
    expect((await status('training-workers')).desired).toBe(6);
    await post('/webhook', alerts([firing('TrainingGPUIdle', 'tensafe-training', 'tgi')]));
    expect((await status('training-workers')).desired).toBe(6); // actual: 6 -> 5 [ScaleDown], back to 6 on the next tick
  });

  // BUG: the idempotency key is only remembered in recentIntents (16 ids) and SQS's 5-minute
  // dedup; after 16 other intents on the target a retry is a new command, and `double` is
  // recomputed from the new size. README: "--idempotency-key ...: the same key acts once and answers the same".
  it('a retried double with the same idempotency key does not double twice', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const cmd = { action: 'double', target: 'api', reason: 'INC-4 p95 > 200ms', actor: 'jane', idempotencyKey: 'INC-4-1' };
    await post('/emergency', cmd);
    expect((await status('api')).desired).toBe(6);
    clock.advance(60);
    await post('/webhook', alerts(Array.from({ length: 16 }, (_, n) => firing('APILowLoad', 'tensafe', `low${n}`)))); // held: scale-down delay
    clock.advance(5 * 60);
    await post('/emergency', cmd); // the CLI's retry after a dropped connection
    expect((await status('api')).desired).toBe(6); // actual: 12
  });

  // BUG: an emergency size on an hpa target replaces an operator's longer pause with the 1h pin,
  // so automatic decisions resume hours before the pause the operator set.
  // README: pause = "an operator's hold on automatic decisions until a time"; an emergency
  // "bypasses ... pauses" (acts through it, PauseOverridden), it does not shorten it.
  it("an emergency set on a paused hpa does not cut the operator's pause short", async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'pause', target: 'hsof', ttl: '6h', reason: 'INC-1 freeze', actor: 'jane' });
    await post('/emergency', { action: 'set', target: 'hsof', replicas: 5, reason: 'INC-1 bump', actor: 'jane' });
    await tickAt('2026-11-23T12:00:00-05:00');
    await post('/webhook', alerts([firing('HSOFLowLoad', 'hsof', 'hsoflow')]));
    const view = await status('hsof');
    expect(view.pause?.until).toBe('2026-11-23T21:00:00.000Z'); // actual: null (the pin ended at 16:00Z)
    expect(view.desired).toBe(5); // actual: 4 [ScaleDown] inside the pause
  });

  // ---- lost actions ---------------------------------------------------------------------

  // BUG: the Duplicate path of decide() runs readIntoState, which drops an expired pin, but
  // never says hpa: 'release'; the next decision sees no pin in the prior state and never
  // releases it. The HPA keeps minReplicas = maxReplicas forever.
  // README: "emergency sizes on an hpa target pin it (minReplicas = maxReplicas) until resume or expiry".
  it('an expired HPA pin is released even when the first intent after expiry is a redelivered alert', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const busy: A = { alertname: 'HSOFGPUBusy', labels: { service: 'hsof' }, fingerprint: 'hsofbusy', startsAt: '2026-11-23T14:55:00Z' };
    await post('/webhook', alerts([busy]));
    await post('/emergency', { action: 'set', target: 'hsof', replicas: 10, reason: 'INC-3', actor: 'jane' });
    expect((await status('hsof')).pause?.pinned).toBe(true);
    clock.advance(3600 + 30); // the pin ends at 11:00; Alertmanager re-sends the same alert at 11:00:30
    await post('/webhook', alerts([busy]));
    await ticks(3);
    const hsof = scaler!.decisions.filter((d) => d.target === 'hsof');
    expect(hsof.some((d) => d.hpa === 'release')).toBe(true); // actual: no release; last pin call stands
  });

  // ---- bounds ---------------------------------------------------------------------------

  // BUG: the pin length of double/set/scaleToMin on an hpa takes `ttl` as given (up to 365d),
  // never capped by maxPause as a pause is. README: "A pause lasts at most maxPause (7d)";
  // glossary: "a pin is a pause that holds an HPA at an emergency size".
  it('an emergency pin on an hpa lasts at most maxPause', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const r = await postRaw('/emergency', { action: 'set', target: 'hsof', replicas: 5, ttl: '300d', reason: 'INC-2', actor: 'jane' });
    const until = (await status('hsof')).pause?.until;
    const ok = r.status === 400 || (until !== undefined && Date.parse(until) <= clock.now().getTime() + 7 * 86_400_000);
    expect(ok, `status ${r.status}, pinned until ${until}`).toBe(true); // actual: 200, pinned until 2027-09-19
  });

  // `replicas` on a queued double is the size it doubles to; an operator's was taken the same way,
  // so `double` with `replicas: 50` set 50. Now the request is refused and nothing is queued.
  it('a double that names a size is refused, not taken as a set', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const before = (await status('api')).desired;
    const r = await postRaw('/emergency', { action: 'double', target: 'api', replicas: 50, reason: 'INC-7', actor: 'jane' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/double takes no replicas: it doubles the current size \(use set to give one\)/);
    await post('/tick');
    expect((await status('api')).desired).toBe(before);
  });

  // ---- misleading status / explain ------------------------------------------------------

  // `Object.fromEntries` of the query kept the last of a repeated parameter: explain answered for
  // another target than the first one named. A parameter given twice is now refused.
  it('explain refuses a target named twice', async () => {
    await start('2026-11-23T10:00:00-05:00');
    const r = await fetch(`${url}/explain?target=api&target=worker-llm`);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'invalid explain request: target: give one target: target=ID, once' });
  });

  // Explain reads the metric rules through the tick's own reading, as the next tick will: a value
  // fed since the last tick (here 6, which the next tick acts on) is a candidate already.
  it('explain shows the metric rule candidate the next tick acts on', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await queueMetric(6);
    const e = await explain('training-workers');
    clock.advance(60);
    await post('/tick');
    expect((await status('training-workers')).desired).toBe(6); // what the tick did
    expect(e.now.candidates.some((c: { source: string }) => c.source === 'metric')).toBe(true); // actual: no candidates, NoRuleMatched
  });

  // BUG: explain reads an unreadable document as "no state" and predicts a scale the worker will
  // not take (it holds with StateUnreadable). README: explain = "what a tick would do now".
  it('explain says a target whose state cannot be read holds, as the worker does', async () => {
    await start('2026-11-23T17:50:00-05:00');
    await post('/tick');
    store.putDocument('app', 'not json');
    clock.advance(30 * 60);
    const e = await explain('app');
    // The tick delivers an unreadable target at its reconcile minute (one in five).
    await ticks(5);
    const worker = scaler!.decisions.filter((d) => d.target === 'app').at(-1);
    expect(worker?.reasons[0]?.code).toBe('StateUnreadable');
    expect(e.now.decision.to).toBe(worker?.to); // actual: explain 5 -> 4, worker holds 5
  });

  // BUG: /status lists `vetoes` only from veto alerts; a target held by AlertsTruncatedVeto shows
  // vetoes: [] while every automatic scale-up is blocked. README: status shows per target
  // "bounds in force ... alerts"; "the target is treated as vetoed until there is room".
  it('status shows that a target whose vetoes had to be truncated is treated as vetoed', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts(Array.from({ length: 13 }, (_, n) => ({ ...firing('VRAMHeadroomLow', 'worker-llm', `vram${n}`), labels: { gpu: `${n}` } }))));
    await ticks(1);
    expect((await status('worker-llm')).vetoes).toContain('AlertsTruncated');
  });

  // BUG: the emergency answer is looked up in the 5-entry history; after 5 more recorded
  // decisions a retry with the same key answers "applied" with no decision.
  // README: "the same key acts once and answers the same".
  it('a retry with the same idempotency key answers with the first decision', async () => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const cmd = { action: 'double', target: 'api', reason: 'INC-6', actor: 'jane', idempotencyKey: 'INC-6-1' };
    const first = (await post('/emergency', cmd)).outcomes[0];
    clock.advance(60);
    await post('/webhook', alerts(Array.from({ length: 5 }, (_, n) => firing('APILowLoad', 'tensafe', `low${n}`))));
    const again = (await post('/emergency', cmd)).outcomes[0];
    expect(again).toEqual(first); // actual: { status: 'applied' } without its decision
  });
});
