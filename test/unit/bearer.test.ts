import '../support/awsClients.ts';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { bearerCredentials, MAX_AUTHORIZATION_LENGTH } from '../../shared/http.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { functionUrlEvent, lambdaContext } from '../support/lambda.ts';
import { webhookPayload } from '../support/payloads.ts';

import { importWebhook, type WebhookModule } from '../support/handlerModules.ts';

const policy = loadPolicyFile('policy.yaml');
const TOKEN = 'unit-webhook-token';
const BODY = JSON.stringify(webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'f00d' }]));
/** The token behind 100,000 spaces: it would match if the header were parsed at all. */
const PADDED = `Bearer ${' '.repeat(100_000)}${TOKEN}`;
/**
 * What made the former pattern, /^Bearer\s+(.+)$/i, quadratic: a run of whitespace, then a line
 * break after the first character that is not. Every split of the run was tried to its end.
 */
const adversarial = (length: number) => `Bearer ${'\t'.repeat(length)}x\nx`;
const ADVERSARIAL = adversarial(100_000);

let webhook: WebhookModule;

beforeAll(async () => {
  webhook = await importWebhook();
});

describe('Function: bearerCredentials', () => {
  it.each([
    { header: `Bearer ${TOKEN}`, expected: TOKEN },
    { header: `bearer ${TOKEN}`, expected: TOKEN },
    { header: `BEARER\t${TOKEN}`, expected: TOKEN },
    { header: `  Bearer \u00a0 ${TOKEN}  `, expected: TOKEN },
    { header: 'Bearer a b', expected: 'a b' },
    { header: undefined, expected: undefined },
    { header: '', expected: undefined },
    { header: 'Bearer', expected: undefined },
    { header: 'Bearer    ', expected: undefined },
    { header: `Bearer${TOKEN}`, expected: undefined },
    { header: `Basic ${TOKEN}`, expected: undefined },
    { header: `Token Bearer ${TOKEN}`, expected: undefined },
    { header: `Bearer ${TOKEN}\nX-Injected: 1`, expected: undefined },
  ])('reads $header as $expected', ({ header, expected }) => {
    // Act
    const credentials = bearerCredentials(header);

    // Assess
    expect(credentials).toBe(expected);
  });

  it('answers as the former pattern did on every header up to the cap', () => {
    // Prepare: headers made of the pieces that pattern cared about
    const piece = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', ' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\ufeff', 'a', TOKEN, '=');
    const header = fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join(''));
    const former = (text: string) => /^Bearer\s+(.+)$/i.exec(text.trim())?.[1];

    // Assess
    fc.assert(fc.property(header, (text) => bearerCredentials(text) === former(text)), { numRuns: 5_000 });
  });

  it(`reads a header of exactly ${MAX_AUTHORIZATION_LENGTH} characters and refuses one character more`, () => {
    // Prepare
    const atCap = `Bearer ${' '.repeat(MAX_AUTHORIZATION_LENGTH - 7 - TOKEN.length)}${TOKEN}`;

    // Act
    const read = [bearerCredentials(atCap), bearerCredentials(` ${atCap}`)];

    // Assess
    expect(atCap).toHaveLength(MAX_AUTHORIZATION_LENGTH);
    expect(read).toEqual([TOKEN, undefined]);
  });

  it.each([
    { case: 'a 100,000-character header that ends with the token', header: PADDED },
    { case: 'a 100,000-character run of tabs before a line break', header: ADVERSARIAL },
  ])('refuses $case unread', ({ header }) => {
    // Assess
    expect(header.length).toBeGreaterThan(100_000);
    expect(bearerCredentials(header)).toBeUndefined();
  });
});

describe('Middleware: bearerAuth, in the webhook Lambda and the local runtime', () => {
  /** The webhook Lambda, counting its token reads (in Lambda each may be an SSM and KMS call) and queued intents. */
  const lambdaWebhook = () => {
    const counts = { tokenReads: 0, queued: 0 };
    const handler = webhook.buildHandler({
      policy,
      clock: new ManualClock('2026-11-24T03:00:00-05:00'),
      queue: { send: async (intents) => void (counts.queued += intents.length) },
      token: async () => {
        counts.tokenReads += 1;
        return TOKEN;
      },
    });
    const post = async (authorization: string) => {
      const result = (await handler(functionUrlEvent(BODY, { authorization }), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2;
      return { status: result.statusCode, error: (JSON.parse(result.body ?? '{}') as { error?: string }).error };
    };
    return { post, counts };
  };

  it.each([
    { case: 'the token behind 100,000 spaces', authorization: PADDED, status: 401, tokenReads: 0, queued: 0 },
    { case: 'a 100,000-character run of tabs before a line break', authorization: ADVERSARIAL, status: 401, tokenReads: 0, queued: 0 },
    { case: 'the same run within the cap', authorization: adversarial(MAX_AUTHORIZATION_LENGTH - 10), status: 401, tokenReads: 0, queued: 0 },
    { case: 'another scheme', authorization: `Basic ${TOKEN}`, status: 401, tokenReads: 0, queued: 0 },
    { case: 'a wrong token', authorization: 'Bearer not-the-token', status: 401, tokenReads: 1, queued: 0 },
    { case: 'the token', authorization: `Bearer ${TOKEN}`, status: 200, tokenReads: 1, queued: 1 },
  ])('answers $status to $case after $tokenReads token read(s)', async ({ authorization, status, tokenReads, queued }) => {
    // Prepare
    const lambda = lambdaWebhook();

    // Act
    const answer = await lambda.post(authorization);

    // Assess
    expect(answer.status).toBe(status);
    if (status === 401) expect(answer.error).toBe('missing or wrong bearer token');
    expect(lambda.counts).toEqual({ tokenReads, queued });
  });

  it.each([
    { case: 'the token behind 100,000 spaces', authorization: PADDED },
    { case: 'a 100,000-character run of tabs before a line break', authorization: ADVERSARIAL },
  ])('refuses $case in the local runtime too', async ({ authorization }) => {
    // Prepare
    const local = new LocalAutoscaler({ policy, clock: new ManualClock('2026-11-24T03:00:00-05:00'), store: new MemoryStateStore(), token: TOKEN, print: () => undefined });

    // Act
    const answer = await local.handle('POST', '/webhook', { authorization }, BODY);

    // Assess
    expect(answer.statusCode).toBe(401);
    expect(local.queue.sent).toBe(0);
  });
});
