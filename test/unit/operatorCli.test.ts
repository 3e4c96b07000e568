import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { actorOfArn, connect } from '../../bin/commands/service.ts';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import { loadPolicyFile, parsePolicy } from '../../shared/policyFile.ts';
import type { StateStore } from '../../shared/ports.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';

// The operator's command against the npm start server: the service layer in this process, and
// the real CLI process (exit codes asserted) against a server this test runs on loopback.

const run = promisify(execFile);
const shipped = loadPolicyFile('policy.yaml');

/** Runs `gpu-autoscaler ARGS`; a non-zero exit is an outcome here, not an error. */
const cli = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/cli.ts', ...args], { timeout: 60_000, env: { ...process.env, NO_COLOR: '1', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
};

const llmQueue = webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq' }]);

// Each case runs the CLI as a process (tsx compiles it on start): seconds, not milliseconds.
describe('Command: gpu-autoscaler status, explain, emergency (local)', { timeout: 60_000 }, () => {
  let scaler: LocalAutoscaler | undefined;
  let clock: ManualClock;
  let url = '';

  const start = async (at: string, options: { policy?: Policy; store?: StateStore; token?: string } = {}) => {
    clock = new ManualClock(at);
    scaler = new LocalAutoscaler({ policy: options.policy ?? shipped, clock, store: options.store ?? new MemoryStateStore(), print: () => undefined, ...(options.token ? { token: options.token } : {}) });
    url = await scaler.listen(0);
    return scaler;
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
  };

  afterEach(async () => {
    await scaler?.close();
    scaler = undefined;
  });

  describe('status', () => {
    it('prints a table per target and exits 0 while the tick runs', async () => {
      // Prepare: peak, the LLM queue alert firing
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      await post('/webhook', llmQueue);

      // Act
      const { code, stdout } = await cli(['status', 'worker-llm', '--local', url]);

      // Assess
      expect(code).toBe(0);
      expect(stdout).toMatch(/^healthy: last tick 0s ago, 0 dead letter\(s\)$/m);
      expect(stdout).toContain('worker-llm (deployment)');
      expect(stdout).not.toContain('gpu-pool (eks-nodegroup)');
      expect(stdout).toMatch(/size\s+4 live \/ 4 desired/);
      expect(stdout).toMatch(/bounds\s+2-8 \(window peak: desired 4; hard 2-8\)/);
      expect(stdout).toMatch(/cooldowns\s+llm-queue-buildup 10m/);
      expect(stdout).toMatch(/warm-up\s+3m left/);
      expect(stdout).toMatch(/alerts\s+LLMQueueBuildup since 2026-11-23T15:00:00.000Z \(llm-queue-buildup\)/);
      expect(stdout).toMatch(/decisions\s+2026-11-23T14:10:00.000Z 4 \(no change\) \[CooldownActive\] cooldown of llm-queue-buildup: 10m left of 10m <- ScaleUp/);
      expect(stdout).toMatch(/2026-11-23T14:10:00.000Z 2 -> 4 \[ScheduleEntry\] window peak began: desired 4/);
    });

    it('exits 1 once no tick ran for three minutes, and says so', async () => {
      // Prepare
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      clock.advance(181);

      // Act
      const { code, stdout } = await cli(['status', '--local', url]);
      const report = await (await connect({ kind: 'local', url })).status();

      // Assess
      expect(code).toBe(1);
      expect(stdout).toMatch(/^UNHEALTHY: no tick for 3 minutes \(last 2026-11-23T14:10:00.000Z\): evaluations stalled$/m);
      expect(report).toMatchObject({ healthy: false, lastTickAt: '2026-11-23T14:10:00.000Z', deadLetters: 0 });
    });

    it('exits 1 when a state cannot be read, naming the target, and still shows the others', async () => {
      // Prepare: after a tick, api's document goes bad
      const store = new MemoryStateStore();
      const local = await start('2026-11-23T09:10:00-05:00', { store });
      await local.tick();
      store.putDocument('api', '{"version":1,"target":"api","generation":"two"}');

      // Act
      const { code, stdout } = await cli(['status', '--json', '--local', url]);

      // Assess
      expect(code).toBe(1);
      const report = JSON.parse(stdout) as { problems: string[]; targets: { id: string; error?: string; desired: number | null }[] };
      expect(report.problems).toEqual([expect.stringMatching(/^state of api could not be read: generation: /)]);
      expect(report.targets.find((t) => t.id === 'api')?.error).toMatch(/^generation: /);
      expect(report.targets.find((t) => t.id === 'worker-llm')?.desired).toBe(4);
    });

    it.each([
      // the service is not there
      { args: ['status', '--local', 'http://127.0.0.1:9'], code: 3, stderr: /cannot reach http:\/\/127\.0\.0\.1:9/ },
      // both places at once
      { args: ['status', '--local', '--stage', 'prod', '--region', 'us-east-1'], code: 2, stderr: /either --local or --stage and --region/ },
      // a stage without its region
      { args: ['status', '--stage', 'prod'], code: 2, stderr: /--stage and --region go together/ },
      // every command answers --help
      { args: ['status', '--help'], code: 0, stdout: /^Usage: gpu-autoscaler status/ },
      { args: ['explain', '--help'], code: 0, stdout: /^Usage: gpu-autoscaler explain/ },
      { args: ['emergency', '--help'], code: 0, stdout: /^Usage: gpu-autoscaler emergency/ },
      { args: ['start', '--help'], code: 0, stdout: /gpu-autoscaler start/ },
      { args: ['validate', '--help'], code: 0, stdout: /gpu-autoscaler validate/ },
      { args: ['render', '--help'], code: 0, stdout: /gpu-autoscaler render/ },
      { args: ['nonsense'], code: 2, stdout: /^Usage: gpu-autoscaler COMMAND/ },
    ])('$args.0 $args.1 exits $code', async ({ args, code, stdout, stderr }) => {
      const result = await cli(args);
      expect(result.code).toBe(code);
      if (stdout) expect(result.stdout).toMatch(stdout);
      if (stderr) expect(result.stderr).toMatch(stderr);
    });

    it('takes the bearer token npm start was given, and exits 3 without it', async () => {
      // Prepare
      const local = await start('2026-11-23T09:10:00-05:00', { token: 's3cret' });
      await local.tick();

      // Act
      const without = await cli(['status', '--local', url]);
      const withToken = await cli(['status', 'api', '--local', url], { GPU_AUTOSCALER_TOKEN: 's3cret' });
      const unknown = await cli(['status', 'nope', '--local', url, '--token', 's3cret']);

      // Assess
      expect(without.code).toBe(3);
      expect(without.stderr).toMatch(/missing or wrong bearer token \(give the token with --token or GPU_AUTOSCALER_TOKEN\)/);
      expect(withToken.code).toBe(0);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown target\(s\) nope; the policy has app, worker-llm/);
    });
  });

  describe('explain', () => {
    it('prints the reason chain, then every candidate, the winner and each limit of what a tick would do now', async () => {
      // Prepare: the alert scaled worker-llm at 09:10; its rule's cooldown runs
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      await post('/webhook', llmQueue);
      clock.advance(120);

      // Act
      const { code, stdout } = await cli(['explain', 'worker-llm', '--local', url]);

      // Assess
      expect(code).toBe(0);
      expect(stdout).toContain('Recent decisions (audit events kept by this host, newest first):');
      expect(stdout).toMatch(/2026-11-23T14:10:00.000Z alert 4 \(no change\) \[CooldownActive\] llm-queue-buildup: cooldown of llm-queue-buildup: 10m left of 10m <- ScaleUp\n\s+ScaleUp: LLMQueueBuildup firing: llm-queue-buildup \(P1\) proposes 5/);
      expect(stdout).toMatch(/\* won alert llm-queue-buildup \(rank 30\) -> 5 \[ScaleUp\]/);
      expect(stdout).toMatch(/2\. chosen by precedence: alert -> 5 \[ScaleUp\]/);
      expect(stdout).toMatch(/veto\s+passed\n\s+pause\s+passed\n\s+scaleDownDelay\s+notApplicable\n\s+cooldown\s+applied \[CooldownActive\] cooldown of llm-queue-buildup: 8m left of 10m\n\s+stabilization\s+skipped\n\s+readiness\s+skipped\n\s+warmup\s+skipped/);
      expect(stdout).toMatch(/4\. decision: hold 4 \(no change\) \[CooldownActive\] cooldown of llm-queue-buildup: 8m left of 10m <- ScaleUp/);
    });

    it('--at explains a later instant: after the cooldown the rule scales, and every limit lets it through', async () => {
      // Prepare
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      await post('/webhook', llmQueue);

      // Act: the in-process service layer, and the CLI's JSON
      const report = await (await connect({ kind: 'local', url })).explain('worker-llm', '2026-11-23T14:21:00.000Z');
      const { code, stdout } = await cli(['explain', 'worker-llm', '--at', '2026-11-23T09:21:00-05:00', '--json', '--local', url]);

      // Assess
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual(JSON.parse(JSON.stringify(report)));
      expect(report.now.decision).toMatchObject({ verdict: 'scale', from: 4, to: 5, cause: { code: 'ScaleUp' } });
      expect(Object.fromEntries(report.now.limits.map((l) => [l.limit, l.outcome]))).toEqual({
        veto: 'passed', pause: 'passed', scaleDownDelay: 'notApplicable', cooldown: 'passed', stabilization: 'passed', readiness: 'passed', warmup: 'passed', drain: 'notApplicable',
        activeWork: 'notApplicable', disruptionBudget: 'notApplicable', oneStepDown: 'notApplicable', rateLimit: 'passed', windowBounds: 'passed', gpuCapacity: 'passed', hardBounds: 'passed',
      });
      expect(report.history[0]).toMatchObject({ code: 'CooldownActive', cause: 'ScaleUp' });
    });

    it.each([
      { args: ['explain', '--local'], code: 2, stderr: /explain takes one TARGET/ },
      { args: ['explain', 'api', '--at', 'yesterday', '--local'], code: 2, stderr: /--at must be an ISO instant/ },
      // Read in the operator's own zone before: the same text explained another instant on each machine.
      { args: ['explain', 'api', '--at', '2026-11-23T09:00:00', '--local'], code: 2, stderr: /--at must be an ISO instant with its offset, got "2026-11-23T09:00:00"/ },
      { args: ['explain', 'api', '--at', '1', '--local'], code: 2, stderr: /--at must be an ISO instant with its offset/ },
      // Without its scheme the address was taken for a TARGET and the default server asked.
      { args: ['status', '--local', 'localhost:18080', '--local'], code: 2, stderr: /--local takes a URL with its scheme: http:\/\/localhost:18080/ },
      { args: ['status', '--local', 'http://', '--local'], code: 2, stderr: /--local takes a URL such as http:\/\/127.0.0.1:8080, got "http:\/\/"/ },
      { args: ['explain', 'nope', '--local'], code: 1, stderr: /refused: explain: unknown target "nope"/ },
    ])('$args.1 $args.2 $args.3 exits $code', async ({ args, code, stderr }) => {
      await start('2026-11-23T09:10:00-05:00');
      const result = await cli([...args, url]);
      expect(result.code).toBe(code);
      expect(result.stderr).toMatch(stderr);
    });
  });

  describe('emergency', () => {
    it.each([
      // runbook step, command line, the decision line printed
      { step: 'double capacity', args: ['double', 'api'], line: /^api 3 -> 6 \[EmergencyDouble\] doubled to 6; by \S+, reason: INC-42$/m },
      { step: 'set a fixed count', args: ['set', 'api', '--replicas', '10'], line: /^api 3 -> 10 \[EmergencySet\] set to 10; by \S+, reason: INC-42/m },
      { step: 'set past the hard max', args: ['set', 'api', '--replicas', '99'], line: /^api 3 -> 50 \[ClampedToMax\] clamped to the hard max 50 \(wanted 99\) <- EmergencySet$/m },
      { step: 'roll back to the minimum', args: ['scaleToMin', 'worker-llm'], line: /^worker-llm 4 -> 2 \[EmergencyScaleToMin\] rolled back to the minimum safe size 2/m },
      { step: 'pause', args: ['pause', 'worker-llm', '--ttl', '30m'], line: /^worker-llm 4 \(no change\) \[PauseSet\] paused until 2026-11-23T14:40:00.000Z \(30m\); by \S+, reason: INC-42/m },
      { step: 'resume', args: ['resume', 'worker-llm'], line: /^worker-llm 4 \(no change\) \[Resumed\] was not paused; by \S+, reason: INC-42/m },
      { step: 'deprovision the GPU pool', args: ['deprovisionPool', 'gpu-pool'], line: /^gpu-pool 2 \(no change\) \[EmergencyDeprovisionPool\] GPU pool deprovisioned to 2; keeps 2 node\(s\) for running GPU workloads/m },
      { step: 'several targets', args: ['scaleToMin', 'app', 'worker-llm'], line: /^app 5 -> 2 \[EmergencyScaleToMin\][^\n]*\nworker-llm 4 -> 2 \[EmergencyScaleToMin\]/m },
    ])('$step: prints the worker\'s outcome and exits 0', async ({ args, line }) => {
      // Prepare: peak (app 5, worker-llm 4, gpu-pool 2)
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();

      // Act
      const { code, stdout } = await cli(['emergency', ...args, '--reason', 'INC-42', '--local', url]);

      // Assess
      expect(code).toBe(0);
      expect(stdout).toMatch(line);
    });

    it('a command still queued behind a failed scaling call says what it waits behind, and exits 1', async () => {
      // Prepare: the api's scaling call for an alert fails, so its FIFO group waits out a retry
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      const scale = local.cluster.scaleTo.bind(local.cluster);
      local.cluster.scaleTo = async (target, desired) => (target.id === 'api' ? Promise.reject(new Error('injected: throttled')) : scale(target, desired));
      await post('/webhook', webhookPayload([{ alertname: 'APIQueueBackup', labels: { service: 'tensafe' }, fingerprint: 'apiq' }]));

      // Act
      const { code, stdout } = await cli(['emergency', 'set', 'api', '--replicas', '20', '--reason', 'INC-5', '--idempotency-key', 'INC-5-1', '--local', url]);

      // Assess
      expect(code).toBe(1);
      expect(stdout).toMatch(/^api NOT DECIDED: intent ek-[0-9a-f]{40} still queued when the wait ended; it waits behind intent a-[0-9a-f]{40} \(alert, 3 -> \d+, recorded [^)]+\), whose scaling call did not finish: the worker retries it first, then this command; see status \(a command sent with --idempotency-key can be sent again: it acts once\)$/m);
    });

    it('doubling a GPU workload whose pool is paused prints a warning under the outcome, and exits 0', async () => {
      // Prepare: peak; gpu-pool paused for its node image rollout
      const local = await start('2026-11-23T10:00:00-05:00');
      await local.tick();
      await cli(['emergency', 'pause', 'gpu-pool', '--ttl', '1h', '--reason', 'node image rollout', '--local', url]);

      // Act
      const { code, stdout } = await cli(['emergency', 'double', 'worker-llm', '--reason', 'INC-12', '--local', url]);

      // Assess
      expect(code).toBe(0);
      expect(stdout).toMatch(/^worker-llm 4 -> 8 \[EmergencyDouble\] doubled to 8; by \S+, reason: INC-12\n {2}warning: pool gpu-pool is paused until 2026-11-23T16:00:00.000Z and does not grow for it: it has 2 node\(s\) of the 3 its workloads need, and the pods past them stay Pending until then \(resume gpu-pool to grow it now\)$/m);
    });

    it('evaluateNow prints every target\'s real outcome, holds included', async () => {
      // Prepare: worker-llm paused while its alert fires
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      await post('/emergency', { action: 'pause', target: 'worker-llm', ttl: '1h', reason: 'INC-7', actor: 'jane' });
      await post('/webhook', llmQueue);
      clock.advance(11 * 60);

      // Act
      const { code, stdout } = await cli(['emergency', 'evaluateNow', '--reason', 'check', '--local', url]);

      // Assess
      expect(code).toBe(0);
      expect(stdout.trim().split('\n')).toHaveLength(shipped.targets.length);
      expect(stdout).toMatch(/^worker-llm 4 \(no change\) \[Paused\] paused until 2026-11-23T15:10:00.000Z: INC-7 <- ScaleUp$/m);
      expect(stdout).toMatch(/^api 3 \(no change\) \[NoChange\] stays at 3$/m);
    });

    it('--all reaches every target; an idempotency key sent twice acts once and answers the same', async () => {
      // Prepare
      const local = await start('2026-11-23T09:10:00-05:00');
      await local.tick();
      const args = ['emergency', 'scaleToMin', '--all', '--reason', 'INC-9', '--actor', 'jane', '--idempotency-key', 'INC-9-1', '--local', url];

      // Act
      const first = await cli(args);
      const calls = local.cluster.scaleCalls;
      clock.advance(60);
      const second = await cli(args);

      // Assess
      expect(first.code).toBe(0);
      expect(first.stdout.trim().split('\n')).toHaveLength(shipped.targets.length);
      expect(first.stdout).toMatch(/^app 5 -> 2 \[EmergencyScaleToMin\] rolled back to the minimum safe size 2; by jane, reason: INC-9$/m);
      expect(second).toEqual(first);
      expect(local.cluster.scaleCalls).toBe(calls);
    });

    it.each([
      { args: ['reboot', 'api', '--reason', 'x'], code: 2, stderr: /ACTION must be one of double, set/ },
      { args: ['double', 'api'], code: 2, stderr: /--reason is required/ },
      { args: ['double', '--reason', 'x'], code: 2, stderr: /double needs a TARGET or --all/ },
      { args: ['set', 'api', '--reason', 'x'], code: 2, stderr: /set needs --replicas N/ },
      { args: ['pause', 'api', '--reason', 'x'], code: 2, stderr: /pause needs --ttl D/ },
      // Number("") is 0: `--replicas "$N"` with N unset scaled to the minimum and exited 0.
      { args: ['set', 'api', '--replicas', '', '--reason', 'x'], code: 2, stderr: /--replicas must be a whole number, got ""/ },
      { args: ['set', 'api', '--replicas', '0x5', '--reason', 'x'], code: 2, stderr: /--replicas must be a whole number, got "0x5"/ },
      { args: ['set', 'api', '--replicas=-1', '--reason', 'x'], code: 2, stderr: /--replicas must be a whole number, got "-1"/ },
      // A double with a size was once taken as a set to that size.
      { args: ['double', 'api', '--replicas', '9', '--reason', 'x'], code: 2, stderr: /--replicas goes with set only: double takes no size/ },
      { args: ['double', 'api', '--all', '--reason', 'x'], code: 2, stderr: /TARGETs or --all, not both/ },
      { args: ['double', '--all', '--reason', 'x'], code: 1, stderr: /double goes to named targets; all is for scaleToMin, pause, resume and evaluateNow/ },
      { args: ['deprovisionPool', 'api', '--reason', 'x'], code: 1, stderr: /refused: emergency: deprovisionPool applies to eks-nodegroup targets; "api" is a deployment/ },
      { args: ['pause', 'api', '--ttl', '300', '--reason', 'x'], code: 1, stderr: /refused: emergency: invalid emergency request/ },
    ])('$args.0 $args.1 $args.2 exits $code', async ({ args, code, stderr }) => {
      await start('2026-11-23T09:10:00-05:00');
      const result = await cli(['emergency', ...args, '--local', url]);
      expect(result.code).toBe(code);
      expect(result.stderr).toMatch(stderr);
    });
  });

  describe('shadow mode', () => {
    it('decides and records every decision of a shadow target and calls no scaling API; status and explain show it', async () => {
      // Prepare: every target in shadow
      const policy: Policy = { ...shipped, defaults: { ...shipped.defaults, mode: 'shadow' } };
      const local = await start('2026-11-23T09:10:00-05:00', { policy });

      // Act: the peak window opens, the LLM queue alert fires, an operator doubles the API
      await local.tick();
      await post('/webhook', llmQueue);
      clock.advance(11 * 60);
      await local.tick();
      const emergency = await cli(['emergency', 'double', 'api', '--reason', 'INC-1', '--local', url]);
      const status = await cli(['status', 'worker-llm', '--local', url]);
      const explain = await cli(['explain', 'worker-llm', '--local', url]);

      // Assess
      expect(local.cluster.scaleCalls).toBe(0);
      expect(Object.values(local.cluster.snapshot()).map((s) => s.desired)).toEqual(shipped.targets.map((t) => t.min));
      const scaled = local.decisions.filter((d) => d.verdict === 'scale');
      expect(scaled.map((d) => `${d.target} ${d.from}->${d.to}`)).toEqual(expect.arrayContaining(['worker-llm 2->4', 'worker-llm 4->5', 'gpu-pool 1->2', 'api 3->6']));
      expect(local.decisions.every((d) => d.shadow === true)).toBe(true);
      expect(emergency.stdout).toMatch(/^api 3 -> 6 \[EmergencyDouble\]/m);
      expect(status.stdout).toMatch(/worker-llm \(deployment\) SHADOW: decisions recorded, no scaling API called/);
      expect(status.stdout).toMatch(/size\s+2 live \/ 5 desired/);
      expect(explain.stdout).toMatch(/^worker-llm \(shadow\)/m);
      expect(explain.stdout).toMatch(/tick \(shadow\) 4 -> 5 \[ScaleUp\]/);
      expect(explain.stdout).toContain('shadow mode: the worker would record this and call no scaling API');
    });

    it('a live target beside a shadow one still scales', async () => {
      // Prepare: app in shadow, the rest live
      const policy: Policy = { ...shipped, targets: shipped.targets.map((t) => (t.id === 'app' ? { ...t, mode: 'shadow' as const } : t)) };
      const local = await start('2026-11-23T09:10:00-05:00', { policy });

      // Act
      await local.tick();

      // Assess: app is recorded at 5 and stays 2 in the cluster; worker-llm and its pool scale
      const sizes = local.cluster.snapshot();
      expect(sizes.app?.desired).toBe(2);
      expect(sizes['worker-llm']?.desired).toBe(4);
      expect(sizes['gpu-pool']?.desired).toBe(2);
      expect(local.decisions.find((d) => d.target === 'app')).toMatchObject({ shadow: true, from: 2, to: 5 });
      expect(local.decisions.find((d) => d.target === 'worker-llm')?.shadow).toBeUndefined();
    });

    it('refuses a policy where a GPU pool and its workloads do not share one mode', () => {
      // Prepare: worker-llm in shadow, its pool live
      const text = readFileSync('policy.yaml', 'utf8').replace(/(- id: worker-llm\n)/, '$1    mode: shadow\n');

      // Act, Assess
      expect(() => parsePolicy(text, 'mixed.yaml')).toThrow(/a GPU pool and its workloads share one mode: "worker-llm" is shadow, its pool "gpu-pool" live/);
    });
  });
});

describe('The actor an emergency records when --actor is not given (--stage)', () => {
  it.each([
    { arn: 'arn:aws:iam::123456789012:user/jane', actor: 'jane' },
    { arn: 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Oncall_0123456789abcdef/jane.doe@example.com', actor: 'AWSReservedSSO_Oncall_0123456789abcdef/jane.doe@example.com' },
    { arn: 'arn:aws:sts::123456789012:assumed-role/Oncall/i-0abc', actor: 'Oncall/i-0abc' },
    { arn: 'arn:aws:sts::123456789012:assumed-role/CiDeployRole/jane', actor: 'CiDeployRole/jane' },
    { arn: `arn:aws:sts::123456789012:assumed-role/Oncall/${'s'.repeat(70)}`, actor: `Oncall/${'s'.repeat(57)}` },
  ])('$arn -> $actor', ({ arn, actor }) => {
    expect(actorOfArn(arn)).toBe(actor);
  });
});
