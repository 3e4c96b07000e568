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

  // Fixed (app/emergency.ts refuseUnpinnableTtl). Was: `ttl` on set, double or scaleToMin pins an
  // HPA target; on a Deployment it was accepted and ignored, so the operator believed the rollback
  // held for an hour and the next window entry undid it a minute later.
  it.each([
    { action: 'scaleToMin', target: 'api' },
    { action: 'set', target: 'reranking-service', replicas: 6 },
    { action: 'double', target: 'gpu-pool' },
  ])('a ttl on $action of a $target (no HPA to pin) is refused with 400, and nothing is queued', async (command) => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const before = await status(command.target);
    const r = await local.raw('/emergency', { ...command, ttl: '1h', reason: 'INC-8', actor: 'jane' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(new RegExp(`ttl on ${command.action} pins hpa targets for that long; "${command.target}" is a (deployment|eks-nodegroup), whose size nothing would hold: send the command without ttl, then pause the target for as long`));
    await post('/tick');
    expect((await status(command.target)).lastDecisions).toEqual(before.lastDecisions);
  });

  it('a ttl on set of the HPA target pins it for that long, and /status says since when', async () => {
    await start('2026-11-23T13:00:00-05:00');
    await post('/tick');
    // A pause, lifted two minutes later; an hour on, an emergency size pins the HPA.
    await post('/emergency', { action: 'pause', target: 'hsof', ttl: '10m', reason: 'INC-9', actor: 'jane' });
    await ticksFor(2);
    await post('/emergency', { action: 'resume', target: 'hsof', reason: 'INC-9', actor: 'jane' });
    await ticksFor(60);
    const pinnedAt = local.clock.now().toISOString();
    await post('/emergency', { action: 'set', target: 'hsof', replicas: 5, ttl: '1h', reason: 'INC-10', actor: 'jane' });

    // Fixed (app/status.ts pauseSince). Was: `since` showed the lifted pause's PauseSet, an hour earlier.
    expect((await status('hsof')).pause).toMatchObject({ pinned: true, since: pinnedAt, until: new Date(Date.parse(pinnedAt) + 3_600_000).toISOString() });
  });

  // Found by red team 7: `at=...+05:00` typed into a URL decodes `+` as a space, and was refused.
  it('explain takes a positive offset written raw in the query string', async () => {
    await start('2026-11-23T10:00:00-05:00');
    const r = await fetch(`${local.url}/explain?target=api&at=2026-11-23T20:30:00+05:00`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ target: 'api', at: '2026-11-23T15:30:00.000Z' });
  });

  // Found by red team 7: the tick queued a target whose document cannot be read every minute
  // (nothing it decides can be written), and each delivery published the same StateUnreadable
  // hold: 60 audit events an hour for one broken document.
  it('a target whose state cannot be read is delivered once per reconcile interval, not every minute', async () => {
    const store = new MemoryStateStore();
    await start('2026-11-24T03:00:00-05:00', shipped, store);
    await post('/tick');
    store.putDocument('app', 'not json');
    const before = local.scaler?.decisions.length ?? 0;

    await ticksFor(10);

    const held = (local.scaler?.decisions ?? []).slice(before).filter((d) => d.target === 'app');
    expect(held.map((d) => d.reasons[0]?.code)).toEqual(['StateUnreadable', 'StateUnreadable']);
  });

  // Found by red team 8: the first version compared a hold with the last history entry only, and
  // decisions that hold nothing are not in the history: a veto that resolved and fired again an
  // hour later matched the first episode's entry word for word, and was neither recorded nor
  // published. Fixed: `holding` says whether the hold the history ends with is still in force.
  it('a veto that ended and fired again is a new hold: recorded and published', async () => {
    const printed: string[] = [];
    await start('2026-11-24T20:00:00-05:00', shipped, new MemoryStateStore(), (line) => printed.push(line));
    await post('/tick');
    await ticksFor(15);
    const both = (startsAt: string, state: 'firing' | 'resolved' = 'firing') =>
      webhookPayload([
        { alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq', startsAt, status: state },
        { alertname: 'VRAMHeadroomLow', labels: { instance: 'gpu-1' }, fingerprint: 'vram1', startsAt, status: state },
      ]);
    const first = local.clock.now().toISOString();
    await post('/webhook', both(first));
    await ticksFor(10);
    await post('/webhook', both(first, 'resolved'));
    await ticksFor(60);
    const again = local.clock.now().toISOString();

    await post('/webhook', both(again));

    expect(printed.filter((line) => line.includes('worker-llm') && line.includes('[VetoedByAlert]'))).toHaveLength(2);
    expect((await status('worker-llm')).lastDecisions[0]).toMatchObject({ at: again, code: 'VetoedByAlert' });
  });

  // Found by red team 9: with `holding` cleared by any decision that was not a hold, a paused
  // pool alternated between its own reconcile (nothing to do) and its waiting workload's request
  // (held by the pause): the same Paused hold was recorded and published at every reconcile, and
  // pushed PauseSet (and /status pause.since) out of the history. A decision with nothing to do
  // now ends a hold only when an alert or the pause began or ended.
  it('a paused pool asked for nodes every minute records and publishes its hold once', async () => {
    const printed: string[] = [];
    await start('2026-11-24T20:00:00-05:00', shipped, new MemoryStateStore(), (line) => printed.push(line));
    await post('/tick');
    await ticksFor(15);
    const pausedAt = local.clock.now().toISOString();
    await post('/emergency', { action: 'pause', target: 'gpu-pool', ttl: '2h', reason: 'INC-12', actor: 'jane' });
    await post('/webhook', webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq' }]));

    await ticksFor(30);

    expect(printed.filter((line) => / gpu-pool \d+ \(hold\) \[Paused\]/.test(line))).toHaveLength(1);
    const pool = await status('gpu-pool');
    expect(pool.lastDecisions.map((d) => d.code)).toEqual(['Paused', 'PauseSet', ...pool.lastDecisions.slice(2).map((d) => d.code)]);
    expect(pool.pause).toMatchObject({ since: pausedAt });
  });

  // Found by red team 11: GPU capacity (limit order: before hard bounds) asked the pool for the
  // size the command named, so `set worker-llm 40` (max 8) grew gpu-pool to 11 nodes, and 1000
  // to its max of 20, idle for an hour. Fixed (decide/limits.ts gpuCapacity): capacity only for
  // a size the hard bounds let through.
  it.each([8, 12, 40, 1000])('an emergency set worker-llm %i (max 8) asks gpu-pool for the nodes of 8 at most', async (replicas) => {
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await ticksFor(10);

    await post('/emergency', { action: 'set', target: 'worker-llm', replicas, reason: 'INC-13', actor: 'jane' });

    // worker-llm 8 and worker-rl 2, one GPU each, on 4-GPU nodes: 3 nodes.
    expect((await status('worker-llm')).desired).toBe(8);
    expect((await status('gpu-pool')).desired).toBe(3);
  });
});
