import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookPayload } from '../support/payloads.ts';

// simulate, backtest and diff as an operator runs them: the real CLI process, exit codes asserted.
// (simulate's week and picture: simulatePicture.test.ts; backtest on Prometheus: the e2e project.)

const run = promisify(execFile);

/** Runs `gpu-autoscaler ARGS`; a non-zero exit is an outcome here, not an error. */
const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/cli.ts', ...args], { timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
};

// Off-peak in New York: every target at its minimum, so only the logged alert moves anything.
const FROM = '2027-03-10T02:55';
const TO = '2027-03-10T03:20';
const FIRED_AT = '2027-03-10T08:00:30.000Z'; // 03:00:30 EST

let dir = '';
let alertsLog = '';
let stepTwo = '';
let broken = '';
let out = '';

describe('Command: gpu-autoscaler simulate, backtest, diff (the CLI process)', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-cli-'));
    out = join(dir, 'out');
    // The webhook body the service logged when LLMQueueBuildup fired, one JSON per line
    alertsLog = join(dir, 'webhook.log');
    const body = webhookPayload([{ alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq', startsAt: FIRED_AT }]);
    await writeFile(alertsLog, `${JSON.stringify({ at: FIRED_AT, body })}\n`);
    // The shipped policy with the LLM queue rule stepping by 2 instead of 1
    const shipped = await readFile('policy.yaml', 'utf8');
    const rule = /(id: llm-queue-buildup,[^\n]*action: \{ type: step, by: )1 \}/;
    expect(shipped).toMatch(rule);
    stepTwo = join(dir, 'step-two.policy.yaml');
    await writeFile(stepTwo, shipped.replace(rule, '$12 }'));
    broken = join(dir, 'broken.policy.yaml');
    await writeFile(broken, 'version: 1\ntargets: nope\n');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('backtest --alerts replays the logged webhook bodies: the transition, with its reason, and exits 0', async () => {
    // Act
    const { code, stdout } = await cli(['backtest', '--from', FROM, '--to', TO, '--alerts', alertsLog, '--out', out, '--json']);

    // Assess
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { command: string; transitions: { at: string; target: string; from: number; to: number; rule?: string; reasons: { code: string }[] }[] };
    expect(report.command).toBe('backtest');
    expect(report.transitions.map((t) => `${t.at} ${t.target} ${t.from}->${t.to} ${t.rule ?? '-'} ${t.reasons[0]?.code}`)).toEqual([
      `${FIRED_AT} worker-llm 2->3 llm-queue-buildup ScaleUp`,
      // never resolved in the log, the alert still fires when the 10m cooldown ends: the 03:11 tick
      // steps again, and 4 + 1 GPUs need a second node of 4, which the pool adds first
      '2027-03-10T08:11:00.000Z gpu-pool 1->2 - GpuCapacityRequested',
      '2027-03-10T08:11:00.000Z worker-llm 3->4 llm-queue-buildup ScaleUp',
    ]);
  });

  it('diff of a policy with itself takes the same transitions, and exits 0', async () => {
    // Act
    const { code, stdout } = await cli(['diff', 'policy.yaml', 'policy.yaml', '--from', FROM, '--to', TO, '--alerts', alertsLog, '--out', out]);

    // Assess
    expect(code).toBe(0);
    expect(stdout).toMatch(/: 0 transitions differ\n/);
  });

  it('diff prints the transitions only one policy takes (- old, + new) and exits 1', async () => {
    // Act
    const { code, stdout } = await cli(['diff', 'policy.yaml', stepTwo, '--from', FROM, '--to', TO, '--alerts', alertsLog, '--out', out]);

    // Assess
    expect(code).toBe(1);
    expect(stdout).toMatch(/^- .*worker-llm 2 -> 3 \[ScaleUp\] /m);
    expect(stdout).toMatch(/^\+ .*worker-llm 2 -> 4 \[ScaleUp\] /m);
    expect(stdout).toMatch(/^policy\.yaml: gpu-pool: /m);
  });

  it.each([
    // simulate: the range is required
    { args: ['simulate', '--to', TO], code: 2, stderr: /--from is required/ },
    // simulate: a policy that is not valid is an input it cannot use
    { args: ['simulate', '--from', FROM, '--to', TO, '--policy', 'BROKEN'], code: 1, stderr: /targets/ },
    // backtest: one history, not none
    { args: ['backtest', '--from', FROM, '--to', TO], code: 2, stderr: /give either --prometheus URL or --alerts FILE/ },
    // backtest: a Prometheus that is not there
    { args: ['backtest', '--from', FROM, '--to', TO, '--prometheus', 'http://127.0.0.1:9'], code: 1, stderr: /cannot reach Prometheus at http:\/\/127\.0\.0\.1:9/ },
    // backtest: a log line that is not a webhook body
    { args: ['backtest', '--from', FROM, '--to', TO, '--alerts', 'policy.yaml'], code: 1, stderr: /cannot replay policy\.yaml/ },
    // diff: two policies are needed
    { args: ['diff', 'policy.yaml', '--from', FROM, '--to', TO], code: 2, stderr: /give two policy files/ },
    // diff: as diff(1), trouble with an input is 2, not "they differ"
    { args: ['diff', 'policy.yaml', 'BROKEN', '--from', FROM, '--to', TO], code: 2, stderr: /targets/ },
  ])('$args.0 exits $code: $stderr', async ({ args, code, stderr }) => {
    // Act
    const result = await cli(args.map((a) => (a === 'BROKEN' ? broken : a)).concat(['--out', out]));

    // Assess
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(stderr);
  });
});
