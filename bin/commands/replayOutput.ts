import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { z } from 'zod';
import { zonedInstant } from '../../shared/domain/schedule.ts';
import { PolicyError } from '../../shared/policyFile.ts';
import { type HtmlTable, type PictureRun, pictureSpec, renderHtml, renderSvg } from '../../shared/replay/picture.ts';
import { PrometheusError } from '../../shared/replay/prometheus.ts';
import { ReplayError, type ReplayResult } from '../../shared/replay/replay.ts';
import { TimelineError } from '../../shared/replay/timeline.ts';
import { WebhookLogError } from '../../shared/replay/webhookLog.ts';
import { costLines, gpuNodeHours, localStamp, transitionJson, transitionLine } from '../../shared/replay/report.ts';
import { UsageError } from './output.ts';

/** Exit codes of simulate and backtest: 0 done, 1 an input could not be used, 2 the command line is wrong. */
export const EXIT = { ok: 0, badInput: 1, usage: 2 } as const;


/** An input the command was given cannot be used: it prints the error and exits 1. */
const INPUT_ERRORS = [PolicyError, TimelineError, WebhookLogError, PrometheusError, ReplayError] as const;

const LOCAL = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2}))?$/;
/** An ISO 8601 instant with its offset (`Z` or `-05:00`): never read in the machine's zone. */
export const offsetInstant = z.iso.datetime({ offset: true });

/**
 * `--from`/`--to`: an instant with its offset (`2027-03-10T08:00:00-05:00`), or a local date or
 * date and time in the policy's zone (`2027-03-10` is its midnight there), as the schedules read it.
 */
export const parseInstant = (flag: string, text: string | undefined, zone: string): number => {
  if (text === undefined) throw new UsageError(`--${flag} is required`);
  const local = LOCAL.exec(text);
  const date = local ? Date.parse(`${local[1]}T00:00:00Z`) : Number.NaN;
  const instant = local
    ? zonedInstant(date, Number(local[2] ?? 0) * 60 + Number(local[3] ?? 0), zone)
    : offsetInstant.safeParse(text).success ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(instant)) throw new UsageError(`--${flag} must be an ISO date (2027-03-10), local time (2027-03-10T08:00) or instant with offset, got "${text}"`);
  return instant;
};

export const parseRange = (values: { from?: string; to?: string }, zone: string): { from: number; to: number } => {
  const from = parseInstant('from', values.from, zone);
  const to = parseInstant('to', values.to, zone);
  if (to <= from) throw new UsageError('--to must come after --from');
  return { from, to };
};

export const parsePrice = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const price = Number(text);
  if (!(price >= 0) || text.trim() === '') throw new UsageError(`--price-per-node-hour must be a number of dollars, got "${text}"`);
  return price;
};

/** A progress bar on stderr while a long replay runs, when stderr is a terminal; nothing otherwise. */
export const progressBar = (label: string): { update: (done: number) => void; end: () => void } => {
  if (!process.stderr.isTTY) return { update: () => undefined, end: () => undefined };
  let shown = -1;
  const draw = (done: number) => {
    const percent = Math.floor(done * 100);
    if (percent === shown) return;
    shown = percent;
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${percent}%`);
  };
  return { update: draw, end: () => shown >= 0 && process.stderr.write('\r\x1b[2K') };
};

const transitionsTable = (result: ReplayResult, caption: string): HtmlTable => ({
  caption,
  header: ['local time', 'target', 'from', 'to', 'reason', 'what', 'cause'],
  rows: result.decisions
    .filter((d) => d.verdict === 'scale')
    .map((d) => [
      localStamp(Date.parse(d.at), result.policy.timezone),
      d.target,
      String(d.from),
      String(d.to),
      d.reasons[0]?.code ?? '',
      d.reasons[0]?.message ?? '',
      d.limitedBy && d.cause ? `${d.cause.code}: ${d.cause.message}` : '',
    ]),
});

/** Writes `<out>/<name>.svg` and `<out>/<name>.html`; returns their paths. */
export const writePicture = async (
  out: string,
  name: string,
  runs: readonly PictureRun[],
  title: string,
  extraTables: readonly HtmlTable[] = [],
): Promise<string[]> => {
  const svg = await renderSvg(pictureSpec(runs, title));
  const summary = runs.flatMap(({ label, result }) => costLines(gpuNodeHours(result)).map((line) => (runs.length > 1 ? `${label}: ${line}` : line)));
  const html = renderHtml({
    title,
    summary,
    svg,
    tables: [...extraTables, ...runs.map(({ label, result }) => transitionsTable(result, runs.length > 1 ? `Transitions: ${label}` : 'Transitions'))],
  });
  await mkdir(out, { recursive: true });
  const files = [join(out, `${name}.svg`), join(out, `${name}.html`)];
  await writeFile(files[0] as string, svg);
  await writeFile(files[1] as string, html);
  return files;
};

/** What `--json` prints for one replay. */
export const runJson = (result: ReplayResult, price: number | undefined) => ({
  from: new Date(result.from).toISOString(),
  to: new Date(result.to).toISOString(),
  timezone: result.policy.timezone,
  ticks: result.ticks,
  transitions: result.decisions.filter((d) => d.verdict === 'scale').map((d) => transitionJson(d, result.policy.timezone)),
  held: result.decisions.filter((d) => d.verdict === 'hold').length,
  gpu: gpuNodeHours(result).map((p) => ({
    ...p,
    ...(price !== undefined ? { pricePerNodeHour: price, cost: p.nodeHours * price, staticCost: p.staticNodeHours * price } : {}),
  })),
});

/** The readable report of one replay: every transition with its reasons, then the GPU pools' cost. */
export const printRun = (result: ReplayResult, heading: string, price: number | undefined): void => {
  const zone = result.policy.timezone;
  const scaled = result.decisions.filter((d) => d.verdict === 'scale');
  process.stdout.write(`${heading}, ${localStamp(result.from, zone)} .. ${localStamp(result.to, zone)}: ${scaled.length} transitions\n`);
  for (const decision of scaled) process.stdout.write(`${transitionLine(decision, zone)}\n`);
  for (const line of costLines(gpuNodeHours(result), price)) process.stdout.write(`${line}\n`);
};

/**
 * Runs a command body: usage errors exit 2 with the usage, input errors `badInput` (1 unless
 * the command's own codes say otherwise), anything else is a bug and throws.
 */
export const runCommand = async (usage: string, body: () => Promise<number>, badInput: number = EXIT.badInput): Promise<never> => {
  try {
    process.exit(await body());
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${usage}`);
      process.exit(EXIT.usage);
    }
    if (INPUT_ERRORS.some((kind) => error instanceof kind)) {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exit(badInput);
    }
    throw error;
  }
};

/** node:util's parseArgs, its complaints (an unknown flag, a missing value) turned into usage errors. */
export const parseFlags = <T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> => {
  try {
    return parseArgs(config);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message);
    throw error;
  }
};
