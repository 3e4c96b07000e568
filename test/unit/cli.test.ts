import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../support/listen.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'bin/cli.ts'];

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

describe('Command: start', () => {
  it('runs the shipped policy on the simulated cluster with a demo clock and prints each decision', async () => {
    // Prepare: one simulated minute per real second, from a minute before the off-peak window
    const dir = stateDir();

    // Act
    const { stdout } = await run('npx', ['tsx', 'bin/cli.ts', 'start', '--port', '0', '--speed', '60', '--start-at', '2026-11-24T00:59:00-05:00', '--ticks', '3', '--state-dir', dir], { timeout: 60_000 });

    // Assess
    expect(stdout).toContain('gpu-autoscaler (local mode): 7 targets');
    expect(stdout).toMatch(/app 2 -> 3 \[ScheduleEntry\] normal-evening: window normal-evening began: desired 3/);
    expect(stdout).toMatch(/app 3 -> 2 \[ScheduleEntry\] off-peak: window off-peak began: desired 2/);
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
});
