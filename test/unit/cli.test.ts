import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
