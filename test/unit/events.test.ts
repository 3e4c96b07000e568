import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEmergencyRequest } from '../../shared/app/emergency.ts';
import { parseWebhookBody } from '../../shared/app/receiveAlerts.ts';
import { intentSchema } from '../../shared/domain/intent.ts';
import { routeAlert } from '../../shared/domain/matching.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';

const policy = loadPolicyFile('policy.yaml');
const samples = (dir: string) => readdirSync(join('events', dir)).map((name) => ({ name, text: readFileSync(join('events', dir, name), 'utf8') }));

// The samples in events/ are what the README and `serverless invoke local` use: they must stay valid.
describe('Sample events', () => {
  it.each(samples('alertmanager'))('alertmanager/$name is a v4 payload the shipped policy routes', ({ text }) => {
    const payload = parseWebhookBody(text);
    expect(payload.alerts.every((a) => routeAlert(policy, a.labels).size > 0)).toBe(true);
  });

  it.each(samples('emergency'))('emergency/$name is a valid emergency request', ({ text }) => {
    expect(() => parseEmergencyRequest(JSON.parse(text))).not.toThrow();
  });

  it('carries a valid webhook body in the Function URL sample', () => {
    const [sample] = samples('alertmanager-webhook');
    expect(parseWebhookBody((JSON.parse(sample?.text ?? '{}') as { body: string }).body).alerts).toHaveLength(1);
  });

  it('carries a valid intent in the SQS sample', () => {
    const [sample] = samples('scaling-worker');
    const event = JSON.parse(sample?.text ?? '{}') as { Records: { body: string }[] };
    expect(intentSchema.parse(JSON.parse(event.Records[0]?.body ?? '')).target).toBe('gpu-pool');
  });

  it('queues the pause sample as an intent the worker reads back, its ttl in seconds', () => {
    // Prepare
    const request = parseEmergencyRequest(JSON.parse(readFileSync(join('events', 'emergency', 'pause.json'), 'utf8')));
    const queued = JSON.stringify({ id: 'e-1', target: 'api', createdAt: '2026-11-23T15:00:00.000Z', source: 'emergency', command: request.command, reason: request.reason });

    // Act
    const intent = intentSchema.parse(JSON.parse(queued));

    // Assess
    expect(intent.command).toEqual({ action: 'pause', ttl: 3600 });
  });

  it('refuses a pause whose ttl is a bare number: the operator writes 1h or 3600s', () => {
    expect(() => parseEmergencyRequest({ action: 'pause', target: 'api', ttl: 3600, reason: 'INC-42', actor: 'oncall' })).toThrow(
      'invalid emergency request: ttl: expected a duration such as 90s, 10m, 1h or 2d, got the number 3600 (write 3600s)',
    );
  });
});
