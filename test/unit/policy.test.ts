import { readFileSync } from 'node:fs';
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

const LINE = / \(line \d+\):/;
/** The problems as the path tables write them, each checked to carry its line first. */
const atPaths = (text: string): string[] => {
  const found = problems(text);
  expect(found.filter((p) => !LINE.test(p))).toEqual([]);
  return found.map((p) => p.replace(LINE, ':'));
};

// A small policy whose line numbers a reader can count; each row below rewrites one line.
const NUMBERED = `version: 1
timezone: America/New_York
targets:
  - id: web
    kind: deployment
    namespace: ml
    name: web
    cluster: prod
    min: 1
    max: 5
  - { id: pool, kind: eks-nodegroup, cluster: prod, nodegroup: gpu, min: 0, max: 4, gpusPerNode: 4 }
rules:
  - id: web-busy
    alert: WebBusy
    target: web
    action: { type: step, by: 1 }
    cooldown: 5m
vetoes:
  - { id: hold, alert: Hold, targets: [web] }
schedules:
  - id: day
    start: "09:00"
    end: "17:00"
    targets:
      web:
        desired: 3
`;

/** NUMBERED with line `number` (1-based) rewritten. */
const rewrite = (number: number, line: string): string =>
  NUMBERED.split('\n')
    .map((text, index) => (index === number - 1 ? line : text))
    .join('\n');

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
    expect(atPaths(variant(change))).toContain(problem);
  });

  // A bare number was once read as seconds: `cooldown: 10` meant as minutes passed unseen.
  it.each([
    { case: 'a default cooldown', change: (p: typeof shipped) => Object.assign(p.defaults, { cooldown: 300 }), problem: 'defaults.cooldown: expected a duration such as 90s, 10m, 1h or 2d, got the number 300 (write 300s)' },
    { case: 'a target warm-up', change: (p: typeof shipped) => Object.assign(p.targets[1] ?? {}, { warmup: 180 }), problem: 'targets[1].warmup: expected a duration such as 90s, 10m, 1h or 2d, got the number 180 (write 180s)' },
    { case: 'a rule cooldown of 0', change: (p: typeof shipped) => Object.assign(p.rules[0] ?? {}, { cooldown: 0 }), problem: 'rules[0].cooldown: expected a duration such as 90s, 10m, 1h or 2d, got the number 0 (write 0s)' },
    { case: 'a window lead time', change: (p: typeof shipped) => Object.assign(p.schedules[0] ?? {}, { preScale: 1800 }), problem: 'schedules[0].preScale: expected a duration such as 90s, 10m, 1h or 2d, got the number 1800 (write 1800s)' },
    { case: 'a fraction, with no suggestion', change: (p: typeof shipped) => Object.assign(p.defaults, { drain: 1.5 }), problem: 'defaults.drain: expected a duration such as 90s, 10m, 1h or 2d, got the number 1.5' },
  ])('refuses a bare number as $case', ({ change, problem }) => {
    expect(atPaths(variant(change))).toContain(problem);
  });

  it('accepts the numbered policy', () => {
    expect(problems(NUMBERED)).toEqual([]);
  });

  // Every problem carries the line of the field at fault; a field the file leaves out (or to
  // its default) points at its closest parent that the file writes.
  it.each([
    { case: 'min above max', line: 9, text: '    min: 6', problem: 'targets[0].min (line 9): min 6 exceeds max 5' },
    { case: 'a duplicate id in a flow mapping', line: 11, text: '  - { id: web, kind: eks-nodegroup, cluster: prod, nodegroup: gpu, min: 0, max: 4, gpusPerNode: 4 }', problem: 'targets[1].id (line 11): duplicate id "web"' },
    { case: 'a defaulted field, at its target', line: 8, text: '    pool: pool', problem: 'targets[0].gpusPerReplica (line 4): a workload in a GPU pool needs gpusPerReplica > 0' },
    { case: 'a rule on an unknown target', line: 15, text: '    target: ghost', problem: 'rules[0].target (line 15): unknown target "ghost"' },
    { case: 'a veto on an unknown target, inside an array', line: 19, text: '  - { id: hold, alert: Hold, targets: [web, ghost] }', problem: 'vetoes[0].targets[1] (line 19): unknown target "ghost"' },
    { case: 'a window on an unknown target, at its key', line: 25, text: '      ghost:', problem: 'schedules[0].targets.ghost (line 25): unknown target "ghost"' },
    { case: 'a window size outside the hard bounds', line: 26, text: '        desired: 9', problem: 'schedules[0].targets.web.desired (line 26): desired 9 is outside the hard bounds 1-5 of "web"' },
    { case: 'a misspelt field, at the misspelt key', line: 17, text: '    cooldwn: 5m', problem: 'rules[0] (line 17): Unrecognized key: "cooldwn"' },
    { case: 'a bare number as a duration', line: 17, text: '    cooldown: 300', problem: 'rules[0].cooldown (line 17): expected a duration such as 90s, 10m, 1h or 2d, got the number 300 (write 300s)' },
  ])('gives the line of $case', ({ line, text, problem }) => {
    expect(problems(rewrite(line, text))).toContain(problem);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('version: 1\ntargets: [\n')[0]).toMatch(/^not valid YAML: .*line 3/s);
  });
});

describe('Function: loadPolicyFile', () => {
  it('says when the file cannot be read', () => {
    expect(() => loadPolicyFile('/nonexistent/policy.yaml')).toThrow('invalid policy /nonexistent/policy.yaml:\n  - cannot read the file: ENOENT');
  });
});
