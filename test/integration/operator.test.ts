import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { awsClientConfig } from '../support/awsClients.ts';
import { webhookPayload } from '../support/payloads.ts';
import { METRICS_NAMESPACE, SERVICE } from '../../shared/observability.ts';
import { deploy } from './support/deployment.ts';
import { serveFunctions } from './support/functionEndpoints.ts';

// The operator's command against the deployed shape on the emulator: the stack's outputs from
// CloudFormation, the status token from SSM, the status function behind a Function URL and the
// emergency function behind the Lambda Invoke API (both served on loopback: see functionEndpoints).

const run = promisify(execFile);

type World = Awaited<ReturnType<typeof deploy>>;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A stage of the service: its functions on loopback and a stack whose outputs name them. */
const stage = async (world: World) => {
  const name = `op${world.tokenName.split('/')[2]?.replace(/[^a-z0-9]/gi, '').slice(-12)}`;
  const functions = await serveFunctions(world.statusHandler, { [`gpu-autoscaler-${name}-emergency`]: world.emergencyHandler });
  closers.push(functions.close);
  const cloudFormation = new CloudFormationClient(awsClientConfig(inject('motoEndpoint')));
  await cloudFormation.send(
    new CreateStackCommand({
      StackName: `gpu-autoscaler-${name}`,
      TemplateBody: JSON.stringify({
        Resources: { Placeholder: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `placeholder-${name}` } } },
        Outputs: {
          StatusLambdaFunctionUrl: { Value: `${functions.url}/` },
          StatusTokenParameterName: { Value: world.statusTokenName },
          EmergencyFunctionName: { Value: `gpu-autoscaler-${name}-emergency` },
        },
      }),
    }),
  );
  /** `gpu-autoscaler ARGS --stage NAME --region us-east-1`, Lambda Invoke sent to the loopback endpoint. */
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const env = { ...process.env, NO_COLOR: '1', AWS_ENDPOINT_URL_LAMBDA: functions.url };
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/cli.ts', ...args, '--stage', name, '--region', 'us-east-1'], { timeout: 60_000, env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout: string; stderr: string };
      return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
    }
  };
  return { name, cli, invocations: functions.invocations };
};

/** The datapoint CloudWatch makes of the tick's EMF heartbeat (the emulator reads no logs). */
const heartbeat = async (world: World) => {
  await world.clients.cloudWatch.send(
    new PutMetricDataCommand({
      Namespace: METRICS_NAMESPACE,
      MetricData: [{ MetricName: 'scaling_evaluations_total', Dimensions: [{ Name: 'service', Value: SERVICE }], Value: 7, Timestamp: world.clock.now() }],
    }),
  );
};

const podsPending = JSON.stringify(webhookPayload([{ alertname: 'GPUPodsPending', labels: { nodegroup: 'gpu-workers' }, fingerprint: 'op-gpu1', startsAt: '2026-11-23T15:00:00.000Z' }]));

