import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { quietLogs } from './support/quietLogs.ts';
import { deploy, STATUS_TOKEN } from './support/deployment.ts';

// Red team 7: documents in SSM that the scaler did not write as they are (a corrupt tick record,
// a state document copied from another target, a leftover of a removed target), through the
// Lambda handlers on the moto emulator.

const authorization = `Bearer ${STATUS_TOKEN}`;

describe('red team 7 (Lambda handlers on moto)', () => {
  quietLogs();

  // Fixed (UnreadableTickRecordError: the tick replaces the record). Was: every tick threw in
  // recordTick after queueing its intents, the record was never rewritten, GET /metrics answered
  // 500 for good, and the heartbeat still flushed, so no alarm said so.
  it.each(['{garbage', '{"version":2}'])('a tick record %s is replaced by the next tick, and /metrics answers', async (garbage) => {
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.clients.ssm.send(new PutParameterCommand({ Name: `${world.prefix}/tick`, Value: garbage, Type: 'String', Overwrite: true }));

    await world.tick();
    const { Parameter } = await world.clients.ssm.send(new GetParameterCommand({ Name: `${world.prefix}/tick` }));
    const metrics = await world.status({ authorization }, '/metrics');

    expect(JSON.parse(Parameter?.Value ?? '{}')).toMatchObject({ version: 1, at: '2026-11-23T15:00:00.000Z' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/^scaling_evaluations_total \d+$/m);
  });

  // Fixed (parseStateDocument checks `target`). Was: a document copied under another name was
  // trusted, and every decision for app was written to api's parameter (and app's size to api).
  it('a state document of another target is unreadable under its name: held, shown, and an operator command overwrites it', async () => {
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.emergency({ action: 'set', target: 'api', replicas: 4, reason: 'INC-11', actor: 'jane' });
    await world.pump();
    const api = await world.state('api');
    await world.clients.ssm.send(new PutParameterCommand({ Name: `${world.prefix}/targets/app`, Value: JSON.stringify(api), Type: 'String', Overwrite: true }));

    const before = JSON.parse((await world.status({ authorization })).body ?? '{}') as { healthy: boolean; problems: string[] };
    const answer = await world.emergency({ action: 'set', target: 'app', replicas: 7, reason: 'INC-11', actor: 'jane' });
    await world.pump();

    expect(before.healthy).toBe(false);
    expect(before.problems).toContainEqual(expect.stringContaining(`state of app could not be read: ${world.prefix}/targets/app: target: the document is "api"'s, not "app"'s`));
    expect(answer.outcomes).toMatchObject([{ status: 'applied', decision: { code: 'EmergencySet' } }]);
    expect(await world.state('app')).toMatchObject({ target: 'app', desired: 7 });
    expect(await world.state('api')).toEqual(api);
  });

  // Fixed (status and the tick count only the policy's targets). Was: /status unhealthy for good
  // (and the CLI exiting 1), with no command that could clear it: they refuse unknown targets.
  it('an unreadable leftover of a target the policy no longer has leaves /status healthy', async () => {
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.clients.ssm.send(new PutParameterCommand({ Name: `${world.prefix}/targets/old-target`, Value: '{garbage', Type: 'String', Overwrite: true }));
    await world.tick();

    const report = JSON.parse((await world.status({ authorization })).body ?? '{}') as { problems: string[] };

    expect(report.problems.filter((p) => p.includes('old-target'))).toEqual([]);
  });

  // Found by red team 11 (see test/unit/redteam6.test.ts for the sizes): `double` of worker-llm at
  // its max grew the node group from 3 to 5, and `set 40` to 11.
  it('an emergency past a GPU workload\'s max asks its node group for no more than the max needs', async () => {
    const world = await deploy('2026-11-23T10:00:00-05:00');
    await world.tick();
    await world.pump();
    await world.emergency({ action: 'set', target: 'worker-llm', replicas: 8, reason: 'INC-13', actor: 'jane' });
    await world.pump();
    const atMax = await world.nodegroupSize();

    await world.emergency({ action: 'double', target: 'worker-llm', reason: 'INC-13', actor: 'jane' });
    await world.pump();
    await world.emergency({ action: 'set', target: 'worker-llm', replicas: 40, reason: 'INC-13', actor: 'jane' });
    await world.pump();

    expect(atMax).toBe(3);
    expect(await world.nodegroupSize()).toBe(3);
    expect((await world.state('worker-llm')).desired).toBe(8);
  });
});
