import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { SqsIntentQueue } from '../../shared/adapters/aws/sqsIntentQueue.ts';
import { SsmTickRecordStore } from '../../shared/adapters/aws/ssmTickRecordStore.ts';
import { ssmToken } from '../../shared/adapters/aws/webhookToken.ts';
import { CloudWatchMetricSource } from '../../shared/adapters/aws/cloudWatchMetricSource.ts';
import { SsmStateStore } from '../../shared/adapters/aws/ssmStateStore.ts';
import { fifoGroupOf } from '../../shared/app/gpuView.ts';
import type { TickRecordStore } from '../../shared/ports.ts';
import { functionUrlEvent, lambdaContext } from '../support/lambda.ts';
import { webhookPayload } from '../support/payloads.ts';
import { quietLogs } from './support/quietLogs.ts';
import { deploy, STATUS_TOKEN, TOKEN } from './support/deployment.ts';

// Red team 3: the bearer token read with the function's own SSM client, and prom-client loaded
// lazily, through the Lambda handlers on the moto emulator. These held.

const body = JSON.stringify(webhookPayload([{ alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers' }, fingerprint: 'gpu1' }]));

describe('red team 3 (Lambda handlers on moto)', () => {
  quietLogs();

  it('holds: webhook token rotation within the minute, a missing parameter (5xx, not cached) and concurrent first requests (one read)', async () => {
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const { buildHandler } = await import('../../functions/alertmanager-webhook/handler.ts');
    let now = 0;
    const missing = `${world.tokenName}-absent`;
    const make = (name: string) =>
      buildHandler({ policy: world.policy, queue: new SqsIntentQueue(world.clients.sqs, world.queueUrl, fifoGroupOf(world.policy)), clock: world.clock, token: ssmToken(world.clients.ssm, name, () => now) });
    const call = async (handler: ReturnType<typeof make>, token: string) =>
      ((await handler(functionUrlEvent(body, { authorization: `Bearer ${token}` }), lambdaContext('alertmanager-webhook'))) as { statusCode: number }).statusCode;

    // concurrent first requests share one GetParameter
    const webhook = make(world.tokenName);
    world.clients.resetCalls();
    expect(await Promise.all([call(webhook, TOKEN), call(webhook, TOKEN), call(webhook, 'wrong')])).toEqual([200, 200, 401]);
    expect(world.clients.calls.GetParameterCommand).toBe(1);
    // rotation: the old token works until the minute is over, then only the new one
    await world.clients.ssm.send(new PutParameterCommand({ Name: world.tokenName, Value: 'rotated-token-000000', Type: 'SecureString', Overwrite: true }));
    now = 59_000;
    expect([await call(webhook, TOKEN), await call(webhook, 'rotated-token-000000')]).toEqual([200, 401]);
    now = 60_000;
    expect([await call(webhook, TOKEN), await call(webhook, 'rotated-token-000000')]).toEqual([401, 200]);
    // a missing parameter: 5xx (Alertmanager retries), and the failure is not kept
    const absent = make(missing);
    expect(await call(absent, TOKEN)).toBeGreaterThanOrEqual(500);
    await world.clients.ssm.send(new PutParameterCommand({ Name: missing, Value: TOKEN, Type: 'SecureString' }));
    expect(await call(absent, TOKEN)).toBe(200);
    await world.clients.ssm.send(new DeleteParameterCommand({ Name: missing }));
  });

  it('holds: GET /metrics on a cold status handler, the tick counters summed, and a failing tick-record write', async () => {
    const world = await deploy('2026-11-23T10:00:00-05:00');
    const auth = { authorization: `Bearer ${STATUS_TOKEN}` };
    const first = await world.status(auth, '/metrics');
    expect(first.statusCode).toBe(200);
    expect(first.body).toMatch(/^scaling_evaluations_total 0$/m);
    await world.tick();
    await world.tick();
    const evaluated = Number(/^scaling_evaluations_total (\d+)$/m.exec((await world.status(auth, '/metrics')).body ?? '')?.[1]);
    expect(evaluated).toBe(2 * world.policy.targets.length);

    // A tick whose record write fails: the intents are queued before it, the next tick counts on
    const { buildHandler } = await import('../../functions/schedule-tick/handler.ts');
    const prefix = `/gpu-autoscaler/${/\/gpu-autoscaler\/([^/]+)\//.exec(world.tokenName)?.[1]}`;
    const real = new SsmTickRecordStore(world.clients.ssm, prefix);
    let fail = true;
    const ticks: TickRecordStore = {
      get: () => real.get(),
      put: async (record) => {
        if (fail) {
          fail = false;
          throw new Error('injected: PutParameter throttled');
        }
        return real.put(record);
      },
    };
    const tick = buildHandler({ policy: world.policy, store: new SsmStateStore(world.clients.ssm, prefix), ticks, queue: new SqsIntentQueue(world.clients.sqs, world.queueUrl, fifoGroupOf(world.policy)), clock: world.clock, metrics: new CloudWatchMetricSource(world.clients.cloudWatch) });
    world.clock.advance(60);
    world.clients.resetCalls();
    await expect(tick({}, lambdaContext('schedule-tick'))).rejects.toThrow('injected');
    await tick({}, lambdaContext('schedule-tick'));
    const after = Number(/^scaling_evaluations_total (\d+)$/m.exec((await world.status(auth, '/metrics')).body ?? '')?.[1]);
    expect(after).toBe(3 * world.policy.targets.length);
    expect((await world.status(auth, '/metrics')).statusCode).toBe(200);
  });
});