describe('Command: gpu-autoscaler --stage (deployed shape on the emulator)', { timeout: 120_000 }, () => {
  it('status finds the stack, reads with the status token, and exits 0 while the heartbeat is fresh', async () => {
    // Prepare: the tick's heartbeat, and the webhook scaled the pool
    const world = await deploy('2026-10-05T10:00:00-04:00');
    const { cli } = await stage(world);
    await world.post(podsPending);
    await world.pump();
    await heartbeat(world);
    world.clock.advance(30);

    // Act
    const { code, stdout } = await cli(['status', 'gpu-pool']);

    // Assess
    expect(code).toBe(0);
    expect(stdout).toMatch(/^healthy: last tick 30s ago, 0 dead letter\(s\)$/m);
    expect(stdout).toMatch(/size\s+\? live \/ 2 desired \(live size not read by this host\)/);
    expect(stdout).toMatch(/decisions\s+2026-10-05T14:00:00.000Z 1 -> 2 \[ScaleUp\]/);
  });

  it('status exits 1 on a stale heartbeat and on dead letters, and says both', async () => {
    // Prepare: the last heartbeat four minutes ago; an intent in the DLQ
    const world = await deploy('2026-10-06T10:00:00-04:00');
    const { cli } = await stage(world);
    await heartbeat(world);
    world.clock.advance(4 * 60);
    await world.clients.sqs.send(new SendMessageCommand({ QueueUrl: world.dlqUrl, MessageBody: '{}', MessageGroupId: 'api', MessageDeduplicationId: 'dead-1' }));

    // Act
    const { code, stdout } = await cli(['status', '--json']);

    // Assess
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({
      healthy: false,
      deadLetters: 1,
      problems: ['no tick for 4 minutes (last 2026-10-06T14:00:00.000Z): evaluations stalled', '1 intent(s) in the dead-letter queue: scaling actions that did not happen'],
    });
  });

  it('explain reads the history and runs the dry run through the status function', async () => {
    // Prepare
    const world = await deploy('2026-10-07T10:00:00-04:00');
    const { cli } = await stage(world);
    await world.post(podsPending);
    await world.pump();
    world.clock.advance(60);

    // Act
    const { code, stdout } = await cli(['explain', 'gpu-pool']);

    // Assess
    expect(code).toBe(0);
    expect(stdout).toContain("Recent decisions (the state's history, newest first; the audit events are on the EventBridge bus):");
    expect(stdout).toMatch(/2026-10-07T14:00:00.000Z 1 -> 2 \[ScaleUp\]/);
    expect(stdout).toMatch(/\* won alert gpu-pods-pending \(rank \d+\) -> 3 \[ScaleUp\]/);
    expect(stdout).toMatch(/cooldown\s+applied \[CooldownActive\]/);
    expect(stdout).toMatch(/4\. decision: hold 2 \(no change\) \[CooldownActive\]/);
  });

  it('emergency invokes the function, waits for the worker and prints its outcome; refusals exit 1', async () => {
    // Prepare
    const world = await deploy('2026-10-08T10:00:00-04:00');
    const { cli, name, invocations } = await stage(world);

    // Act
    const double = await cli(['emergency', 'double', 'gpu-pool', '--reason', 'INC-42', '--idempotency-key', 'INC-42-a']);
    const again = await cli(['emergency', 'double', 'gpu-pool', '--reason', 'INC-42', '--idempotency-key', 'INC-42-a']);
    const refused = await cli(['emergency', 'deprovisionPool', 'api', '--reason', 'INC-42']);
    const reused = await cli(['emergency', 'set', 'gpu-pool', '--replicas', '5', '--reason', 'INC-42', '--idempotency-key', 'INC-42-a']);
    const evaluate = await cli(['emergency', 'evaluateNow', '--reason', 'check']);

    // Assess
    expect(double.code).toBe(0);
    // The doubled size is computed when the command is received, so a retry sets the same size.
    expect(double.stdout).toMatch(/^gpu-pool 1 -> 2 \[EmergencyDouble\] doubled to 2; by \S+, reason: INC-42$/m);
    expect(again.stdout).toEqual(double.stdout);
    expect(await world.nodegroupSize()).toBe(2);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused: emergency: deprovisionPool applies to eks-nodegroup targets; "api" is a deployment/);
    // The key named the double: another command with it is refused, and nothing moves.
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/refused: emergency: idempotency key "INC-42-a" was already used for another command on gpu-pool; send this command with a new key/);
    expect(await world.nodegroupSize()).toBe(2);
    expect(evaluate.code, evaluate.stdout).toBe(0);
    expect(evaluate.stdout.trim().split('\n')).toHaveLength(world.policy.targets.length);
    expect(invocations.map((i) => i.name)).toEqual(Array(5).fill(`gpu-autoscaler-${name}-emergency`));
    // Who asked, from the operator's own credentials (the emulator's caller is user/moto).
    expect(invocations[0]?.payload).toMatchObject({ action: 'double', targets: ['gpu-pool'], idempotencyKey: 'INC-42-a', actor: 'moto' });
  });

  it('exits 3 when the stage has no stack', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'bin/cli.ts', 'status', '--stage', 'nowhere', '--region', 'us-east-1'], { env: process.env }).catch((e: { code: number; stderr: string }) => e);
    expect(result).toMatchObject({ code: 3, stderr: expect.stringMatching(/^stack gpu-autoscaler-nowhere in us-east-1: ValidationError: Stack with id gpu-autoscaler-nowhere does not exist$/m) });
  });
});

describe('Shadow mode on the emulator', () => {
  it('a shadow target gets its decisions, state and audit events, and not a single scaling API call', async () => {
    // Prepare: every target in shadow; the audit events with "shadow": true copied to a queue
    const world = await deploy('2026-10-09T10:00:00-04:00', undefined, (policy) => ({ ...policy, defaults: { ...policy.defaults, mode: 'shadow' } }));
    const { QueueUrl: audit = '' } = await world.clients.sqs.send(new CreateQueueCommand({ QueueName: `shadow-audit-${Date.now()}` }));
    const { Attributes = {} } = await world.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: audit, AttributeNames: ['QueueArn'] }));
    const rule = `shadow-${Date.now()}`;
    await world.clients.events.send(new PutRuleCommand({ Name: rule, EventPattern: JSON.stringify({ source: ['gpu-autoscaler'], detail: { shadow: [true], target: ['gpu-pool'] } }) }));
    await world.clients.events.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'audit', Arn: Attributes.QueueArn }] }));
    world.clients.resetCalls();

    // Act: an alert, then an operator's double
    await world.post(podsPending);
    await world.pump();
    const outcome = await world.emergency({ action: 'double', target: 'gpu-pool', reason: 'INC-1', actor: 'oncall' });

    // Assess: decided and recorded as if applied; the node group untouched
    expect(world.clients.calls.UpdateNodegroupConfigCommand).toBeUndefined();
    expect(world.workloads.scaleCalls).toBe(0);
    expect(await world.nodegroupSize()).toBe(1);
    expect(outcome).toMatchObject({ ok: true, outcomes: [{ status: 'applied', decision: { from: 2, to: 4, code: 'EmergencyDouble' } }] });
    expect(await world.state('gpu-pool')).toMatchObject({ desired: 4, history: [{ from: 1, to: 2, code: 'ScaleUp' }, { from: 2, to: 4, code: 'EmergencyDouble' }] });
    const { Messages = [] } = await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: audit, MaxNumberOfMessages: 10 }));
    const events = Messages.map((m) => JSON.parse(m.Body ?? '{}') as { detail: { from: number; to: number; shadow: boolean } });
    expect(events.map((e) => [e.detail.from, e.detail.to, e.detail.shadow])).toEqual([[1, 2, true], [2, 4, true]]);
    const status = JSON.parse((await world.status({ authorization: 'Bearer test-status-token-9876543210' })).body ?? '{}') as { targets: { id: string; mode: string }[] };
    expect(status.targets.every((t) => t.mode === 'shadow')).toBe(true);
  });
});
