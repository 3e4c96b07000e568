import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('Command: start', () => {
  it('runs the shipped policy on the simulated cluster with a demo clock and prints each decision', async () => {
    // Prepare: one simulated minute per real second, from a minute before the off-peak window
    const stateDir = mkdtempSync(join(tmpdir(), 'cli-state-'));

    // Act
    const { stdout } = await run('npx', ['tsx', 'bin/cli.ts', 'start', '--port', '0', '--speed', '60', '--start-at', '2026-11-24T00:59:00-05:00', '--ticks', '3', '--state-dir', stateDir], { timeout: 60_000 });

    // Assess
    expect(stdout).toContain('gpu-autoscaler (local mode): 7 targets');
    expect(stdout).toMatch(/app 2 -> 3 \[ScheduleEntry\] normal-evening: window normal-evening began: desired 3/);
    // Down conservatively: off-peak at 01:00 comes a minute after that scale-up, so it waits.
    expect(stdout).toMatch(/app 3 \(hold\) \[ScaleDownDelayed\] off-peak: scale-down waits 15m after a scale-up: 1[34]m\d*s? left/);
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
    expect(good).toEqual({ code: 0, out: expect.stringContaining('policy.yaml: valid: 7 targets') });
    expect(broken).toEqual({ code: 1, out: expect.stringContaining(`invalid policy ${bounds}:\n  - targets[0].min (line ${lines.indexOf('    min: 2') + 1}): min 11 exceeds max 10\n`) });
    expect(overlapping).toEqual({
      code: 1,
      out: `invalid policy ${overlap}:\n  - schedules[3] (line ${lines.indexOf('  - id: normal-morning') + 1}): window "normal-morning" overlaps window "peak" at the same priority 0 for app, worker-llm, worker-rl (both apply at sun 08:30): give one a higher priority or move it\n`,
    });
    expect(missing).toEqual({ code: 1, out: 'invalid policy /nonexistent/policy.yaml:\n  - cannot read the file: ENOENT\n' });
  }, 60_000);
});
