import { afterEach, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { type Policy, ruleSchema, type WorkloadTarget } from '../../shared/domain/policy.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';

// The conflicts between sources, driven as a user drives `npm start`: webhooks, ticks and
// emergencies over HTTP, then GET /status.

const shipped = loadPolicyFile('policy.yaml');

interface TargetView {
  id: string;
  desired: number | null;
  vetoes: string[];
  alerts: { alertname: string }[];
  cooldowns: Record<string, number>;
  pause: { until: string; pinned?: true } | null;
  lastDecisions: { code: string; cause?: string; from: number; to: number }[];
}

describe('npm start: one precedence for every source', () => {
  let scaler: LocalAutoscaler | undefined;
  let url = '';
  let clock: ManualClock;

  const start = async (at: string, policy: Policy = shipped, store = new MemoryStateStore()) => {
    clock = new ManualClock(at);
    scaler = new LocalAutoscaler({ policy, clock, store, print: () => undefined });
    url = await scaler.listen(0);
  };
  const post = async (path: string, body: unknown = {}) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };
  const tickAt = async (local: string) => {
    const target = Date.parse(local) - clock.now().getTime();
    clock.advance(target / 1000);
    await post('/tick');
  };
  const status = async (id: string): Promise<TargetView> => {
    const body = (await (await fetch(`${url}/status`)).json()) as { targets: TargetView[] };
    const view = body.targets.find((t) => t.id === id);
    if (!view) throw new Error(`no ${id} in /status`);
    return view;
  };
  const alerts = (list: { alertname: string; service?: string; fingerprint: string; status?: 'firing' | 'resolved'; startsAt?: string; value?: string }[]) =>
    webhookPayload(list.map((a) => ({
      alertname: a.alertname,
      labels: a.service ? { service: a.service } : ({} as Record<string, string>),
      fingerprint: a.fingerprint,
      ...(a.status ? { status: a.status } : {}),
      ...(a.startsAt ? { startsAt: a.startsAt } : {}),
      ...(a.value ? { annotations: { value: a.value } } : {}),
    })));
  const vram = { alertname: 'VRAMHeadroomLow', fingerprint: 'vram' };
  const llmQueue = { alertname: 'LLMQueueBuildup', service: 'worker-llm', fingerprint: 'llmq' };

  afterEach(async () => {
    await scaler?.close();
    scaler = undefined;
  });

  it('the 08:30 peak pre-scale does not scale GPU workloads up while VRAMHeadroomLow fires', async () => {
    // Prepare
    await start('2026-11-23T08:20:00-05:00');
    await post('/tick');
    await post('/webhook', alerts([vram]));

    // Act
    await tickAt('2026-11-23T08:30:00-05:00');

    // Assess
    expect((await status('worker-llm')).desired).toBe(3);
    expect((await status('worker-rl')).desired).toBe(1);
    expect((await status('gpu-pool')).desired).toBe(1);
    expect((await status('worker-llm')).lastDecisions[0]).toMatchObject({ code: 'VetoedByAlert', cause: 'ScheduleEntry' });
    expect((await status('app')).desired).toBe(5); // not vetoed
  });

  it('off-peak does not cut worker-llm while LLMQueueBuildup (P1) and the veto fire', async () => {
    // Prepare: worker-llm at 7 in the evening
    await start('2026-11-24T00:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'set', target: 'worker-llm', replicas: 7, reason: 'load test', actor: 'oncall' });
    await post('/webhook', alerts([vram, llmQueue]));

    // Act
    await tickAt('2026-11-24T01:00:00-05:00');

    // Assess
    expect((await status('worker-llm')).desired).toBe(7);
    expect((await status('app')).desired).toBe(2);
  });

  it('a window entry that lowers waits the scale-down delay, then goes one step at a time', async () => {
    // Prepare: peak, worker-llm up to 5 at 17:50
    await start('2026-11-23T17:30:00-05:00');
    await post('/tick');
    clock.advance(20 * 60);
    await post('/webhook', alerts([llmQueue]));
    await post('/webhook', alerts([{ ...llmQueue, status: 'resolved' }]));
    expect((await status('worker-llm')).desired).toBe(5);

    // Act + Assess: 18:00 normal-evening (3) is ten minutes after the up
    await tickAt('2026-11-23T18:00:00-05:00');
    expect((await status('worker-llm')).desired).toBe(5);
    expect((await status('worker-llm')).lastDecisions[0]).toMatchObject({ code: 'ScaleDownDelayed', cause: 'ScheduleEntry' });
    await tickAt('2026-11-23T18:05:00-05:00');
    expect((await status('worker-llm')).desired).toBe(4);
    await tickAt('2026-11-23T18:10:00-05:00');
    expect((await status('worker-llm')).desired).toBe(3);
  });

  it('a pre-scale only raises: worker-llm at 8 is not cut to 4 at 08:30', async () => {
    // Prepare
    await start('2026-11-23T08:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'set', target: 'worker-llm', replicas: 8, reason: 'backlog', actor: 'oncall' });

    // Act
    await tickAt('2026-11-23T08:30:00-05:00');

    // Assess
    expect((await status('worker-llm')).desired).toBe(8);
  });

  it('a window entry held by a pause is applied when the pause ends, inside the window', async () => {
    // Prepare: paused 08:20-08:50
    await start('2026-11-23T08:20:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'pause', target: 'worker-llm', ttl: '30m', reason: 'INC-9', actor: 'oncall' });

    // Act + Assess
    await tickAt('2026-11-23T08:30:00-05:00');
    expect((await status('worker-llm')).desired).toBe(3);
    await tickAt('2026-11-23T08:50:00-05:00');
    expect((await status('worker-llm')).desired).toBe(4);
  });

  it('launch day: API doubled from 07:30, back to where it began from 15 minutes after the event', async () => {
    // Prepare
    await start('2026-12-01T07:00:00-05:00');
    await post('/tick');
    const sizes: Record<string, number | null> = {};

    // Act
    for (const local of ['07:30', '12:00', '20:00', '20:15', '20:20', '20:25', '21:30']) {
      await tickAt(`2026-12-01T${local}:00-05:00`);
      sizes[local] = (await status('api')).desired;
    }

    // Assess
    expect(sizes).toEqual({ '07:30': 6, '12:00': 6, '20:00': 6, '20:15': 5, '20:20': 4, '20:25': 3, '21:30': 3 });
  });

  it('keeps VRAMHeadroomLow among thirteen alerts, and worker-llm does not scale up', async () => {
    // Prepare
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/webhook', alerts([vram]));

    // Act
    await post('/webhook', alerts(Array.from({ length: 13 }, (_, i) => ({ ...llmQueue, fingerprint: `llmq-${i}` }))));
    clock.advance(15 * 60);
    await post('/tick');

    // Assess
    const llm = await status('worker-llm');
    expect(llm.vetoes).toEqual(['VRAMHeadroomLow']);
    expect(llm.desired).toBe(4);
  });

  it('a firing notice delivered again after its resolve does not bring the alert back', async () => {
    // Prepare
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    const cpu = { alertname: 'APIHighCPU', service: 'tensafe', fingerprint: 'cpu', startsAt: '2026-11-23T14:55:00.000Z' };
    await post('/webhook', alerts([cpu]));
    clock.advance(60);
    await post('/webhook', alerts([{ ...cpu, status: 'resolved' }]));

    // Act: a copy of the firing notice, 20 minutes later
    clock.advance(20 * 60);
    await post('/webhook', alerts([cpu]));
    for (let i = 0; i < 6; i++) {
      clock.advance(5 * 60);
      await post('/tick');
    }

    // Assess
    const api = await status('api');
    expect(api.alerts).toEqual([]);
    expect(api.desired).toBe(5);
  });

  it('proportional rules keep a 10% tolerance: 31 against 30 leaves 4 replicas alone', async () => {
    // Prepare
    const policy = { ...shipped, rules: [...shipped.rules, ruleSchema.parse({ id: 'llm-per-replica', alert: 'LLMQueueLength', matchers: ['service=worker-llm'], target: 'worker-llm', action: { type: 'proportional', targetValue: 30 } })] };
    await start('2026-11-23T10:00:00-05:00', policy);
    await post('/tick');
    clock.advance(20 * 60);

    // Act
    await post('/webhook', alerts([{ alertname: 'LLMQueueLength', service: 'worker-llm', fingerprint: 'len', value: '31' }]));

    // Assess
    expect((await status('worker-llm')).desired).toBe(4);
  });

  it('HSOF emergency "scale to 2 replicas" pins its HPA, and resume gives it back', async () => {
    // Prepare
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'set', target: 'hsof', replicas: 5, reason: 'load', actor: 'oncall' });
    await post('/emergency', { action: 'resume', target: 'hsof', reason: 'load', actor: 'oncall' });

    // Act
    const pinned = await post('/emergency', { action: 'set', target: 'hsof', replicas: 2, reason: 'INC-10 rollback', actor: 'oncall' });

    // Assess
    expect(pinned).toMatchObject({ outcomes: [{ target: 'hsof', status: 'applied', decision: { from: 5, to: 2 } }] });
    expect(await status('hsof')).toMatchObject({ desired: 2, pause: { pinned: true } });

    // Act
    await post('/emergency', { action: 'resume', target: 'hsof', reason: 'INC-10 over', actor: 'oncall' });

    // Assess
    const released = await status('hsof');
    expect(released).toMatchObject({ desired: 2, pause: null });
    expect(released.lastDecisions[0]).toMatchObject({ code: 'Resumed' });
  });

  it('a pause shorter than an HPA\'s pin keeps the pin to its end; a longer one lengthens it', async () => {
    // Prepare: HSOF pinned at 2 for the policy's pinFor (1h)
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'set', target: 'hsof', replicas: 2, reason: 'INC-11 rollback', actor: 'oncall' });
    const pin = (await status('hsof')).pause;
    expect(pin).toMatchObject({ pinned: true, until: '2026-11-23T16:00:00.000Z' });

    // Act
    await post('/emergency', { action: 'pause', target: 'hsof', ttl: '10m', reason: 'quiet for the deploy', actor: 'oncall' });
    clock.advance(11 * 60);
    await post('/tick');

    // Assess: still pinned at 2 past the 10 minutes, and the answer said why
    const after = await status('hsof');
    expect(after).toMatchObject({ desired: 2, pause: { pinned: true, until: pin?.until } });
    expect(scaler?.decisions.findLast((d) => d.target === 'hsof' && d.reasons[0]?.code === 'PauseSet')?.reasons[0]?.message).toContain("asked 10m, but the HPA's pin lasts until then; resume releases it");

    // Act
    await post('/emergency', { action: 'pause', target: 'hsof', ttl: '2h', reason: 'longer', actor: 'oncall' });

    // Assess
    expect((await status('hsof')).pause).toMatchObject({ pinned: true, until: '2026-11-23T17:11:00.000Z' });
  });

  it('a pause sent after a pin ended, before the target\'s next reconcile, gives the HPA its range back', async () => {
    // Prepare: HSOF pinned at 5 for 10 minutes; the calls that pin or release its HPA
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    // The worker passes { pin } to the port (the Kubernetes adapter sets the HPA's bounds by it);
    // the simulated cluster takes the size alone.
    type WithPin = { scaleTo: (target: WorkloadTarget, desired: number, intentId?: string, options?: { pin?: boolean }) => Promise<void> };
    const pins: (boolean | undefined)[] = [];
    const cluster = scaler?.cluster as unknown as WithPin | undefined;
    const scaleTo = cluster?.scaleTo.bind(cluster);
    if (!cluster || !scaleTo) throw new Error('no cluster');
    cluster.scaleTo = async (target, desired, intentId, options) => {
      if (target.id === 'hsof') pins.push(options?.pin);
      return scaleTo(target, desired);
    };
    await post('/emergency', { action: 'set', target: 'hsof', replicas: 5, ttl: '10m', reason: 'INC-11', actor: 'oncall' });

    // Act: the pin ended at 15:10; the pause comes at 15:10:30, then two hours of ticks
    clock.advance(10 * 60 + 30);
    await post('/emergency', { action: 'pause', target: 'hsof', ttl: '10m', reason: 'quiet', actor: 'bob' });
    for (let minute = 0; minute < 120; minute++) {
      clock.advance(60);
      await post('/tick');
    }

    // Assess: pinned once, released once (by the pause's own decision), never pinned again
    expect(pins).toEqual([true, false]);
    expect(scaler?.decisions.find((d) => d.target === 'hsof' && d.reasons[0]?.code === 'PauseSet')).toMatchObject({ hpa: 'release' });
  });

  it('"immediately double capacity" on a GPU workload whose pool is paused scales the pods and says the extra ones wait for the pause', async () => {
    // Prepare: peak, worker-llm at 4 and worker-rl at 2 on gpu-pool's 2 nodes of 4 GPUs; the pool paused for an hour
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');
    await post('/emergency', { action: 'pause', target: 'gpu-pool', ttl: '1h', reason: 'node image rollout', actor: 'oncall' });

    // Act: a size its nodes carry (5 + 2 GPUs of 8)
    const fits = await post('/emergency', { action: 'set', target: 'worker-llm', replicas: 5, reason: 'INC-12', actor: 'oncall' });

    // Assess: no pod waits, so no warning
    expect(fits).toMatchObject({ outcomes: [{ status: 'applied', decision: { from: 4, to: 5 } }] });
    expect((fits.outcomes as { warning?: string }[])[0]).not.toHaveProperty('warning');

    // Act
    const doubled = await post('/emergency', { action: 'double', target: 'worker-llm', reason: 'INC-12', actor: 'oncall' });

    // Assess: the pods are doubled (to the max), the pool is not grown, and the decision says why some wait
    expect(doubled).toMatchObject({ outcomes: [{ target: 'worker-llm', status: 'applied', decision: { from: 5, to: 8 } }] });
    const note = scaler?.decisions.findLast((d) => d.target === 'worker-llm')?.reasons.find((r) => r.code === 'GpuCapacityRequested');
    expect(note?.message).toMatch(/^asked pool gpu-pool for \d+ node\(s\) \(has \d+\); the pods are scaled now, but the pool is paused until 2026-11-23T16:00:00.000Z: pods past its \d+ node\(s\) stay Pending until then \(resume gpu-pool to grow it now\)$/);
    expect((await status('gpu-pool')).pause).toMatchObject({ until: '2026-11-23T16:00:00.000Z' });
    // ...and so does the answer the operator reads, which carries the headline alone
    expect(doubled).toMatchObject({ outcomes: [{ warning: 'pool gpu-pool is paused until 2026-11-23T16:00:00.000Z and does not grow for it: it has 2 node(s) of the 3 its workloads need, and the pods past them stay Pending until then (resume gpu-pool to grow it now)' }] });

    // Act: worker-rl 2 -> 4 in one command with its pool, which grows with it (2 -> 4 nodes)
    const withPool = await post('/emergency', { action: 'set', targets: ['worker-rl', 'gpu-pool'], replicas: 4, reason: 'INC-12 both', actor: 'oncall' });

    // Assess: the pods fit, so no warning
    expect(withPool).toMatchObject({ outcomes: [{ target: 'worker-rl', decision: { from: 2, to: 4 } }, { target: 'gpu-pool', decision: { from: 2, to: 4 } }] });
    expect((withPool.outcomes as { warning?: string }[]).filter((o) => o.warning !== undefined)).toEqual([]);
  });

  it('an applied command whose paused-pool warning cannot be read still answers applied, without the warning', async () => {
    // Prepare: the pool paused; then the group's documents cannot be read once the double is decided (SSM throttled)
    const store = new MemoryStateStore();
    await start('2026-11-23T10:00:00-05:00', shipped, store);
    await post('/tick');
    await post('/emergency', { action: 'pause', target: 'gpu-pool', ttl: '1h', reason: 'node image rollout', actor: 'oncall' });
    const getMany = store.getMany.bind(store);
    const decided = async () => (await getMany(['worker-llm'])).get('worker-llm')?.desired === 8;
    store.getMany = async (targets) => (targets[0] === 'worker-llm' && targets.length > 1 && (await decided()) ? Promise.reject(new Error('ThrottlingException')) : getMany(targets));

    // Act
    const doubled = await post('/emergency', { action: 'double', target: 'worker-llm', reason: 'INC-12', actor: 'oncall' });

    // Assess
    expect(doubled).toMatchObject({ outcomes: [{ target: 'worker-llm', status: 'applied', decision: { from: 4, to: 8 } }] });
    expect((doubled.outcomes as { warning?: string }[])[0]).not.toHaveProperty('warning');
  });

  it('a scale-down held at the minimum is counted as held at the minimum, and a metric rule\'s cooldown shows', async () => {
    // Prepare
    await start('2026-11-23T10:00:00-05:00');
    await post('/tick');

    // Act
    await post('/webhook', alerts([{ alertname: 'APILowLoad', service: 'tensafe', fingerprint: 'low' }]));
    await post('/metrics', { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'tensafe-training-jobs' }, value: 3 });
    clock.advance(60);
    await post('/tick');

    // Assess
    const held = scaler?.decisions.findLast((d) => d.target === 'api');
    expect(held).toMatchObject({ verdict: 'hold', limitedBy: { code: 'ClampedToMin' }, cause: { code: 'ScaleDown' } });
    expect(held?.reasons[0]?.code).toBe('ClampedToMin');
    expect((await status('api')).lastDecisions[0]).toMatchObject({ code: 'ClampedToMin', cause: 'ScaleDown' });
    expect((await status('training-workers')).cooldowns).toMatchObject({ 'training-queue': 60 });
  });

  it('GPU services: an underused service waits its 10-minute stabilization window, then gives back at most half per minute (-50% per 60s)', async () => {
    // Prepare: embedding-service set to 6 by an operator, past its 10-minute scale-down delay
    await start('2026-11-23T11:00:00-05:00');
    await post('/emergency', { action: 'set', target: 'embedding-service', replicas: 6, reason: 'load test', actor: 'oncall' });
    clock.advance(11 * 60);

    // Act: the guide's scale-down (every metric below its target) asks for -5; the rules keep
    // asking through its 10-minute stabilization window
    await post('/webhook', alerts([{ alertname: 'EmbeddingUnderused', service: 'embedding-service', fingerprint: 'emb-under' }]));
    const waiting = await status('embedding-service');
    clock.advance(10 * 60);
    await post('/tick');

    // Assess: held while the window runs, then 6 -> 3, not 6 -> 2
    expect(waiting.desired).toBe(6);
    expect(waiting.lastDecisions[0]).toMatchObject({ code: 'Stabilizing', cause: 'ScaleDown' });
    expect((await status('embedding-service')).desired).toBe(3);
    expect((await status('embedding-service')).lastDecisions[0]).toMatchObject({ code: 'RateLimited', cause: 'ScaleDown', from: 6, to: 3 });
  });
});
