import type { Schedule } from './policy.ts';
import type { ResolvedSchedule } from './resolve.ts';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const MINUTE = 60_000;
const DAY = 86_400_000;

/** A calendar date in some time zone, as UTC midnight of that date (for arithmetic only). */
type LocalDate = number;

const formatters = new Map<string, Intl.DateTimeFormat>();
const formatterFor = (zone: string): Intl.DateTimeFormat => {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
};

const formatOffset = (instant: number, zone: string): number => {
  const parts = Object.fromEntries(
    formatterFor(zone)
      .formatToParts(new Date(instant))
      .map((p) => [p.type, Number(p.value)]),
  );
  const wall = Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  return wall - Math.floor(instant / 1000) * 1000;
};

// Zone offsets change only at transitions aligned to a quarter hour, so one lookup per
// quarter hour and zone serves every instant in it; Intl formatting is the slow part.
const QUARTER_HOUR = 15 * MINUTE;
const offsets = new Map<string, number>();
const offsetAt = (instant: number, zone: string): number => {
  const bucket = Math.floor(instant / QUARTER_HOUR) * QUARTER_HOUR;
  const key = `${zone}|${bucket}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    if (offsets.size > 10_000) offsets.clear();
    offset = formatOffset(bucket, zone);
    offsets.set(key, offset);
  }
  return offset;
};

/** The wall-clock reading of an instant in a zone, expressed as if it were UTC. */
export const wallClock = (instant: number, zone: string): number => instant + offsetAt(instant, zone);

/**
 * The first instant at which the zone's wall clock reads `minutes` past midnight of `date`
 * or later. On a spring-forward day a time inside the gap resolves to the end of the gap
 * (the window still opens, late); on a fall-back day an ambiguous time resolves to its
 * first occurrence (the window opens once).
 */
export const zonedInstant = (date: LocalDate, minutes: number, zone: string): number => {
  const naive = date + minutes * MINUTE;
  const offsets = [...new Set([offsetAt(naive - DAY, zone), offsetAt(naive + DAY, zone), offsetAt(naive, zone)])];
  const exact = offsets.map((o) => naive - o).filter((t) => wallClock(t, zone) === naive);
  if (exact.length > 0) return Math.min(...exact);
  // Inside a gap: bisect for the instant where the wall clock jumps past `naive`.
  let low = naive - Math.max(...offsets);
  let high = naive - Math.min(...offsets);
  while (high - low > 1000) {
    const mid = Math.floor((low + high) / 2000) * 1000;
    if (wallClock(mid, zone) >= naive) high = mid;
    else low = mid;
  }
  return high;
};

export const localDate = (instant: number, zone: string): LocalDate => {
  const wall = wallClock(instant, zone);
  return wall - (wall % DAY);
};

export const isoDate = (date: LocalDate): string => new Date(date).toISOString().slice(0, 10);
const weekday = (date: LocalDate): Weekday => WEEKDAYS[new Date(date).getUTCDay()] as Weekday;

/** One occurrence of a window: it applies from `from` (start minus lead) until `until`. */
export interface Occurrence {
  schedule: Schedule;
  from: number;
  start: number;
  until: number;
}

// Occurrences depend only on (window, date, zone); the tick asks for the same ones every minute.
const occurrences = new WeakMap<Schedule, Map<string, Occurrence | null>>();

const occurrenceOn = (schedule: Schedule, date: LocalDate, zone: string): Occurrence | undefined => {
  let byDate = occurrences.get(schedule);
  if (!byDate) {
    byDate = new Map();
    occurrences.set(schedule, byDate);
  }
  const key = `${zone}|${date}`;
  let occurrence = byDate.get(key);
  if (occurrence === undefined) {
    if (byDate.size > 64) byDate.clear();
    occurrence = computeOccurrence(schedule, date, zone) ?? null;
    byDate.set(key, occurrence);
  }
  return occurrence ?? undefined;
};

const computeOccurrence = (schedule: Schedule, date: LocalDate, zone: string): Occurrence | undefined => {
  const iso = isoDate(date);
  if (!schedule.days.includes(weekday(date))) return undefined;
  if (schedule.dates && !schedule.dates.includes(iso)) return undefined;
  if (schedule.except.includes(iso)) return undefined;
  const start = zonedInstant(date, schedule.start, zone);
  const endDate = schedule.end <= schedule.start ? date + DAY : date;
  const until = zonedInstant(endDate, schedule.end, zone);
  return { schedule, from: start - schedule.preScale * 1000, start, until };
};

/**
 * The occurrence of `schedule` that covers `instant`, if any. A pure function of the
 * window, the instant and the zone: the clock is never read here.
 */
export const occurrenceAt = (schedule: Schedule, instant: number, zone: string): Occurrence | undefined => {
  const today = localDate(instant, zone);
  // Yesterday's occurrence may still run (cross-midnight); tomorrow's may have begun its lead.
  for (const date of [today - DAY, today, today + DAY]) {
    const occurrence = occurrenceOn(schedule, date, zone);
    if (occurrence && occurrence.from <= instant && instant < occurrence.until) return occurrence;
  }
  return undefined;
};

/** The window in force among a target's windows: the highest priority among those covering it. */
export const activeWindow = (schedules: readonly ResolvedSchedule[], instant: number): Occurrence | undefined => {
  let best: Occurrence | undefined;
  for (const schedule of schedules) {
    const occurrence = occurrenceAt(schedule, instant, schedule.timezone);
    if (occurrence && (!best || occurrence.schedule.priority > best.schedule.priority)) best = occurrence;
  }
  return best;
};


/**
 * The first instant after `instant` at which the window in force among `schedules` may
 * change: the nearest edge (lead, start or end) of any of their occurrences. Looks a day
 * ahead and answers that horizon when no edge is nearer, so a caller that waits until then
 * asks again rather than missing an edge. A replay sleeps until here when nothing else moves.
 */
export const nextWindowChange = (schedules: readonly ResolvedSchedule[], instant: number): number => {
  let next = instant + DAY;
  for (const schedule of schedules) {
    const today = localDate(instant, schedule.timezone);
    // Yesterday's may end today (cross-midnight); a later day's lead may begin within the day.
    const ahead = 2 + Math.ceil((schedule.preScale * 1000) / DAY);
    for (let date = today - DAY; date <= today + ahead * DAY; date += DAY) {
      const occurrence = occurrenceOn(schedule, date, schedule.timezone);
      if (!occurrence) continue;
      for (const edge of [occurrence.from, occurrence.start, occurrence.until]) if (edge > instant && edge < next) next = edge;
    }
  }
  return next;
};
