import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../support/chromium.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';

const run = promisify(execFile);
const TARGETS = loadPolicyFile('policy.yaml').targets.map((t) => t.id);

describe('Command: gpu-autoscaler simulate, its picture in headless Chromium', () => {
  let out: string;
  let report: { transitions: unknown[]; gpu: { pool: string; nodeHours: number; cost: number }[]; files: string[] };

  beforeAll(async () => {
    // Prepare: the real CLI process over the New York spring-forward week
    out = await mkdtemp(join(tmpdir(), 'simulate-'));
    const { stdout } = await run('npx', ['tsx', 'bin/cli.ts', 'simulate', '--from', '2027-03-10', '--to', '2027-03-17', '--price-per-node-hour', '5.672', '--out', out, '--json']);
    report = JSON.parse(stdout);
  }, 120_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('prints the week as JSON: every transition, and the GPU-node-hours at the given price', () => {
    // Assess
    expect(report.transitions).toHaveLength(2 + 7 * 13);
    // HSOF's own pool keeps its minimum of 2 nodes all week (167 h: the clocks spring forward)
    expect(report.gpu).toMatchObject([{ pool: 'gpu-pool' }, { pool: 'hsof-gpu-nodes', nodeHours: 2 * 167 }]);
    // The second gpu-pool node from 08:30 to 19:01 each day
    expect(report.gpu[0]?.nodeHours).toBeCloseTo(167 + 7 * (10.5 + 1 / 60), 6);
    expect(report.gpu[0]?.cost).toBeCloseTo((167 + 7 * (10.5 + 1 / 60)) * 5.672, 6);
    expect(report.files).toEqual([join(out, 'simulate.svg'), join(out, 'simulate.html')]);
  });

  it.each(['simulate.svg', 'simulate.html'])('%s renders a lane per target, each with its size line', async (file) => {
    // Prepare
    const browser = await chromium.launch({ executablePath: ensureChromium(), args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });

      // Act
      await page.goto(`file://${join(out, file)}`);
      const screenshot = join(out, `${file}.png`);
      // A bare SVG document has no body to measure a full page by: the viewport holds it.
      await page.screenshot({ path: screenshot, fullPage: file.endsWith('.html') });
      const titles = await Promise.all(TARGETS.map((id) => page.locator('svg text', { hasText: `${id} (` }).first().boundingBox()));
      const lines = await Promise.all((await page.locator('svg g.mark-line path').all()).map((path) => path.boundingBox()));

      // Assess: each target's title is drawn, and one size line per lane spans the week, lane under lane
      TARGETS.forEach((id, i) => expect(titles[i]?.width, id).toBeGreaterThan(0));
      expect(lines).toHaveLength(TARGETS.length);
      for (const line of lines) expect(line?.width).toBeGreaterThan(900);
      const tops = lines.map((l) => l?.y ?? 0);
      expect(tops).toEqual([...tops].sort((a, b) => a - b));
      expect((await stat(screenshot)).size).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
