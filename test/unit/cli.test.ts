import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { listenOnLoopback } from '../support/listen.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'bin/cli.ts'];
const policy = loadPolicyFile('policy.yaml');

/** Runs the command to its end; a non-zero exit is an outcome here, not an error. */
const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
};

const stateDir = () => mkdtempSync(join(tmpdir(), 'cli-state-'));

/** Follows what a running npm start prints: the returned wait resolves with the first match of `pattern`. */
const follow = (child: ChildProcessWithoutNullStreams) => {
  let text = '';
  const checks = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const check of checks) check();
  });
  return (pattern: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const match = text.match(pattern);
        if (!match) return;
        checks.delete(check);
        resolve(match);
      };
      checks.add(check);
      check();
      child.once('exit', (code) => reject(new Error(`npm start exited (${code}) before printing ${pattern}:\n${text}`)));
    });
};

describe('Command: start', () => {
  const running: ChildProcessWithoutNullStreams[] = [];

  afterEach(async () => {
    for (const child of running.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('runs the shipped policy on the simulated cluster with a demo clock and prints each decision', async () => {
    // Prepare: one simulated minute per real second, from a minute before the off-peak window
    const dir = stateDir();

    // Act
    const { stdout, stderr } = await run('npx', ['tsx', 'bin/cli.ts', 'start', '--port', '0', '--speed', '60', '--start-at', '2026-11-24T00:59:00-05:00', '--ticks', '3', '--state-dir', dir], { timeout: 60_000 });

    // Assess
    expect(stdout).toContain(`gpu-autoscaler (local mode): ${policy.targets.length} targets`);
    expect(stdout).toMatch(/app 2 -> 3 \[ScheduleEntry\] normal-evening: window normal-evening began: desired 3/);
    // Down conservatively: off-peak at 01:00 comes a minute after that scale-up, so it waits.
    expect(stdout).toMatch(/app 3 \(hold\) \[ScaleDownDelayed\] off-peak: scale-down waits 15m after a scale-up: 1[34]m\d*s? left/);
    expect(stderr).toMatch(/^warning: no --token: every endpoint, \/emergency included, answers anyone who can reach http:\/\/127\.0\.0\.1:\d+ \(it listens on 127\.0\.0\.1 only/m);
  }, 90_000);

  it('refuses a state folder holding files it did not write, and leaves them as they were', async () => {
    // Prepare
    const dir = stateDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    writeFileSync(join(dir, 'app.json'), '{}');

    // Act
    const { code, stdout, stderr } = await cli(['start', '--port', '0', '--ticks', '1', '--token', 't', '--state-dir', dir]);

    // Assess
    expect(code).toBe(1);
    expect(stderr).toBe(`--state-dir ${dir} holds files npm start did not write (notes.txt); choose an empty or new folder\n`);
    expect(stdout).toBe('');
    expect(readdirSync(dir).sort()).toEqual(['app.json', 'notes.txt']);
  }, 90_000);

  // `new Date()` read "1" as the year 2001 and a time without offset in this machine's zone.
  it.each(['1', '2026-11-23T08:00:00', 'yesterday'])('refuses --start-at %s with exit 2, as simulate refuses such a --from', async (startAt) => {
    const { code, stderr } = await cli(['start', '--port', '0', '--ticks', '1', '--start-at', startAt, '--state-dir', stateDir()]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--start-at an ISO date \(2026-11-23\), local time \(2026-11-23T08:00\) or instant with offset/);
  }, 90_000);

  it('leaves a running npm start alone: a second one on its port or its state folder stops with one line and touches nothing', async () => {
    // Prepare: a first npm start, past its first tick
    const dir = stateDir();
    const first = spawn(process.execPath, [...CLI, 'start', '--port', '0', '--token', 't', '--state-dir', dir]);
    running.push(first);
    const printed = follow(first);
    const [, port] = await printed(/http:\/\/127\.0\.0\.1:(\d+)\/status/);
    await printed(new RegExp(` tick: ${policy.targets.length} evaluated`));
    const state = readdirSync(dir).sort();
    const other = stateDir();

    // Act
    const samePort = await cli(['start', '--port', String(port), '--token', 't', '--state-dir', join(other, 'new')]);
    const sameFolder = await cli(['start', '--port', '0', '--token', 't', '--state-dir', dir]);

    // Assess
    expect(samePort).toEqual({ code: 1, stdout: '', stderr: `port ${port} is in use (another npm start?); choose another with --port\n` });
    expect(existsSync(join(other, 'new'))).toBe(false);
    expect(sameFolder).toEqual({ code: 1, stdout: '', stderr: `--state-dir ${dir} is the state of another npm start (pid ${first.pid}); stop it, or choose another folder\n` });
    expect(readdirSync(dir).sort()).toEqual(state);
    expect(state).toEqual(expect.arrayContaining(['.gpu-autoscaler-state', '.gpu-autoscaler.lock', 'app.json', 'gpu-pool.json']));
    expect(first.exitCode).toBeNull();
  }, 90_000);

  it('says when the port is taken by any program, in one line and exit code 1', async () => {
    // Prepare
    const squatter = createServer();
    const port = await listenOnLoopback(squatter);

    // Act
    const result = await cli(['start', '--port', String(port), '--token', 't', '--state-dir', join(stateDir(), 'new')]).finally(() => squatter.close());

    // Assess
    expect(result).toEqual({ code: 1, stdout: '', stderr: `port ${port} is in use (another npm start?); choose another with --port\n` });
  }, 90_000);

  it('a state document that cannot be read holds its own target only, once per reconcile interval: every tick runs, the others go on; with a token, no warning', async () => {
    // Prepare: a state document that cannot be read, kept from an earlier run
    const dir = stateDir();
    await cli(['start', '--port', '0', '--ticks', '1', '--token', 't', '--state-dir', dir]);
    writeFileSync(join(dir, 'app.json'), '{"version":');

    // Act
    const { code, stdout, stderr } = await cli(['start', '--port', '0', '--speed', '600', '--ticks', '5', '--keep-state', '--token', 't', '--state-dir', dir]);

    // Assess
    expect(code).toBe(0);
    // Five minutes hold one reconcile minute of app: it is held there, with why (not every
    // minute: nothing decided can be written); the others are decided as usual.
    expect(stdout.match(/ app \d+ \(hold\) \[StateUnreadable\] the state document cannot be read \(.*app\.json: not JSON/g)).toHaveLength(1);
    expect(stdout).toMatch(/ tick: \d+ evaluated/);
    expect(stdout).not.toMatch(/tick failed/);
    expect(stderr).toBe('');
  }, 90_000);
});

describe('Command: validate', () => {
  /** Exit code and output of `validate FILE`: stdout when it passes, stderr when it fails. */
  const validate = async (file: string) => {
    try {
      return { code: 0, out: (await run('npx', ['tsx', 'bin/cli.ts', 'validate', file], { timeout: 30_000 })).stdout };
    } catch (error) {
      const failed = error as { code: number; stderr: string };
      return { code: failed.code, out: failed.stderr };
    }
  };

  it('exits 0 for the shipped policy, and 1 naming the file and each problem with its path and line', async () => {
    // Prepare: the first target's min raised above its max; the peak window brought down to the
    // priority of the normal morning, which its 30-minute lead reaches
    const shipped = readFileSync('policy.yaml', 'utf8');
    const lines = shipped.split('\n');
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const bounds = join(dir, 'bounds.yaml');
    writeFileSync(bounds, shipped.replace('    min: 2\n', '    min: 11\n'));
    const overlap = join(dir, 'overlap.yaml');
    writeFileSync(overlap, shipped.replace('    priority: 20\n', '    priority: 0\n'));

    // Act
    const [good, broken, overlapping, missing] = await Promise.all([validate('policy.yaml'), validate(bounds), validate(overlap), validate('/nonexistent/policy.yaml')]);

    // Assess
    expect(good).toEqual({ code: 0, out: expect.stringContaining(`policy.yaml: valid: ${policy.targets.length} targets`) });
    expect(broken).toEqual({ code: 1, out: expect.stringContaining(`invalid policy ${bounds}:\n  - targets[0].min (line ${lines.indexOf('    min: 2') + 1}): min 11 exceeds max 10\n`) });
    expect(overlapping).toEqual({
      code: 1,
      out: `invalid policy ${overlap}:\n  - schedules[3] (line ${lines.indexOf('  - id: normal-morning') + 1}): window "normal-morning" overlaps window "peak" at the same priority 0 for app, worker-llm, worker-rl (both apply at sun 08:30): give one a higher priority or move it\n`,
    });
    expect(missing).toEqual({ code: 1, out: 'invalid policy /nonexistent/policy.yaml:\n  - cannot read the file: ENOENT\n' });
  }, 60_000);
});

describe('Command: --help', { timeout: 120_000 }, () => {
  const COMMANDS = ['status', 'explain', 'emergency', 'simulate', 'backtest', 'diff', 'validate', 'render', 'start'] as const;

  it('gpu-autoscaler --help lists every command, each with its exit codes', async () => {
    // Act
    const { code, stdout } = await cli(['--help']);

    // Assess
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(stdout, command).toMatch(new RegExp(`\\n  ${command}\\b[^\\n]*\\n      exit 0 [^\\n]*, 1 `));
  });

  it.each(COMMANDS)('gpu-autoscaler %s --help prints its own usage with its exit codes, and exits 0', async (command) => {
    // Act
    const { code, stdout } = await cli([command, '--help']);

    // Assess
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage:\\s+gpu-autoscaler ${command}\\b`));
    expect(stdout).toMatch(/\bExit(?: codes)?[^\n]*:[^\n]*\b0 [a-z]/i);
  });
});
