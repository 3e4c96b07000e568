import { createServer } from 'node:http';
import { listenOnLoopback } from '../../../support/listen.ts';

export interface MetricsExporter {
  /** Base URL, e.g. `http://127.0.0.1:43121`; metrics are under `/metrics`. */
  readonly url: string;
  /** `host:port` as Prometheus wants it in `static_configs.targets`. */
  readonly target: string;
  /** How many times `/metrics` has been served: lets a test wait for a scrape instead of guessing. */
  readonly scrapes: number;
  set(name: string, labels: Readonly<Record<string, string>>, value: number): void;
  remove(name: string, labels: Readonly<Record<string, string>>): void;
  close(): Promise<void>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeLabelValue = (value: string): string =>
  value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

const formatValue = (value: number): string => {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
};

// Sorted so that the same label set always maps to the same series, whatever order the caller wrote it in.
const seriesKey = (labels: Readonly<Record<string, string>>): string => {
  const names = Object.keys(labels).sort();
  for (const name of names) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(name)}`);
  }
  return names.map((name) => `${name}="${escapeLabelValue(labels[name] ?? '')}"`).join(',');
};

const checkName = (name: string): void => {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
};

/** Serves gauges in the Prometheus text exposition format (0.0.4) on a free loopback port. */
export const startExporter = async (): Promise<MetricsExporter> => {
  const gauges = new Map<string, Map<string, number>>();
  let scrapes = 0;

  const render = (): string => {
    const lines: string[] = [];
    for (const [name, series] of gauges) {
      if (series.size === 0) continue;
      lines.push(`# TYPE ${name} gauge`);
      for (const [key, value] of series) lines.push(`${name}${key === '' ? '' : `{${key}}`} ${formatValue(value)}`);
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  };

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    scrapes += 1;
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(render());
  });
  // Prometheus keeps scrape connections alive; without this close() would wait for them.
  server.keepAliveTimeout = 1_000;

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    target: `127.0.0.1:${port}`,
    get scrapes() {
      return scrapes;
    },
    set(name, labels, value) {
      checkName(name);
      const series = gauges.get(name) ?? new Map<string, number>();
      series.set(seriesKey(labels), value);
      gauges.set(name, series);
    },
    remove(name, labels) {
      gauges.get(name)?.delete(seriesKey(labels));
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
};
