import '../support/awsClients.ts';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryFifoQueue } from '../../shared/adapters/local/memoryFifoQueue.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { parseWebhookPayload, webhookPayloadSchema } from '../../shared/domain/alertmanager.ts';
import { type Intent, intentSchema } from '../../shared/domain/intent.ts';
import { MAX_DETAILS } from '../../shared/errors.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import type { IntentQueue } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';
import { functionUrlEvent, lambdaContext } from '../support/lambda.ts';
import { webhookPayload } from '../support/payloads.ts';

import { importWebhook, type WebhookModule } from '../support/handlerModules.ts';
type AlertSpec = Parameters<typeof webhookPayload>[0][number];

const policy = loadPolicyFile('policy.yaml');
const TOKEN = 'unit-webhook-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
// Tuesday 03:00 in New York: the off-peak window keeps every target at its minimum, so only alerts scale.
const OFF_PEAK = '2026-11-24T03:00:00-05:00';
const FUZZ_RUNS = 10_000;

let webhook: WebhookModule;

beforeAll(async () => {
  webhook = await importWebhook();
});

// ---------------------------------------------------------------------------------------------
// The two entry points: the Lambda function and the local runtime's HTTP server.

interface Answer {
  status: number;
  body: { error?: string; queued?: unknown[]; ignored?: { reason: string }[]; truncatedAlerts?: number };
  intents: Intent[];
}

/** The webhook Lambda with a queue that records what it is given. */
const lambdaWebhook = () => {
  const intents: Intent[] = [];
  const queue: IntentQueue = {
    send: async (batch) => {
      intents.push(...batch);
    },
  };
  const handler = webhook.buildHandler({ policy, queue, clock: new ManualClock(OFF_PEAK), token: async () => TOKEN });
  return async (body: string, headers: Record<string, string>): Promise<Answer> => {
    intents.length = 0;
    const result = (await handler(functionUrlEvent(body, headers), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2;
    return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? '{}') as Answer['body'], intents: [...intents] };
  };
};

/** The local runtime on loopback, past its first tick; `scaled` lists what the worker then did. */
const localWebhook = async () => {
  const autoscaler = new LocalAutoscaler({ policy, clock: new ManualClock(OFF_PEAK), store: new MemoryStateStore(), token: TOKEN, print: () => undefined });
  await autoscaler.tick();
  const sentBefore = autoscaler.queue.sent;
  const decided = autoscaler.decisions.length;
  const url = await autoscaler.listen(0);
  const post = async (body: string, headers: Record<string, string>) => {
    const response = await fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return {
      status: response.status,
      body: (await response.json()) as Answer['body'],
      // Intents the local queue took (one per target and notification, like the Lambda's)
      queued: autoscaler.queue.sent - sentBefore,
      scaled: autoscaler.decisions.slice(decided).filter((d) => d.verdict === 'scale').map((d) => `${d.target} ${d.from}->${d.to}`),
    };
  };
  return { post, close: () => autoscaler.close() };
};

// ---------------------------------------------------------------------------------------------
// Bodies

const llm: AlertSpec = { alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'a1b2c3d4e5f60718' };
const appCpu: AlertSpec = { alertname: 'AppHighCPU', labels: { service: 'app' }, fingerprint: '0f1e2d3c4b5a6978' };
const alertJson = (spec: AlertSpec) => webhookPayload([spec]).alerts[0];
const body = (alerts: AlertSpec[], fields: Record<string, unknown> = {}): string => JSON.stringify({ ...webhookPayload(alerts), ...fields });
const many = (count: number, spec: (i: number) => AlertSpec): AlertSpec[] => Array.from({ length: count }, (_, i) => spec(i));
const unknownAlert = (i: number): AlertSpec => ({ alertname: 'NodeDiskFull', labels: { instance: `node-${i}:9100`, device: '/dev/nvme0n1' }, fingerprint: `d15c${i.toString(16).padStart(12, '0')}` });
const llmOnPod = (i: number): AlertSpec => ({ ...llm, labels: { service: 'worker-llm', pod: `worker-llm-${i}` }, fingerprint: `11a${i.toString(16).padStart(13, '0')}` });

const LLM_UP = 'worker-llm 2->3';
const APP_UP = 'app 2->3';

interface Row {
  case: string;
  body: string;
  headers?: Record<string, string>;
  status: number;
  /** Part of the error message of a 4xx. */
  error?: string;
  /** Intents queued, one per (target, alert). */
  queued: number;
  /** Intents sent, when not one per queued alert. */
  intents?: number;
  ignored?: Record<string, number>;
  truncatedAlerts?: number;
  /** What the worker then did, as `target from->to`. */
  scaled: string[];
}

