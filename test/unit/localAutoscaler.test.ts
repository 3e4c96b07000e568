import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { VISIBILITY_TIMEOUT_SECONDS } from '../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Intent } from '../../shared/domain/intent.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import type { StateStore } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';
import { alert, alertIntent, emergencyIntent } from '../support/intents.ts';
import { webhookPayload } from '../support/payloads.ts';

const policy = loadPolicyFile('policy.yaml');
const llmQueue = webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'f00d' }]);

describe('Class: LocalAutoscaler', () => {
  let clock: ManualClock;
  let autoscaler: LocalAutoscaler;
  let url: string;
  const lines: string[] = [];

  const get = async (path: string) => (await (await fetch(`${url}${path}`)).json()) as Record<string, unknown>;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeEach(async () => {
    // Prepare: Monday 10:00 in New York, inside the peak window
    clock = new ManualClock('2026-11-23T10:00:00-05:00');
    lines.length = 0;
    autoscaler = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), print: (l) => lines.push(l) });
    url = await autoscaler.listen(0);
  });

  afterEach(async () => {
    await autoscaler.close();
  });

  it('scales worker-llm and its GPU pool from a webhook, honouring the cooldown', async () => {
    // Act: the first tick enters the peak window
    await autoscaler.tick();

    // Assess
    expect(autoscaler.cluster.snapshot()).toMatchObject({
      app: { desired: 5 },
      'worker-llm': { desired: 4 },
      'worker-rl': { desired: 2 },
      'gpu-pool': { desired: 2 }, // 4 + 2 GPUs on 4-GPU nodes
    });

    // Act: the queue alert arrives right after the window's scaling: held by the cooldown
    const first = await post('/webhook', llmQueue);

    // Assess
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ received: 1, queued: [{ target: 'worker-llm', rules: ['llm-queue-buildup'] }], ignored: [] });
    expect(autoscaler.decisions.at(-1)).toMatchObject({ target: 'worker-llm', verdict: 'hold' });
    expect(autoscaler.decisions.at(-1)?.reasons[0]?.code).toBe('CooldownActive');

    // Act: ten minutes later the tick acts on the still-firing alert
    clock.advance(600);
    await autoscaler.tick();
    clock.advance(180);

    // Assess
    expect(autoscaler.cluster.snapshot()['worker-llm']).toEqual({ desired: 5, ready: 5, pending: 0 });
    expect(lines.some((l) => l.includes('worker-llm 4 -> 5 [ScaleUp] llm-queue-buildup'))).toBe(true);

    // Act
    const response = await fetch(`${url}/status`);
    const body = (await response.json()) as { targets: { id: string; alerts: unknown[]; cooldowns: Record<string, number>; lastDecisions: { code: string }[] }[] };
    const llm = body.targets.find((t) => t.id === 'worker-llm');

    // Assess
    expect(llm).toMatchObject({
      alerts: [{ alertname: 'LLMQueueBuildup', fingerprint: 'f00d' }],
      cooldowns: { 'llm-queue-buildup': 420 },
      // The peak entry's pods waited for the pool's second node, then followed.
      lastDecisions: [{ code: 'ScaleUp' }, { code: 'CooldownActive' }, { code: 'ScheduleEntry' }, { code: 'WaitingForNodes' }],
    });
  });

  it('answers an emergency pause and then holds alerts with reason Paused', async () => {
    // Prepare
    await autoscaler.tick();
    clock.advance(3600);

    // Act
    const pause = await post('/emergency', { action: 'pause', target: 'worker-llm', ttl: '30m', reason: 'INC-7 model rollout', actor: 'oncall' });
    await post('/webhook', llmQueue);

    // Assess
    expect(pause).toMatchObject({ status: 200, body: { outcomes: [{ target: 'worker-llm', status: 'applied', decision: { code: 'PauseSet' } }] } });
    expect(autoscaler.decisions.at(-1)).toMatchObject({ target: 'worker-llm', verdict: 'hold' });
    expect(autoscaler.decisions.at(-1)?.reasons[0]).toEqual({ code: 'Paused', message: 'paused until 2026-11-23T16:30:00.000Z: INC-7 model rollout' });
    expect(autoscaler.cluster.snapshot()['worker-llm']?.desired).toBe(4);
  });

  it('doubles on an emergency even inside a cooldown', async () => {
    // Prepare
    await autoscaler.tick();

    // Act
    const doubled = await post('/emergency', { action: 'double', target: 'app', reason: 'INC-8 latency', actor: 'oncall' });

    // Assess
    expect(doubled.body).toMatchObject({ outcomes: [{ decision: { code: 'EmergencyDouble', from: 5, to: 10 } }] });
    expect(autoscaler.cluster.snapshot().app?.desired).toBe(10);
  });

  it('scales the training workers and their GPU pool from the job queue metric', async () => {
    // Prepare
    await autoscaler.tick();
    const depth = (value: number) =>
      post('/metrics', { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'tensafe-training-jobs' }, value });

    // Act: six training jobs wait
    await depth(6);
    clock.advance(60);
    await autoscaler.tick();
    await autoscaler.tick();

    // Assess: 6 workers; the pool grows to carry 4 + 2 + 6 GPUs on 4-GPU nodes
    expect(autoscaler.cluster.snapshot()).toMatchObject({ 'training-workers': { desired: 6 }, 'gpu-pool': { desired: 3 } });
  });

  it('answers an emergency on one target while another one keeps failing, and retries that one after the visibility timeout', async () => {
    // Prepare: app's state cannot be read
    const broken = new Set(['app']);
    const inner = new MemoryStateStore();
    const store: StateStore = {
      getMany: async (ids) => {
        if (ids.some((id) => broken.has(id))) throw new Error('EACCES: permission denied, open app.json');
        return inner.getMany(ids);
      },
      list: () => inner.list(),
      put: (state) => inner.put(state),
    };
    await autoscaler.close();
    autoscaler = new LocalAutoscaler({ policy, clock, store, print: (l) => lines.push(l) });
    url = await autoscaler.listen(0);

    // Act
    const alerted = await post('/webhook', webhookPayload([{ alertname: 'AppHighCPU', labels: { service: 'app' } }]));
    const doubled = await post('/emergency', { action: 'double', target: 'api', reason: 'INC-9 latency', actor: 'oncall' });

    // Assess: the emergency is applied, app's message waits in flight
    expect(alerted.status).toBe(200);
    expect(doubled.body).toMatchObject({ outcomes: [{ target: 'api', status: 'applied', decision: { code: 'EmergencyDouble', from: 3, to: 6 } }] });
    expect(lines).toContain('2026-11-23T15:00:00.000Z app error (failed, receive 1, back to the queue): EACCES: permission denied, open app.json');
    expect(await get('/status')).toMatchObject({ queue: { messages: [{ target: 'app', receives: 1, inFlight: true }], deadLetters: [] } });

    // Act: mended; the next tick after the visibility timeout drains the queue
    broken.clear();
    clock.advance(VISIBILITY_TIMEOUT_SECONDS);
    await post('/tick', '');

    // Assess: app's alert decided on its second receive, then the tick's intent; nothing left in the queue
    expect(autoscaler.decisions.filter((d) => d.target === 'app').map((d) => d.source)).toEqual(['alert', 'tick']);
    expect(await get('/status')).toMatchObject({ queue: { messages: [], deadLetters: [] } });
  });

  it('moves a message that is not an intent to the dead-letter queue at once, alone, and says so', async () => {
    // Prepare: no timestamp the intent schema accepts, and an emergency queued behind it in app's group
    const stray: Intent = { ...alertIntent('app', [alert('AppHighCPU', ['app-high-cpu'])], clock.now(), 'stray-1'), createdAt: 'yesterday' };
    await autoscaler.queue.send([stray, { ...emergencyIntent('app', { action: 'set', replicas: 4 }, clock.now()), id: 'set-app-4' }]);

    // Act
    await post('/tick', '');

    // Assess: the stray dead-lettered on its first receive; the emergency behind it applied
    expect(lines.filter((l) => l.includes('is not an intent'))).toHaveLength(1);
    expect(lines).toContainEqual(expect.stringMatching(/ app intent stray-1 moved to the dead-letter queue after 1 receive$/));
    expect(await get('/status')).toMatchObject({ queue: { messages: [], deadLetters: [{ target: 'app', intent: 'stray-1', receives: 1 }] } });
    expect(autoscaler.decisions.find((d) => d.intentId === 'set-app-4')).toMatchObject({ verdict: 'scale', to: 4 });
  });

  it('goes on ticking on its timer after a tick that fails', async () => {
    // Prepare: the state store fails once; the timer is the test's
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const inner = new MemoryStateStore();
    let failures = 1;
    const store: StateStore = {
      getMany: (ids) => inner.getMany(ids),
      list: async () => {
        if (failures-- > 0) throw new Error('EIO: i/o error, scandir .local-state');
        return inner.list();
      },
      put: (state) => inner.put(state),
    };
    await autoscaler.close();
    let ticked: () => void = () => undefined;
    autoscaler = new LocalAutoscaler({
      policy,
      clock,
      store,
      print: (l) => {
        lines.push(l);
        if (l.includes(' tick: ')) ticked();
      },
    });

    try {
      // Act: the first tick, then the timer's next one
      await autoscaler.tickEvery(60_000);
      const next = new Promise<void>((resolve) => {
        ticked = resolve;
      });
      clock.advance(60);
      vi.advanceTimersByTime(60_000);
      await next;
    } finally {
      vi.useRealTimers();
    }

    // Assess
    expect(lines[0]).toBe('2026-11-23T15:00:00.000Z tick failed, the next one runs as usual: Error: EIO: i/o error, scandir .local-state');
    expect(lines.at(-1)).toMatch(new RegExp(`^2026-11-23T15:01:00.000Z tick: ${policy.targets.length} evaluated, ${policy.targets.length} queued \\| app 2/5, `));
    expect(autoscaler.cluster.snapshot().app?.desired).toBe(5);
  });

  it.each([
    { case: 'empty body', body: '', status: 400, error: 'empty body' },
    { case: 'not JSON', body: '{"version":', status: 400, error: 'body is not JSON' },
    { case: 'wrong version', body: JSON.stringify({ ...llmQueue, version: '3' }), status: 400, error: 'unsupported payload version "3"' },
    { case: 'alert without fingerprint', body: JSON.stringify({ ...llmQueue, alerts: [{ ...llmQueue.alerts[0], fingerprint: undefined }] }), status: 400, error: 'alerts.0.fingerprint' },
    { case: 'larger than 4 MiB', body: 'x'.repeat(4 * 1024 * 1024 + 1), status: 413, error: 'body larger than' },
  ])('rejects a webhook with $case: $status', async ({ body, status, error }) => {
    // Act
    const response = await post('/webhook', body);

    // Assess
    expect(response.status).toBe(status);
    expect(String(response.body.error)).toContain(error);
    expect(autoscaler.queue.sent).toBe(0);
  });

  it('acknowledges unknown alerts with a reason and queues nothing for them', async () => {
    // Act
    const response = await post('/webhook', webhookPayload([{ alertname: 'DiskFull' }, { alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' } }]));

    // Assess
    expect(response.body).toMatchObject({ received: 2, queued: [{ alertname: 'LLMQueueBuildup' }], ignored: [{ alertname: 'DiskFull', reason: 'NoRuleMatched' }] });
  });

  it('rejects a request without the bearer token when one is configured', async () => {
    // Prepare
    const guarded = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), token: 's3cret', print: () => undefined });
    const guardedUrl = await guarded.listen(0);

    // Act
    const denied = await fetch(`${guardedUrl}/webhook`, { method: 'POST', body: JSON.stringify(llmQueue) });
    const allowed = await fetch(`${guardedUrl}/webhook`, { method: 'POST', body: JSON.stringify(llmQueue), headers: { authorization: 'Bearer s3cret' } });
    await guarded.close();

    // Assess
    expect([denied.status, allowed.status]).toEqual([401, 200]);
  });

  it.each([
    { route: 'GET /status', tokens: { status: 200, webhook: 401 } },
    { route: 'POST /webhook', tokens: { status: 401, webhook: 200 } },
    { route: 'POST /emergency', tokens: { status: 401, webhook: 200 } },
    { route: 'POST /tick', tokens: { status: 401, webhook: 200 } },
    { route: 'POST /metrics', tokens: { status: 401, webhook: 200 } },
  ])('opens $route to $tokens with a status token of its own (--status-token)', async ({ route, tokens }) => {
    // Prepare
    const guarded = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), token: 's3cret', statusToken: 'read-only', print: () => undefined });
    const [method = '', path = ''] = route.split(' ');
    const bodies: Record<string, unknown> = {
      '/webhook': llmQueue,
      '/emergency': { action: 'evaluateNow', target: 'app', reason: 'check', actor: 'oncall' },
      '/metrics': { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', value: 1 },
    };
    const send = (token: string) => guarded.handle(method, path, { authorization: `Bearer ${token}` }, JSON.stringify(bodies[path] ?? {}));

    // Act
    const answers = { status: (await send('read-only')).statusCode, webhook: (await send('s3cret')).statusCode };
    await guarded.close();

    // Assess
    expect(answers).toEqual(tokens);
  });
});
