import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type PolicyInput, validatePolicy } from '../../shared/domain/policy.ts';
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
    {
      case: 'an overlapping window, at the later one',
      line: 26,
      text: '        desired: 3\n  - { id: late, start: "16:00", end: "18:00", targets: { web: { desired: 2 } } }',
      problem: 'schedules[1] (line 27): window "late" overlaps window "day" at the same priority 0 for web (both apply at sun 16:00): give one a higher priority or move it',
    },
  ])('gives the line of $case', ({ line, text, problem }) => {
    expect(problems(rewrite(line, text))).toContain(problem);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('version: 1\ntargets: [\n')[0]).toMatch(/^not valid YAML: .*line 3/s);
  });
});

type Window = NonNullable<PolicyInput['schedules']>[number];

/** The problems of a policy with two windows, `first` then `second`, on one workload. */
const overlapProblems = (first: Partial<Window>, second: Partial<Window>): string[] => {
  const window = (id: string, times: Partial<Window>): Window => ({ id, start: '09:00', end: '17:00', targets: { web: { desired: 2 } }, ...times });
  const result = validatePolicy({
    version: 1,
    timezone: 'America/New_York',
    targets: [
      { id: 'web', kind: 'deployment', namespace: 'ml', name: 'web', cluster: 'prod', min: 1, max: 9 },
      { id: 'api', kind: 'deployment', namespace: 'ml', name: 'api', cluster: 'prod', min: 1, max: 9 },
    ],
    schedules: [window('first', first), window('second', second)],
  } satisfies PolicyInput);
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
};

// Windows of one priority that overlap on a target would leave the one in force to the order of
// the file, so validation refuses them; the weekly pattern is read in local time. 2026-11-30 is a
// Monday, 2026-12-01 a Tuesday.
describe('Policy: overlapping windows of equal priority', () => {
  it.each([
    { case: 'the same day, overlapping hours', first: { days: ['mon'] }, second: { days: ['mon', 'tue'], start: '16:00', end: '18:00' }, at: 'mon 16:00' },
    { case: 'the same hours on other days', first: { days: ['mon'] }, second: { days: ['tue'] }, at: undefined },
    { case: 'one ending as the other starts', first: {}, second: { start: '17:00', end: '20:00' }, at: undefined },
    { case: 'a cross-midnight window into the next day\'s', first: { days: ['fri'], start: '22:00', end: '02:00' }, second: { days: ['sat'], start: '01:00', end: '03:00' }, at: 'sat 01:00' },
    { case: 'a cross-midnight window ending as the next day\'s starts', first: { days: ['fri'], start: '22:00', end: '02:00' }, second: { days: ['sat'], start: '02:00', end: '04:00' }, at: undefined },
    { case: 'Saturday night into Sunday, across the week', first: { days: ['sat'], start: '23:00', end: '01:00' }, second: { days: ['sun'], start: '00:30', end: '06:00' }, at: 'sun 00:30' },
    { case: 'a pre-scale lead reaching into the window before', first: { days: ['mon'], start: '06:00', end: '09:00' }, second: { days: ['mon'], preScale: '30m' }, at: 'mon 08:30' },
    { case: 'a pre-scale lead reaching back over midnight', first: { days: ['sun'], start: '23:00', end: '24:00' }, second: { days: ['mon'], start: '00:15', end: '06:00', preScale: '30m' }, at: 'sun 23:45' },
    { case: 'a lead that stops where the window before ends', first: { days: ['mon'], start: '06:00', end: '08:30' }, second: { days: ['mon'], preScale: '30m' }, at: undefined },
    { case: 'a date on one of the weekly window\'s days', first: { days: ['tue'] }, second: { dates: ['2026-12-01'], start: '08:00', end: '10:00' }, at: '2026-12-01 09:00' },
    { case: 'a date on another day', first: { days: ['tue'] }, second: { dates: ['2026-11-30'], start: '08:00', end: '10:00' }, at: undefined },
    { case: 'a date the weekly window reaches from the night before', first: { days: ['mon'], start: '22:00', end: '02:00' }, second: { dates: ['2026-12-01'], start: '01:00', end: '03:00' }, at: '2026-12-01 01:00' },
    { case: 'a date the weekly window excepts', first: { days: ['tue'], except: ['2026-12-01'] }, second: { dates: ['2026-12-01'], start: '08:00', end: '10:00' }, at: undefined },
    { case: 'a date on a day the dated window does not run', first: { days: ['tue'] }, second: { days: ['mon'], dates: ['2026-12-01'] }, at: undefined },
    { case: 'two weekly windows, whatever one excepts', first: { days: ['mon'], except: ['2026-11-30'] }, second: { days: ['mon'], start: '10:00', end: '11:00' }, at: 'mon 10:00' },
    { case: 'two dated windows sharing a date', first: { dates: ['2026-12-01'], start: '08:00', end: '12:00' }, second: { dates: ['2026-11-30', '2026-12-01'], start: '11:00', end: '13:00' }, at: '2026-12-01 11:00' },
    { case: 'two dated windows on different dates', first: { dates: ['2026-12-01'] }, second: { dates: ['2026-11-30'] }, at: undefined },
    { case: 'windows of different priorities (the higher wins)', first: { priority: 10 }, second: { start: '10:00', end: '11:00' }, at: undefined },
    { case: 'windows on different targets', first: {}, second: { targets: { api: { desired: 2 } } }, at: undefined },
    { case: 'windows in different time zones (DST moves one against the other)', first: { timezone: 'Europe/Paris' }, second: {}, at: undefined },
  ] satisfies { case: string; first: Partial<Window>; second: Partial<Window>; at: string | undefined }[])('$case: $at', ({ first, second, at }) => {
    expect(overlapProblems(first, second)).toEqual(
      at === undefined ? [] : [`schedules[1]: window "second" overlaps window "first" at the same priority 0 for web (both apply at ${at}): give one a higher priority or move it`],
    );
  });

  it('names every target the two windows share', () => {
    expect(overlapProblems({ targets: { web: {}, api: {} } }, { targets: { api: {}, web: {} } })).toEqual([
      'schedules[1]: window "second" overlaps window "first" at the same priority 0 for api, web (both apply at sun 09:00): give one a higher priority or move it',
    ]);
  });
});

describe('Function: loadPolicyFile', () => {
  it('says when the file cannot be read', () => {
    expect(() => loadPolicyFile('/nonexistent/policy.yaml')).toThrow('invalid policy /nonexistent/policy.yaml:\n  - cannot read the file: ENOENT');
  });
});