const rejected: Row[] = [
  { case: 'an empty body', body: '', status: 400, error: 'empty body', queued: 0, scaled: [] },
  { case: 'only whitespace', body: ' \n\t', status: 400, error: 'empty body', queued: 0, scaled: [] },
  { case: 'a body that is not JSON', body: '{"version":"4","alerts":[', status: 400, error: 'body is not JSON', queued: 0, scaled: [] },
  { case: 'a form-encoded body', body: 'version=4&status=firing', status: 400, error: 'body is not JSON', queued: 0, scaled: [] },
  { case: 'JSON null', body: 'null', status: 400, error: 'not an Alertmanager v4 payload: (root)', queued: 0, scaled: [] },
  { case: 'a bare list of alerts', body: JSON.stringify(webhookPayload([llm]).alerts), status: 400, error: '(root): Invalid input: expected object', queued: 0, scaled: [] },
  { case: 'alerts that are not a list', body: body([], { alerts: { 0: alertJson(llm) } }), status: 400, error: 'alerts: Invalid input: expected array', queued: 0, scaled: [] },
  { case: 'an alert without alertname', body: body([], { alerts: [{ ...alertJson(llm), labels: { service: 'worker-llm' } }] }), status: 400, error: 'alerts.0.labels: every alert needs an alertname label', queued: 0, scaled: [] },
  { case: 'an alert without fingerprint', body: body([], { alerts: [{ ...alertJson(llm), fingerprint: undefined }] }), status: 400, error: 'alerts.0.fingerprint', queued: 0, scaled: [] },
  { case: 'label values that are not strings', body: body([], { alerts: [{ ...alertJson(llm), labels: { alertname: 'LLMQueueBuildup', replicas: 3 } }] }), status: 400, error: 'alerts.0.labels.replicas', queued: 0, scaled: [] },
  { case: 'version "3"', body: body([llm], { version: '3' }), status: 400, error: 'unsupported payload version "3", expected "4"', queued: 0, scaled: [] },
  { case: 'version 4 as a number', body: body([llm], { version: 4 }), status: 400, error: 'unsupported payload version 4, expected "4"', queued: 0, scaled: [] },
  { case: 'a negative truncatedAlerts', body: body([llm], { truncatedAlerts: -1 }), status: 400, error: 'truncatedAlerts', queued: 0, scaled: [] },
  { case: 'a startsAt that is no time', body: body([{ ...llm, startsAt: 'yesterday' }]), status: 400, error: 'alerts.0.startsAt', queued: 0, scaled: [] },
  {
    case: 'a startsAt past the year 9999 once in UTC, which no Alertmanager can send',
    body: body([{ ...llm, startsAt: '9999-12-31T23:30:00-01:00' }]),
    status: 400,
    error: 'alerts.0.startsAt',
    queued: 0,
    scaled: [],
  },
  { case: 'a wrong bearer token', body: body([llm]), headers: { authorization: 'Bearer not-the-token' }, status: 401, error: 'missing or wrong bearer token', queued: 0, scaled: [] },
  { case: 'no Authorization header', body: body([llm]), headers: {}, status: 401, error: 'missing or wrong bearer token', queued: 0, scaled: [] },
  { case: '20,000 alerts: more than 4 MiB', body: body(many(20_000, unknownAlert)), status: 413, error: 'larger than 4194304', queued: 0, scaled: [] },
];

const oddLabels = {
  service: 'worker-llm',
  pod: 'wörker-llm-0 🚀',
  'quote"key': 'a"b\\c',
  newline: 'x\ny',
  'with space': '',
  constructor: 'c',
  ['__proto__']: 'p',
};

