/** Runs `fn` repeatedly after a warm-up and returns the mean time per call in microseconds. */
export const measure = async (fn: () => unknown, { warmup = 200, minMs = 500 } = {}): Promise<number> => {
  for (let i = 0; i < warmup; i++) await fn();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    await fn();
    calls += 1;
  }
  return ((performance.now() - start) * 1000) / calls;
};

export interface BenchRow {
  name: string;
  value: string;
  /** The ratio against the floor measured in the same run. */
  ratio?: number;
  floor?: string;
  /** A line of its own under the row, e.g. where the time went. */
  detail?: string;
}

export const printRows = (title: string, rows: BenchRow[]): void => {
  process.stdout.write(`\n${title}\n`);
  for (const row of rows) {
    const ratio = row.ratio === undefined ? '' : `  ratio ${row.ratio.toFixed(2)}x vs ${row.floor}`;
    process.stdout.write(`  ${row.name.padEnd(58)} ${row.value.padStart(16)}${ratio}\n`);
    if (row.detail) process.stdout.write(`      ${row.detail}\n`);
  }
};

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/**
 * Powertools warns after every worker batch that the function's metrics object holds nothing
 * (the worker counts its decisions as single metrics, published at once): a line per round
 * would bury the figures.
 */
const EMPTY_METRICS_WARNING = 'No application metrics to publish';
export const withoutEmptyMetricsWarning = async <T>(run: () => Promise<T>): Promise<T> => {
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
    String(chunk).includes(EMPTY_METRICS_WARNING) ? true : write.call(process.stderr, chunk, ...rest)) as typeof process.stderr.write;
  try {
    return await run();
  } finally {
    process.stderr.write = write;
  }
};

/** The webhook, worker and tick handler modules, imported once the environment they read at import is set. */
export const importHandlers = async (env: Record<string, string>) => {
  Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true', ...env });
  return {
    webhook: await import('../functions/alertmanager-webhook/handler.ts'),
    worker: await import('../functions/scaling-worker/handler.ts'),
    tick: await import('../functions/schedule-tick/handler.ts'),
  };
};
