import { styleText } from 'node:util';
import type { HistoryEntry } from '../../shared/domain/state.ts';

/**
 * The exit codes of the operator's commands, the same for all of them (README, "Operating it").
 */
export const EXIT = {
  ok: 0,
  /** The service answered, and the answer is bad: unhealthy, an outcome not applied, a request refused. */
  bad: 1,
  /** The command line is wrong. */
  usage: 2,
  /** The service could not be reached or read: connection, credentials, stack, token. */
  unreachable: 3,
} as const;

/** A command line the command cannot use: printed with its usage, exit 2. */
export class UsageError extends Error {
  public override readonly name = 'UsageError';
}

/** The service could not be reached or read: exit 3. */
export class UnreachableError extends Error {
  public override readonly name = 'UnreachableError';
}

/** The service refused the request (4xx, or the emergency function's `ok: false`): exit 1. */
export class RefusedError extends Error {
  public override readonly name = 'RefusedError';

  public constructor(
    message: string,
    public readonly details: readonly unknown[] = [],
  ) {
    super(message);
  }
}

type Style = Parameters<typeof styleText>[0];

export interface Out {
  /** Colour only on a terminal, never with --json or NO_COLOR. */
  paint(style: Style, text: string): string;
  line(text?: string): void;
  json(value: unknown): void;
}

export const output = (stream: NodeJS.WriteStream, json: boolean): Out => {
  const colour = !json && stream.isTTY === true && process.env.NO_COLOR === undefined;
  return {
    paint: (style, text) => (colour ? styleText(style, text) : text),
    line: (text = '') => void stream.write(`${text}\n`),
    json: (value) => void stream.write(`${JSON.stringify(value, null, 2)}\n`),
  };
};

/** `4m10s`, `1h2m`: the lengths status shows. */
export const seconds = (total: number): string => {
  const s = Math.max(0, Math.round(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', rest || (!h && !m) ? `${rest}s` : ''].join('');
};

/** `3 -> 4 [ScaleUp] msg`, `3 (hold) [VetoedByAlert] msg <- ScheduleEntry`: one decision, as every command prints it. */
export const decisionLine = (out: Out, entry: Pick<HistoryEntry, 'from' | 'to' | 'code' | 'cause' | 'message'>): string => {
  const moved = entry.from !== entry.to;
  const sizes = moved ? `${entry.from} -> ${entry.to}` : `${entry.from} (no change)`;
  const code = out.paint(moved ? 'green' : 'yellow', `[${entry.code}]`);
  return `${sizes} ${code} ${entry.message}${entry.cause ? ` ${out.paint('dim', `<- ${entry.cause}`)}` : ''}`;
};

/** Rows of two columns, the first padded: the per-target tables. */
export const rows = (out: Out, list: readonly (readonly [string, string])[], indent = '  '): void => {
  const width = Math.max(...list.map(([key]) => key.length));
  for (const [key, value] of list) out.line(`${indent}${out.paint('bold', key.padEnd(width))}  ${value}`);
};