const acknowledged: Row[] = [
  { case: 'unknown alert names', body: body([{ alertname: 'NodeDiskFull' }, { alertname: 'Watchdog' }]), status: 200, queued: 0, ignored: { NoRuleMatched: 2 }, scaled: [] },
  {
    case: 'a known name whose labels miss the matcher, beside a valid alert',
    body: body([
      { ...llm, labels: { service: 'worker-llm ' }, fingerprint: '1' },
      { ...llm, labels: { service: 'WORKER-LLM' }, fingerprint: '2' },
      { ...llm, labels: {}, fingerprint: '3' },
      llm,
    ]),
    status: 200,
    queued: 1,
    ignored: { NoRuleMatched: 3 },
    scaled: [LLM_UP],
  },
  { case: 'labels with odd names and characters', body: body([{ ...llm, labels: oddLabels }]), status: 200, queued: 1, scaled: [LLM_UP] },
  { case: 'truncatedAlerts > 0: acts on what it was sent and reports the rest', body: body([llm], { truncatedAlerts: 7 }), status: 200, queued: 1, truncatedAlerts: 7, scaled: [LLM_UP] },
  { case: 'a resolve for an alert never seen', body: body([{ ...llm, status: 'resolved' }]), status: 200, queued: 1, scaled: [] },
  { case: 'one fingerprint twice in a payload', body: body([llm, llm, appCpu]), status: 200, queued: 2, ignored: { DuplicateInPayload: 1 }, scaled: [APP_UP, LLM_UP] },
  { case: 'a startsAt far in the past (Go\'s zero time)', body: body([{ ...llm, startsAt: '0001-01-01T00:00:00Z' }, appCpu]), status: 200, queued: 2, scaled: [APP_UP, LLM_UP] },
  { case: 'a startsAt far in the future', body: body([{ ...llm, startsAt: '9999-12-31T23:59:59.999999999Z' }, appCpu]), status: 200, queued: 2, scaled: [APP_UP, LLM_UP] },
  { case: 'fields a newer Alertmanager may add', body: body([llm], { schemaHints: { v: 5 }, alerts: [{ ...alertJson(llm), silencedBy: [] }] }), status: 200, queued: 1, scaled: [LLM_UP] },
  { case: '3,000 alerts, one of them the policy\'s', body: body([...many(2_999, unknownAlert), llm]), status: 200, queued: 1, ignored: { NoRuleMatched: 2_999 }, scaled: [LLM_UP] },
  // One intent per target and notification, 250 alerts each (an SQS message holds 256 KiB)
  { case: '2,000 alerts for one target: one step, the rest inside its cooldown', body: body(many(2_000, llmOnPod)), status: 200, queued: 2_000, intents: 8, scaled: [LLM_UP] },
];

const countReasons = (ignored: { reason: string }[] = []): Record<string, number> =>
  ignored.reduce<Record<string, number>>((counts, i) => ({ ...counts, [i.reason]: (counts[i.reason] ?? 0) + 1 }), {});

describe('Bad input: the webhook Lambda and the local runtime answer alike', () => {
  it.each([...rejected, ...acknowledged])('$case: $status', async (row) => {
    // Prepare
    const lambda = lambdaWebhook();
    const local = await localWebhook();
    const headers = row.headers ?? AUTH;

    // Act
    const fromLambda = await lambda(row.body, headers);
    const fromLocal = await local.post(row.body, headers).finally(() => local.close());

    // Assess
    for (const answer of [fromLambda, fromLocal]) {
      expect(answer.status).toBe(row.status);
      if (row.error !== undefined) expect(answer.body.error).toContain(row.error);
      expect(answer.body.queued ?? []).toHaveLength(row.queued);
      expect(countReasons(answer.body.ignored)).toEqual(row.ignored ?? {});
      if (row.truncatedAlerts !== undefined) expect(answer.body.truncatedAlerts).toBe(row.truncatedAlerts);
    }
    expect(fromLambda.intents).toHaveLength(row.intents ?? row.queued);
    expect(fromLambda.intents.filter((i) => !intentSchema.safeParse(i).success)).toEqual([]);
    expect(fromLocal.queued).toBe(row.intents ?? row.queued);
    expect(fromLocal.scaled.sort()).toEqual(row.scaled);
  });
});

// ---------------------------------------------------------------------------------------------
// Answer size

