import type { Schedule } from './policy.ts';
import type { Weekday } from './schedule.ts';

/** Minutes in a day: windows are compared on local wall-clock minutes. */
const DAY = 1440;
const DAY_MS = 86_400_000;

// Sunday first, as Date counts; a Record, so a day the policy spells differently fails to compile.
const DAY_INDEX: Record<Weekday, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const DAY_NAMES = Object.keys(DAY_INDEX);

/** What decides when a window applies, in local time. */
export type WindowTimes = Pick<Schedule, 'days' | 'start' | 'end' | 'preScale' | 'dates' | 'except'>;

/** Days are counted from 1970-01-01, a Thursday. */
const weekdayOf = (day: number): number => (((day + 4) % 7) + 7) % 7;
/** A week from Sunday (1970-01-04), where a weekly window's occurrences are looked for. */
const ONE_WEEK = [3, 4, 5, 6, 7, 8, 9];
const isoOf = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * Whether the window opens on `day`. Against weekly windows only, `dates` and `except` play
 * no part: a weekly window runs every week, and a few dates off leave the other weeks.
 */
const opensOn = (window: WindowTimes, day: number, onDates: boolean): boolean => {
  if (!window.days.some((d) => DAY_INDEX[d] === weekdayOf(day))) return false;
  if (!onDates) return true;
  const iso = isoOf(day);
  return (window.dates === undefined || window.dates.includes(iso)) && !window.except.includes(iso);
};

/** The minutes, counted from day 0, during which the occurrence opening on `day` applies, lead included. */
const span = (window: WindowTimes, day: number): [number, number] => {
  const start = day * DAY + window.start;
  // An end at or before the start closes the window the next day, as schedule.ts reads it.
  const end = day * DAY + window.end + (window.end <= window.start ? DAY : 0);
  return [start - window.preScale / 60, end];
};

const formatMoment = (minute: number, onDates: boolean): string => {
  const day = Math.floor(minute / DAY);
  const time = Math.floor(minute - day * DAY);
  const clock = `${String(Math.floor(time / 60)).padStart(2, '0')}:${String(time % 60).padStart(2, '0')}`;
  return `${onDates ? isoOf(day) : DAY_NAMES[weekdayOf(day)]} ${clock}`;
};

/**
 * A local moment at which both windows apply, pre-scale lead included (`mon 08:30`, or
 * `2026-12-01 08:00` when either window has `dates`), or undefined when they never do.
 * Decided on the weekly pattern in local time: both windows are read in one time zone.
 */
export const sharedMoment = (a: WindowTimes, b: WindowTimes): string | undefined => {
  // A window with dates anchors the search to them; two weekly windows repeat every week, so one week does.
  const [anchor, other] = a.dates === undefined ? [b, a] : [a, b];
  const onDates = anchor.dates !== undefined;
  const days = anchor.dates?.map((iso) => Date.parse(iso) / DAY_MS).filter(Number.isInteger) ?? ONE_WEEK;
  for (const day of days) {
    if (!opensOn(anchor, day, onDates)) continue;
    const [from, until] = span(anchor, day);
    // An occurrence begins at most its lead before its opening day and ends before that day's second midnight.
    for (let near = Math.floor(from / DAY) - 2; near * DAY - other.preScale / 60 < until; near += 1) {
      if (!opensOn(other, near, onDates)) continue;
      const [otherFrom, otherUntil] = span(other, near);
      if (otherFrom < until && from < otherUntil) return formatMoment(Math.max(from, otherFrom), onDates);
    }
  }
  return undefined;
};
