import { describe, expect, it } from 'vitest';
import { type Schedule, scheduleSchema } from '../../shared/domain/policy.ts';
import { activeWindow, nextWindowChange, occurrenceAt, zonedInstant } from '../../shared/domain/schedule.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';

const window = (fields: Record<string, unknown>): Schedule => scheduleSchema.parse({ id: 'w', targets: {}, ...fields });
const at = (text: string) => Date.parse(text);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Walks a day minute by minute and lists the instants where the window opens and closes. */
const transitions = (schedule: Schedule, zone: string, fromUtc: string, hours: number) => {
  const edges: string[] = [];
  let inside = false;
  for (let t = at(fromUtc); t < at(fromUtc) + hours * 3_600_000; t += 60_000) {
    const now = occurrenceAt(schedule, t, zone) !== undefined;
    if (now !== inside) edges.push(`${now ? 'open' : 'close'} ${new Date(t).toISOString()}`);
    inside = now;
  }
  return edges;
};

describe('Function: zonedInstant', () => {
  it.each([
    // zone, local date, local time, expected instant
    { zone: 'America/New_York', date: '2026-11-23', minutes: 600, expected: '2026-11-23T15:00:00.000Z' }, // EST
    { zone: 'America/New_York', date: '2026-07-01', minutes: 600, expected: '2026-07-01T14:00:00.000Z' }, // EDT
    // spring forward: 02:30 does not exist, the window opens when the clock jumps to 03:00
    { zone: 'America/New_York', date: '2026-03-08', minutes: 150, expected: '2026-03-08T07:00:00.000Z' },
    // fall back: 01:30 happens twice, the first one counts
    { zone: 'America/New_York', date: '2026-11-01', minutes: 90, expected: '2026-11-01T05:30:00.000Z' },
    { zone: 'Europe/Berlin', date: '2026-03-29', minutes: 150, expected: '2026-03-29T01:00:00.000Z' },
    { zone: 'Asia/Kolkata', date: '2026-11-23', minutes: 0, expected: '2026-11-22T18:30:00.000Z' },
    { zone: 'UTC', date: '2026-11-23', minutes: 1440, expected: '2026-11-24T00:00:00.000Z' },
  ])('$zone $date +$minutes min -> $expected', ({ zone, date, minutes, expected }) => {
    expect(iso(zonedInstant(Date.parse(`${date}T00:00:00Z`), minutes, zone))).toBe(expected);
  });
});

