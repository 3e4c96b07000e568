import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadPolicyFile, parsePolicy, PolicyError } from '../../shared/policyFile.ts';

const shipped = parse(readFileSync('policy.yaml', 'utf8')) as Record<string, unknown[]> & { defaults: Record<string, unknown>; targets: Record<string, unknown>[]; rules: Record<string, unknown>[]; schedules: Record<string, unknown>[] };

/** The shipped policy with one change, as YAML text. */
const variant = (change: (p: typeof shipped) => void): string => {
  const copy = structuredClone(shipped);
  change(copy);
  return stringify(copy);
};

const problems = (text: string): string[] => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
  return [];
};

describe('Function: parsePolicy', () => {
  it('accepts the shipped policy', () => {
    expect(problems(variant(() => undefined))).toEqual([]);
  });

  it.each([
    { case: 'min above max', change: (p: typeof shipped) => Object.assign(p.targets[0] ?? {}, { min: 11 }), problem: 'targets[0].min: min 11 exceeds max 10' },
    { case: 'a rule on an unknown target', change: (p: typeof shipped) => Object.assign(p.rules[0] ?? {}, { target: 'ghost' }), problem: 'rules[0].target: unknown target "ghost"' },
    { case: 'a cooldown that is not a duration', change: (p: typeof shipped) => Object.assign(p.rules[0] ?? {}, { cooldown: 'five minutes' }), problem: 'rules[0].cooldown: expected a duration such as 90s, 10m, 1h or 2d, got "five minutes"' },
    { case: 'an unknown time zone', change: (p: typeof shipped) => Object.assign(p, { timezone: 'Mars/Olympus' }), problem: 'timezone: unknown IANA time zone "Mars/Olympus"' },
    { case: 'a broken regex matcher', change: (p: typeof shipped) => Object.assign(p.rules[0] ?? {}, { matchers: ['service=~app('] }), problem: 'rules[0].matchers[0]: invalid regular expression in "service=~app("' },
    { case: 'a window size outside the hard bounds', change: (p: typeof shipped) => Object.assign(p.schedules[0] ?? {}, { targets: { app: { desired: 40 } } }), problem: 'schedules[0].targets.app.desired: desired 40 is outside the hard bounds 2-10 of "app"' },
    { case: 'a pool that is not a GPU node group', change: (p: typeof shipped) => Object.assign(p.targets[1] ?? {}, { pool: 'app' }), problem: 'targets[1].pool: pool "app" must be an eks-nodegroup target with gpusPerNode > 0' },
    { case: 'a duplicate target id', change: (p: typeof shipped) => Object.assign(p.targets[1] ?? {}, { id: 'app' }), problem: 'targets[1].id: duplicate id "app"' },
    { case: 'a misspelt field', change: (p: typeof shipped) => Object.assign(p.targets[0] ?? {}, { maxx: 3 }), problem: 'targets[0]: Unrecognized key: "maxx"' },
    { case: 'a clock time of 25:00', change: (p: typeof shipped) => Object.assign(p.schedules[0] ?? {}, { start: '25:00' }), problem: 'schedules[0].start: expected HH:MM, 00:00 to 24:00' },
  ])('reports $case with the path of the field', ({ change, problem }) => {
    expect(problems(variant(change))).toContain(problem);
  });

  // A bare number was once read as seconds: `cooldown: 10` meant as minutes passed unseen.
  it.each([
    { case: 'a default cooldown', change: (p: typeof shipped) => Object.assign(p.defaults, { cooldown: 300 }), problem: 'defaults.cooldown: expected a duration such as 90s, 10m, 1h or 2d, got the number 300 (write 300s)' },
    { case: 'a target warm-up', change: (p: typeof shipped) => Object.assign(p.targets[1] ?? {}, { warmup: 180 }), problem: 'targets[1].warmup: expected a duration such as 90s, 10m, 1h or 2d, got the number 180 (write 180s)' },
    { case: 'a rule cooldown of 0', change: (p: typeof shipped) => Object.assign(p.rules[0] ?? {}, { cooldown: 0 }), problem: 'rules[0].cooldown: expected a duration such as 90s, 10m, 1h or 2d, got the number 0 (write 0s)' },
    { case: 'a window lead time', change: (p: typeof shipped) => Object.assign(p.schedules[0] ?? {}, { preScale: 1800 }), problem: 'schedules[0].preScale: expected a duration such as 90s, 10m, 1h or 2d, got the number 1800 (write 1800s)' },
    { case: 'a fraction, with no suggestion', change: (p: typeof shipped) => Object.assign(p.defaults, { drain: 1.5 }), problem: 'defaults.drain: expected a duration such as 90s, 10m, 1h or 2d, got the number 1.5' },
  ])('refuses a bare number as $case', ({ change, problem }) => {
    expect(problems(variant(change))).toContain(problem);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('version: 1\ntargets: [\n')[0]).toMatch(/^not valid YAML: .*line 3/s);
  });
});

describe('Command: validate', () => {
  it('exits 1 naming the file, the field and the problem, and 0 for the shipped policy', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, variant((p) => Object.assign(p.targets[0] ?? {}, { min: 11 })));
    const run = (file: string) => {
      try {
        return { code: 0, out: execFileSync('npx', ['tsx', 'bin/cli.ts', 'validate', file], { encoding: 'utf8', stdio: 'pipe' }) };
      } catch (error) {
        const failed = error as { status: number; stderr: string };
        return { code: failed.status, out: failed.stderr };
      }
    };

    // Act
    const good = run('policy.yaml');
    const broken = run(bad);

    // Assess
    expect(good).toMatchObject({ code: 0, out: expect.stringContaining('policy.yaml: valid') });
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`invalid policy ${bad}:\n  - targets[0].min: min 11 exceeds max 10`);
  }, 30_000);

  it('says when the file cannot be read', () => {
    expect(() => loadPolicyFile('/nonexistent/policy.yaml')).toThrow('invalid policy /nonexistent/policy.yaml:\n  - cannot read the file: ENOENT');
  });
});