describe('A 400 stays small however broken the body', () => {
  it('answers 150,000 empty alerts with the first 20 problems and the count of the rest', { timeout: 60_000 }, async () => {
    // Prepare: 450 KB, four problems per alert
    const text = JSON.stringify({ ...webhookPayload([]), alerts: Array.from({ length: 150_000 }, () => ({})) });
    const lambda = lambdaWebhook();
    const local = await localWebhook();

    // Act
    const fromLambda = await lambda(text, AUTH);
    const fromLocal = await local.post(text, AUTH).finally(() => local.close());

    // Assess
    for (const answer of [fromLambda, fromLocal]) {
      const answered = answer.body as { error: string; details: string[]; moreIssues: number };
      expect(answer.status).toBe(400);
      expect(Buffer.byteLength(JSON.stringify(answered))).toBeLessThan(4 * 1024);
      expect(answered.details).toHaveLength(MAX_DETAILS);
      expect(answered.details[0]).toBe('alerts.0.status: Invalid option: expected one of "firing"|"resolved"');
      expect(answered.moreIssues).toBe(4 * 150_000 - MAX_DETAILS);
      expect(answered.error).toBe(`not an Alertmanager v4 payload: ${answered.details[0]}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz

/** What the policy's rules and vetoes select, read as equality matchers: the oracle's side. */
const selectors = [...policy.rules.map((r) => ({ id: r.id, alert: r.alert, matchers: r.matchers, targets: [r.target] })), ...policy.vetoes.map((v) => ({ id: v.id, alert: v.alert, matchers: v.matchers, targets: v.targets }))];

const labelOf = (labels: Record<string, unknown>, name: string): unknown => (Object.hasOwn(labels, name) ? labels[name] : '');

/** The intents a well-formed alert must yield, keyed as the queue will show them. */
const expectedIntents = (alert: { labels: Record<string, unknown>; fingerprint: string; status: string; startsAt: string }): string[] => {
  const rulesByTarget = new Map<string, string[]>();
  for (const s of selectors) {
    if (s.alert !== alert.labels.alertname || !s.matchers.every((m) => labelOf(alert.labels, m.label) === m.value)) continue;
    for (const target of s.targets) rulesByTarget.set(target, [...(rulesByTarget.get(target) ?? []), s.id]);
  }
  return [...rulesByTarget].map(([target, ids]) => intentKey(target, alert.fingerprint, alert.status, Date.parse(alert.startsAt), ids));
};

const intentKey = (target: string, fingerprint: string, status: string, startsAt: number, rules: readonly string[]): string =>
  JSON.stringify([target, fingerprint, status, startsAt, [...rules].sort()]);

const queuedKeys = (intents: readonly Intent[]): string[] =>
  intents.flatMap((i) => i.alerts.map((a) => intentKey(i.target, a.fingerprint, a.status, Date.parse(a.startsAt), a.rules)));

const oddText = fc.string({ unit: 'binary', maxLength: 12 });
const labelValue = fc.oneof(fc.constantFrom('worker-llm', 'app', 'gpu-workers', 'tensafe', 'hsof', 'worker-rl', 'worker-llm ', 'WORKER-LLM', ''), oddText);

/** An alert the policy selects, one it almost selects, or one it has never heard of. */
const labelsArb = fc.oneof(
  fc.constantFrom(...selectors).chain((s) =>
    fc.record({
      base: fc.constant({ alertname: s.alert, ...Object.fromEntries(s.matchers.map((m) => [m.label, m.value])) }),
      tweak: fc.option(fc.record({ label: fc.constantFrom('service', 'nodegroup', 'alertname'), value: labelValue }), { nil: undefined }),
    }).map(({ base, tweak }) => (tweak ? { ...base, [tweak.label]: tweak.value } : base)),
  ),
  fc.record({ alertname: fc.oneof(oddText, fc.constantFrom('Watchdog', 'InfoInhibitor', 'llmqueuebuildup')), service: labelValue }),
);

/** Mostly recent times, some anywhere in 0000-9999, a few at the edges, and rarely one that is no storable time. */
const timestampArb = fc.oneof(
  { weight: 12, arbitrary: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 3, arbitrary: fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 2, arbitrary: fc.constantFrom('0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '2026-11-23T15:00:00.123456789+05:30', '2026-11-23') },
  { weight: 1, arbitrary: fc.constantFrom('9999-12-31T23:30:00-01:00', '0000-01-01T00:30:00+01:00', 'yesterday', '') },
);

const alertArb = fc.record(
  {
    status: fc.constantFrom('firing', 'resolved'),
    labels: fc.tuple(labelsArb, fc.dictionary(oddText, oddText, { maxKeys: 3 })).map(([labels, extra]) => ({ ...extra, ...labels })),
    annotations: fc.dictionary(fc.constantFrom('value', 'summary', 'runbook_url'), fc.oneof(fc.double().map(String), oddText), { maxKeys: 2 }),
    startsAt: timestampArb,
    endsAt: fc.constantFrom('0001-01-01T00:00:00Z', '2026-11-23T16:00:00Z'),
    generatorURL: fc.constant('http://127.0.0.1:9090/graph'),
    fingerprint: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('f00d', 'beef', 'a1b2c3d4e5f60718') },
      { weight: 4, arbitrary: fc.stringMatching(/^[0-9a-f]{16}$/) },
      { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
    ),
  },
  { requiredKeys: ['status', 'labels', 'startsAt', 'fingerprint'] },
);

const payloadArb = fc.record({
  version: fc.oneof({ weight: 9, arbitrary: fc.constant<unknown>('4') }, { weight: 1, arbitrary: fc.constantFrom<unknown>('3', '5', 4, null) }),
  groupKey: fc.constant('{}:{alertname="fuzz"}'),
  truncatedAlerts: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 1_000 }) }),
  status: fc.constantFrom('firing', 'resolved'),
  receiver: fc.constant('gpu-autoscaler'),
  groupLabels: fc.dictionary(oddText, oddText, { maxKeys: 2 }),
  commonLabels: fc.constant({}),
  commonAnnotations: fc.constant({}),
  externalURL: fc.constant('http://127.0.0.1:9093'),
  alerts: fc.array(alertArb, { maxLength: 12 }),
});

/** Mostly payloads, some with a field replaced by any JSON, some cut short or corrupted, some not JSON at all. */
const bodyArb = fc.oneof(
  { weight: 6, arbitrary: payloadArb.map((p) => JSON.stringify(p)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(payloadArb, fc.constantFrom('version', 'status', 'alerts', 'truncatedAlerts', 'groupLabels'), fc.jsonValue())
      .map(([p, field, value]) => JSON.stringify({ ...p, [field]: value })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(payloadArb, fc.nat(), fc.string({ unit: 'binary', maxLength: 3 })).map(([p, at, junk]) => {
      const text = JSON.stringify(p);
      const cut = at % (text.length + 1);
      return `${text.slice(0, cut)}${junk}${text.slice(cut + junk.length)}`;
    }),
  },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

const wellFormedAlerts = (text: string): Parameters<typeof expectedIntents>[0][] => {
  const parsed = JSON.parse(text) as { alerts: Parameters<typeof expectedIntents>[0][] };
  return parsed.alerts;
};

describe('Fuzz: generated bodies', () => {
  it('reads the policy as its oracle does: every matcher an equality', () => {
    // Assess
    expect(selectors.flatMap((s) => s.matchers).filter((m) => m.op !== '=')).toEqual([]);
  });

  it('validates alert by alert as one safeParse of the whole payload does: same data, same first issues, same count', { timeout: 60_000 }, () => {
    // Prepare
    const json = bodyArb.chain((text) => {
      try {
        return fc.constant<unknown>(JSON.parse(text));
      } catch {
        return fc.constant<unknown>(text);
      }
    });
    const brief = (issues: readonly { path: readonly PropertyKey[]; message: string }[]) => issues.map((i) => ({ path: i.path, message: i.message }));

    // Assess
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 5 }), (value, keep) => {
        const whole = webhookPayloadSchema.safeParse(value);
        const byAlert = parseWebhookPayload(value, keep);
        if (whole.success) expect(byAlert).toEqual({ success: true, data: whole.data });
        else expect(byAlert).toEqual({ success: false, issues: expect.anything(), issueCount: whole.error.issues.length });
        if (!whole.success && !byAlert.success) expect(brief(byAlert.issues)).toEqual(brief(whole.error.issues.slice(0, keep)));
      }),
      { numRuns: 2_000 },
    );
  });

  it(`answers ${FUZZ_RUNS} bodies without a 5xx, an unexpected intent or a lost alert`, { timeout: 60_000 }, async () => {
    // Prepare
    const post = lambdaWebhook();
    const tally = { bodies: 0, answered2xx: 0, answered4xx: 0, answered5xx: 0, intents: 0, unexpected: 0, lost: 0, invalidIntents: 0 };

    // Act
    await fc.assert(
      fc.asyncProperty(bodyArb, async (text) => {
        const answer = await post(text, AUTH);
        const queued = queuedKeys(answer.intents);
        const expected = answer.status === 200 ? new Set(wellFormedAlerts(text).flatMap(expectedIntents)) : new Set<string>();
        const unexpected = queued.filter((key) => !expected.has(key)).length;
        const lost = [...expected].filter((key) => !queued.includes(key)).length;
        const invalid = answer.intents.filter((i) => !intentSchema.safeParse(i).success).length;
        tally.bodies += 1;
        tally.intents += answer.intents.length;
        if (answer.status >= 500) tally.answered5xx += 1;
        else if (answer.status >= 400) tally.answered4xx += 1;
        else tally.answered2xx += 1;
        tally.unexpected += unexpected;
        tally.lost += lost;
        tally.invalidIntents += invalid;
        return answer.status < 500 && unexpected === 0 && lost === 0 && invalid === 0;
      }),
      { numRuns: FUZZ_RUNS },
    );
    console.info(`webhook fuzz: ${JSON.stringify(tally)}`);

    // Assess
    expect(tally).toMatchObject({ bodies: FUZZ_RUNS, answered5xx: 0, unexpected: 0, lost: 0, invalidIntents: 0 });
    expect(tally.answered2xx).toBeGreaterThan(FUZZ_RUNS / 4);
  });
});