describe('Function: occurrenceAt', () => {
  const ny = 'America/New_York';

  it.each([
    {
      case: 'off-peak 01:00-06:00 on the spring-forward day opens once and lasts 4 hours',
      schedule: window({ start: '01:00', end: '06:00' }),
      from: '2026-03-08T00:00:00Z',
      expected: ['open 2026-03-08T06:00:00.000Z', 'close 2026-03-08T10:00:00.000Z'],
    },
    {
      case: 'a window inside the skipped hour (02:30-04:00) still opens, at 03:00 EDT',
      schedule: window({ start: '02:30', end: '04:00' }),
      from: '2026-03-08T00:00:00Z',
      expected: ['open 2026-03-08T07:00:00.000Z', 'close 2026-03-08T08:00:00.000Z'],
    },
    {
      case: 'off-peak on the fall-back day opens once and lasts 6 hours',
      schedule: window({ start: '01:00', end: '06:00' }),
      from: '2026-11-01T00:00:00Z',
      expected: ['open 2026-11-01T05:00:00.000Z', 'close 2026-11-01T11:00:00.000Z'],
    },
    {
      case: 'a window inside the repeated hour (01:00-01:30) is not doubled on fall-back',
      schedule: window({ start: '01:00', end: '01:30' }),
      from: '2026-11-01T00:00:00Z',
      expected: ['open 2026-11-01T05:00:00.000Z', 'close 2026-11-01T05:30:00.000Z'],
    },
    {
      case: 'cross-midnight 18:00-01:00 runs into the next day',
      schedule: window({ start: '18:00', end: '01:00' }),
      from: '2026-11-23T12:00:00Z',
      expected: ['open 2026-11-23T23:00:00.000Z', 'close 2026-11-24T06:00:00.000Z'],
    },
    {
      case: 'pre-scale lead opens the window 30 minutes early; the end does not move',
      schedule: window({ start: '09:00', end: '18:00', preScale: '30m' }),
      from: '2026-11-23T12:00:00Z',
      expected: ['open 2026-11-23T13:30:00.000Z', 'close 2026-11-23T23:00:00.000Z'],
    },
    {
      case: 'weekdays only: nothing on a Saturday',
      schedule: window({ start: '09:00', end: '18:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] }),
      from: '2026-11-28T05:00:00Z',
      expected: [],
    },
    {
      case: 'a one-off date and a holiday exception',
      schedule: window({ start: '09:00', end: '10:00', dates: ['2026-12-01', '2026-12-02'], except: ['2026-12-02'] }),
      from: '2026-11-30T05:00:00Z',
      hours: 72,
      expected: ['open 2026-12-01T14:00:00.000Z', 'close 2026-12-01T15:00:00.000Z'],
    },
  ])('$case', ({ schedule, from, expected, hours }) => {
    expect(transitions(schedule, ny, from, hours ?? 24)).toEqual(expected);
  });
});

describe('Function: activeWindow', () => {
  const policy = loadPolicyFile('policy.yaml');
  const app = resolvePolicy(policy).target('app');
  if (!app) throw new Error('policy.yaml has no app target');

  it.each([
    { local: '2026-11-23T08:29:00-05:00', expected: 'normal-morning' },
    { local: '2026-11-23T08:30:00-05:00', expected: 'peak' }, // 30 min pre-scale
    { local: '2026-11-23T17:59:00-05:00', expected: 'peak' },
    { local: '2026-11-23T18:00:00-05:00', expected: 'normal-evening' },
    { local: '2026-11-24T00:30:00-05:00', expected: 'normal-evening' }, // cross-midnight
    { local: '2026-11-24T01:00:00-05:00', expected: 'off-peak' },
    { local: '2026-11-24T06:00:00-05:00', expected: 'normal-morning' },
    { local: '2026-12-25T12:00:00-05:00', expected: undefined }, // peak excepted on Christmas
  ])('app at $local is in $expected', ({ local, expected }) => {
    expect(activeWindow(app.schedules, Date.parse(local))?.schedule.id).toBe(expected);
  });

  it('covers every minute of both DST days with exactly the expected windows', () => {
    // Each window is entered once a day, whatever the clock change does.
    for (const day of ['2026-03-08', '2026-11-01']) {
      const entries = new Map<string, number>();
      let previous = activeWindow(app.schedules, Date.parse(`${day}T04:00:00Z`))?.schedule.id;
      for (let t = Date.parse(`${day}T04:00:00Z`); t < Date.parse(`${day}T04:00:00Z`) + 86_400_000; t += 60_000) {
        const id = activeWindow(app.schedules, t)?.schedule.id;
        if (id !== previous && id) entries.set(id, (entries.get(id) ?? 0) + 1);
        previous = id;
      }
      expect(Object.fromEntries(entries), day).toEqual({ 'off-peak': 1, 'normal-morning': 1, peak: 1, 'normal-evening': 1 });
    }
  });
});

describe('Function: nextWindowChange', () => {
  const policy = loadPolicyFile('policy.yaml');
  const app = resolvePolicy(policy).target('app');
  if (!app) throw new Error('policy.yaml has no app target');

  /** The minutes where the window in force changes, walked minute by minute: what nextWindowChange must never jump over. */
  const edgesByMinute = (from: number, to: number): number[] => {
    const edges: number[] = [];
    let previous = activeWindow(app.schedules, from)?.schedule.id;
    for (let t = from + 60_000; t < to; t += 60_000) {
      const id = activeWindow(app.schedules, t)?.schedule.id;
      if (id !== previous) edges.push(t);
      previous = id;
    }
    return edges;
  };

  it.each([
    { case: 'spring forward in New York', from: '2026-03-07T05:00:00Z' },
    { case: 'fall back in New York', from: '2026-10-31T04:00:00Z' },
    { case: 'Christmas, when peak is excepted', from: '2026-12-24T05:00:00Z' },
  ])('lands on every window change of two days around $case', ({ from }) => {
    // Prepare
    const start = at(from);
    const end = start + 2 * 86_400_000;
    const expected = edgesByMinute(start, end);

    // Act: jump from edge to edge
    const jumps: number[] = [];
    for (let t = nextWindowChange(app.schedules, start); t < end; t = nextWindowChange(app.schedules, t)) jumps.push(t);

    // Assess: every change is among the jumps; the extra jumps are window starts inside a lead
    expect(expected.filter((edge) => !jumps.includes(edge)).map(iso)).toEqual([]);
    expect(jumps.length).toBeLessThanOrEqual(expected.length + 3);
  });
});
