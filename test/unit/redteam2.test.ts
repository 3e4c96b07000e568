import '../support/awsClients.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { actorOfArn } from '../../bin/commands/service.ts';
import { BUNDLED_POLICY_FORMAT, loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { logger } from '../../shared/observability.ts';
import type { IntentQueue } from '../../shared/ports.ts';
import { importWebhook } from '../support/handlerModules.ts';
import { functionUrlEvent, lambdaContext } from '../support/lambda.ts';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { loadPolicyFile, parsePolicy } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';

// Red team, round 2: today's changes (retry backoff, rateLimit, bundled policy, compaction,
// webhook log / explain / emergency actor, zod/mini) attacked through `npm start`'s HTTP API.

const shippedText = readFileSync('policy.yaml', 'utf8');
const shipped = loadPolicyFile('policy.yaml');
/** The shipped policy with one textual edit (fails loudly if the text is not there). */
const variant = (from: string, to: string): Policy => {
  expect(shippedText.includes(from), `policy.yaml has ${from}`).toBe(true);
  return parsePolicy(shippedText.split(from).join(to), 'variant.yaml');
};

interface TargetView {
  id: string;
  desired: number | null;
  live: number | null;
  lastDecisions: { code: string; cause?: string; from: number; to: number; intent: string }[];
}

describe('red team 2', () => {
  let scaler: LocalAutoscaler | undefined;
  let url = '';
  let clock: ManualClock;
  let printed: string[] = [];

  const start = async (at: string, policy: Policy = shipped) => {
    clock = new ManualClock(at);
    printed = [];
    scaler = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), print: (l) => printed.push(l) });
    url = await scaler.listen(0);
  };
  const postRaw = async (path: string, body: unknown = {}, raw = false) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ? (body as string) : JSON.stringify(body) });
    const text = await response.text();
    let parsed: Record<string, any> = {};
    try { parsed = JSON.parse(text); } catch { parsed = { text }; }
    return { status: response.status, body: parsed };
  };
  const post = async (path: string, body: unknown = {}) => {
    const r = await postRaw(path, body);
    expect(r.status, `${path} ${JSON.stringify(body)} -> ${JSON.stringify(r.body)}`).toBe(200);
    return r.body;
  };
  const status = async (id: string): Promise<TargetView> => {
    const body = (await (await fetch(`${url}/status`)).json()) as { targets: TargetView[] };
    const view = body.targets.find((t) => t.id === id);
    if (!view) throw new Error(`no ${id} in /status`);
    return view;
  };
  const alerts = (list: { alertname: string; service?: string; fingerprint: string; status?: 'firing' | 'resolved' }[]) =>
    webhookPayload(list.map((a) => ({ alertname: a.alertname, labels: a.service ? { service: a.service } : ({} as Record<string, string>), fingerprint: a.fingerprint, ...(a.status ? { status: a.status } : {}) })));

  afterEach(async () => {
    await scaler?.close();
    scaler = undefined;
  });

  // Found by the red team: rounding a percent down-limit up let no replica go whenever
  // start x percent < 1 (-10% of 6 allowed 6, every minute).
  it('rateLimit: a small percent scale-down still lets a replica go each period (rounded down, as HPA does)', async () => {
    await start('2026-11-23T11:00:00-05:00', variant('down: [{ percent: 50, per: 60s }]', 'down: [{ percent: 10, per: 60s }]'));
    await post('/emergency', { action: 'set', target: 'embedding-service', replicas: 6, reason: 'load test', actor: 'oncall' });
    clock.advance(11 * 60);
    await post('/webhook', alerts([{ alertname: 'EmbeddingUnderused', service: 'embedding-service', fingerprint: 'emb-under' }]));
    // (past the 10-minute stabilization window)
    for (let minute = 0; minute < 12; minute += 1) {
      clock.advance(60);
      await post('/tick');
    }
    expect((await status('embedding-service')).desired).toBeLessThan(6);
  });

  // Found by the red team: the mark was a constant, so an edited file kept it; the build now
  // records a digest of what it validated.
  it('bundled policy: a dist/policy.json edited after the build (min > max, max a string) is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt2-policy-'));
    const path = join(dir, 'policy.json');
    const policy = structuredClone(shipped) as unknown as { targets: { id: string; min: unknown; max: unknown }[] };
    const app = policy.targets.find((t) => t.id === 'app');
    if (!app) throw new Error('no app in the shipped policy');
    app.min = 50;
    app.max = '3';
    writeFileSync(path, JSON.stringify({ format: BUNDLED_POLICY_FORMAT, source: 'policy.yaml', policy }));
    expect(() => loadBundledPolicy(path)).toThrow();
  });

  // Found by the red team: the session name alone let any role record itself as anyone.
  it('emergency --stage: the default actor keeps the role of an assumed-role session (a session name is chosen by its caller)', () => {
    const admin = actorOfArn('arn:aws:sts::123456789012:assumed-role/OnCallAdmin/jane');
    const other = actorOfArn('arn:aws:sts::123456789012:assumed-role/CiDeployRole/jane');
    expect(admin).not.toBe(other);
  });

  // Found by the red team: the size check counted characters, and CJK labels made a 450 KB line.
  it('webhook: a notification over 200,000 UTF-8 bytes is counted in the log, not logged past CloudWatch\'s event limit', async () => {
    const webhook = await importWebhook();
    const queue: IntentQueue = { send: async () => undefined };
    const handler = webhook.buildHandler({ policy: shipped, queue, clock: new ManualClock('2026-11-24T03:00:00-05:00'), token: async () => 'tok' });
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      const payload = webhookPayload([{ alertname: 'SomethingElse', labels: { note: '\u4e2d'.repeat(150_000) }, fingerprint: 'cjk' }]);
      const body = JSON.stringify(payload);
      expect(body.length).toBeLessThan(200_000);
      const result = (await handler(functionUrlEvent(body, { authorization: 'Bearer tok' }), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2;
      expect(result.statusCode).toBe(200);
      const logged = info.mock.calls.find((c) => c[0] === 'notification received');
      expect(logged).toBeDefined();
      const bytes = Buffer.byteLength(JSON.stringify({ level: 'INFO', message: logged?.[0], ...(logged?.[1] as object) }), 'utf8');
      expect(bytes).toBeLessThan(256 * 1024);
    } finally {
      info.mockRestore();
    }
  });

  // Found by the red team: returning a record that is not an intent returned the intents behind
  // it in its group too, each delivery counting against them, so they were dead-lettered with it.
  it('worker: one malformed record at the head of a group goes to the DLQ alone; the valid intent behind it is applied', async () => {
    await start('2026-11-24T03:00:00-05:00');
    await scaler?.tick();
    const good = { id: 'e-rt2-set-app', target: 'app', createdAt: clock.now().toISOString(), source: 'emergency', alerts: [], command: { action: 'set', replicas: 5 }, reason: 'INC-1', actor: 'oncall' };
    const bad = { id: 'e-rt2-bad', target: 'app', createdAt: clock.now().toISOString(), source: 'not-a-source' };
    await scaler?.queue.send([bad, good] as never);
    await scaler?.drain();
    const dead = scaler?.queue.snapshot().deadLetters.map((m) => m.intent) ?? [];
    expect(dead).toContain('e-rt2-bad');
    expect(dead).not.toContain('e-rt2-set-app');
    expect((await status('app')).desired).toBe(5);
  });
});
