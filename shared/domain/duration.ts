import * as z from './zod.ts';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const DURATION = /^(\d+)(s|m|h|d)$/;

/**
 * Parses a duration written as the runbooks write them (`90s`, `10m`, `1h`, `2d`)
 * into whole seconds.
 */
export const parseDuration = (text: string): number | undefined => {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
};

const EXPECTED = 'expected a duration such as 90s, 10m, 1h or 2d';

/**
 * A duration field: `10m` in the policy, seconds inside the code. A bare number is refused
 * rather than read as seconds: `cooldown: 10` meant as minutes would otherwise pass unseen.
 */
export const durationSchema = z.pipe(
  z.string({
    error: (issue) => {
      if (typeof issue.input !== 'number') return undefined;
      const hint = Number.isInteger(issue.input) && issue.input >= 0 ? ` (write ${issue.input}s)` : '';
      return `${EXPECTED}, got the number ${issue.input}${hint}`;
    },
  }),
  z.transform((value: string, ctx) => {
    const seconds = parseDuration(value);
    if (seconds === undefined) {
      ctx.issues.push({ code: 'custom', message: `${EXPECTED}, got "${value}"`, input: value });
      return z.NEVER;
    }
    return seconds;
  }),
);

/** Renders seconds the way the policy writes them, for logs and reasons. */
export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.ceil(seconds));
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${s}s`;
};
