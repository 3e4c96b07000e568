import { describe, expect, it } from 'vitest';
import { webhookPayload } from '../support/payloads.ts';
import { deploy } from './support/deployment.ts';

/** Counts the SendMessageBatch entries per target the queue accepted. */
const entriesPerTarget = (world: Awaited<ReturnType<typeof deploy>>): Record<string, number> => {
  const counts: Record<string, number> = {};
  (world.clients.sqs.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: { input: { Entries?: { MessageBody: string }[] } }) => Promise<unknown>, context: { commandName: string }) =>
      async (args: { input: { Entries?: { MessageBody: string }[] } }) => {
        const output = await next(args);
        if (context.commandName === 'SendMessageBatchCommand') {
          for (const entry of args.input.Entries ?? []) {
            const target = (JSON.parse(entry.MessageBody) as { target: string }).target;
            counts[target] = (counts[target] ?? 0) + 1;
          }
        }
        return output;
      },
    { step: 'initialize', name: 'entriesPerTarget' },
  );
  return counts;
};

describe('the webhook under a burst, on the emulator', () => {
  // One intent per target and notification, at most 250 alerts each (an SQS message holds
  // 256 KiB): a thousand alerts are a handful of intents and SendMessageBatch calls.
  it('answers 2xx to 1,000 alerts in one notification and queues one intent per target and 250 alerts', async () => {
    // Prepare: 600 pods pending on the GPU pool, 400 of app's instances on high CPU
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const alerts = Array.from({ length: 1000 }, (_, i): { alertname: string; labels: Record<string, string>; fingerprint: string } =>
      i < 600
        ? { alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers', pod: `p${i}` }, fingerprint: `pod${i}` }
        : { alertname: 'AppHighCPU', labels: { service: 'app', instance: `i${i}` }, fingerprint: `cpu${i}` },
    );
    const entries = entriesPerTarget(world);

    // Act
    const response = await world.post(JSON.stringify(webhookPayload(alerts)));

    // Assess
    expect(response.statusCode).toBeGreaterThanOrEqual(200);
    expect(response.statusCode).toBeLessThan(300);
    expect(entries).toEqual({ 'gpu-pool': Math.ceil(600 / 250), app: Math.ceil(400 / 250) });
  }, 15_000);
});
