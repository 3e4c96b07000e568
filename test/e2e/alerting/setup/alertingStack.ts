import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureBinaries, run } from './binaries.ts';

const LOOPBACK = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_LINES_KEPT = 2_000;
const START_ATTEMPTS = 3;

// ---------------------------------------------------------------------------------------------
// Waiting

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Named in the timeout error so a failure says what never happened. */
  readonly what: string;
}

/** Polls `probe` until it returns something other than `undefined`, or fails after the deadline. */
export const waitUntil = async <T>(probe: () => Promise<T | undefined> | T | undefined, options: WaitOptions): Promise<T> => {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
};

// ---------------------------------------------------------------------------------------------
// Ports and processes

const listenTcp = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      const chosen = (server.address() as AddressInfo).port;
      server.close(() => resolve(chosen));
    });
  });

const udpFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, LOOPBACK, () => socket.close(() => resolve(true)));
  });

/**
 * A loopback port that was free a moment ago. Memberlist gossips over UDP and TCP on the same
 * number, so cluster ports must be free for both.
 */
export const freePort = async (options: { udpToo?: boolean } = {}): Promise<number> => {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await listenTcp(0);
    if (options.udpToo !== true || (await udpFree(port))) return port;
  }
  throw new Error('could not find a loopback port free for both TCP and UDP');
};

interface ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  logs(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// A crashed or timed-out test worker must not leave daemons holding ports for the next run.
const installExitHook = (): void => {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
};

const launch = (binary: string, args: readonly string[], cwd: string): ManagedProcess => {
  installExitHook();
  const child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
    if (lines.length > LOG_LINES_KEPT) lines.splice(0, lines.length - LOG_LINES_KEPT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exitedYet = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      lines.push(`spawn failed: ${error.message}`);
      exitedYet = true;
      live.delete(child);
      resolve(null);
    });
    child.once('exit', (code) => {
      exitedYet = true;
      live.delete(child);
      resolve(code);
    });
  });

  const stop = async (): Promise<void> => {
    if (exitedYet) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  return { child, exited, hasExited: () => exitedYet, logs: () => lines.join('\n'), stop };
};

const isReady = async (url: string): Promise<true | undefined> => {
  const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status === 200 ? true : undefined;
};

class StartFailure extends Error {
  constructor(
    message: string,
    readonly portClash: boolean,
  ) {
    super(message);
  }
}

const waitForReady = async (name: string, url: string, managed: ManagedProcess): Promise<void> => {
  const ready = waitUntil(() => (managed.hasExited() ? true : isReady(url)), {
    timeoutMs: READY_TIMEOUT_MS,
    what: `${name} at ${url} to report ready`,
  });
  try {
    await ready;
  } catch (error) {
    await managed.stop();
    throw new StartFailure(`${(error as Error).message}\n--- ${name} log ---\n${managed.logs()}`, false);
  }
  if (managed.hasExited()) {
    const logs = managed.logs();
    throw new StartFailure(
      `${name} exited with ${await managed.exited} before becoming ready\n--- ${name} log ---\n${logs}`,
      /address already in use/i.test(logs),
    );
  }
};

export interface RunningService {
  /** Base URL on loopback, without a trailing slash. */
  readonly url: string;
  /** Everything the process printed so far (last lines only), for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts a daemon on fresh ports and waits for `/-/ready`. Free ports can be taken between being
 * chosen and being bound, so a clash is retried on new ports instead of failing the suite.
 */
const startDaemon = async <T extends RunningService>(
  name: string,
  attempt: (dir: string) => Promise<{ binary: string; args: string[]; url: string; build: (base: RunningService) => T }>,
): Promise<T> => {
  const dir = await mkdtemp(join(tmpdir(), `e2e-${name}-`));
  try {
    for (let tries = 1; ; tries += 1) {
      const { binary, args, url, build } = await attempt(dir);
      const managed = launch(binary, args, dir);
      try {
        await waitForReady(name, url, managed);
      } catch (error) {
        if (error instanceof StartFailure && error.portClash && tries < START_ATTEMPTS) continue;
        throw error;
      }
      let stopped: Promise<void> | undefined;
      return build({
        url,
        logs: managed.logs,
        stop: () => {
          stopped ??= managed.stop().then(() => rm(dir, { recursive: true, force: true }));
          return stopped;
        },
      });
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
};

// ---------------------------------------------------------------------------------------------
// Prometheus

export interface PrometheusOptions {
  /** Contents of one rule file (`groups: [...]`). */
  readonly rulesYaml: string;
  /** `host:port` or full URLs (`http://127.0.0.1:1234/metrics`) of exporters to scrape. */
  readonly scrapeTargets: readonly string[];
  /** Whole scrape jobs besides, e.g. the one `npm run render` writes (with its bearer credentials file). */
  readonly scrapeJobs?: readonly ScrapeJob[];
  /** Alertmanager base URLs, e.g. `http://127.0.0.1:9093`. */
  readonly alertmanagerUrls: readonly string[];
  /** Global rule evaluation interval; `1s` lets a `for: 2s` alert fire within a few seconds. */
  readonly evaluationInterval?: string;
  /** Defaults to the evaluation interval. */
  readonly scrapeInterval?: string;
  /** How often Prometheus re-sends a still-firing alert (`--rules.alert.resend-delay`, Prometheus default 1m). */
  readonly resendDelay?: string;
}

/** A `scrape_configs` entry as prometheus.yml holds it. */
export interface ScrapeJob {
  readonly job_name: string;
  readonly static_configs: readonly { readonly targets: readonly string[] }[];
  readonly [setting: string]: unknown;
}

const scrapeTargetCount = (options: PrometheusOptions): number =>
  options.scrapeTargets.length + (options.scrapeJobs ?? []).flatMap((job) => job.static_configs.flatMap((c) => c.targets)).length;

export interface PrometheusAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing' | 'inactive';
  readonly activeAt: string;
  readonly value: string;
}

export interface RunningPrometheus extends RunningService {
  /** The alerts Prometheus currently holds (`/api/v1/alerts`): pending and firing. */
  alerts(): Promise<PrometheusAlert[]>;
  /**
   * Resolves once every scrape target and Alertmanager is known to Prometheus. `startPrometheus`
   * already waits for this; exposed for callers that want to re-check.
   */
  discovered(): Promise<void>;
  /** Resolves once the named alert reaches `state`, failing after `timeoutMs`. */
  waitForAlert(alertname: string, state: 'pending' | 'firing', timeoutMs?: number): Promise<PrometheusAlert>;
}

interface Endpoint {
  readonly scheme: string;
  readonly hostPort: string;
  readonly path: string;
}

const parseEndpoint = (text: string, defaultPath: string): Endpoint => {
  const url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`);
  const path = url.pathname === '/' || url.pathname === '' ? defaultPath : url.pathname;
  return { scheme: url.protocol.replace(/:$/, ''), hostPort: url.host, path };
};

// Prometheus wants one config block per scheme and path, each listing host:port targets.
const groupEndpoints = (endpoints: readonly Endpoint[]): Map<string, { scheme: string; path: string; targets: string[] }> => {
  const groups = new Map<string, { scheme: string; path: string; targets: string[] }>();
  for (const endpoint of endpoints) {
    const key = `${endpoint.scheme} ${endpoint.path}`;
    const group = groups.get(key) ?? { scheme: endpoint.scheme, path: endpoint.path, targets: [] };
    group.targets.push(endpoint.hostPort);
    groups.set(key, group);
  }
  return groups;
};

const prometheusConfig = (options: PrometheusOptions, rulesFile: string): string => {
  const evaluationInterval = options.evaluationInterval ?? '1s';
  const scrapeInterval = options.scrapeInterval ?? evaluationInterval;
  const scrapeGroups = [...groupEndpoints(options.scrapeTargets.map((t) => parseEndpoint(t, '/metrics'))).values()];
  const amGroups = [...groupEndpoints(options.alertmanagerUrls.map((u) => parseEndpoint(u, '/'))).values()];
  return stringify({
    global: {
      scrape_interval: scrapeInterval,
      // A scrape timeout longer than the interval is rejected at load time.
      scrape_timeout: scrapeInterval,
      evaluation_interval: evaluationInterval,
    },
    rule_files: [rulesFile],
    scrape_configs: [
      ...scrapeGroups.map((group, index) => ({
        job_name: index === 0 ? 'e2e' : `e2e-${index}`,
        scheme: group.scheme,
        metrics_path: group.path,
        static_configs: [{ targets: group.targets }],
      })),
      ...(options.scrapeJobs ?? []),
    ],
    alerting: {
      alertmanagers: amGroups.map((group) => ({
        api_version: 'v2',
        scheme: group.scheme,
        path_prefix: group.path,
        timeout: '5s',
        static_configs: [{ targets: group.targets }],
      })),
    },
  });
};

const isPrometheusAlert = (value: unknown): value is PrometheusAlert =>
  typeof value === 'object' && value !== null && 'labels' in value && 'state' in value;

const getJson = async (url: string): Promise<unknown> => {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return response.json();
};

const dataField = (body: unknown, field: string): unknown[] => {
  if (typeof body !== 'object' || body === null || !('data' in body)) return [];
  const data: unknown = body.data;
  if (typeof data !== 'object' || data === null || !(field in data)) return [];
  const list: unknown = (data as Record<string, unknown>)[field];
  return Array.isArray(list) ? list : [];
};

/**
 * Prometheus 2.42 hands discovered targets and Alertmanagers to the scraper and notifier at most
 * every 5 s, so for several seconds after `/-/ready` it neither scrapes nor can deliver alerts:
 * an alert fired then is dropped and only re-sent after `resend-delay`. Waiting here keeps
 * latency measurements and short `for:` rules honest.
 */
const waitForDiscovery = async (url: string, options: PrometheusOptions): Promise<void> => {
  await waitUntil(
    async () => {
      const managers = dataField(await getJson(`${url}/api/v1/alertmanagers`), 'activeAlertmanagers');
      const targets = dataField(await getJson(`${url}/api/v1/targets?state=active`), 'activeTargets');
      return managers.length >= options.alertmanagerUrls.length && targets.length >= scrapeTargetCount(options) ? true : undefined;
    },
    { timeoutMs: 30_000, what: `Prometheus at ${url} to discover its scrape targets and Alertmanagers` },
  );
};

/** Starts the real `prometheus` on a free loopback port with its own TSDB and config directory. */
export const startPrometheus = async (options: PrometheusOptions): Promise<RunningPrometheus> => {
  const { prometheus } = await ensureBinaries();
  const started = await startDaemon<RunningPrometheus>('prometheus', async (dir) => {
    const rulesFile = join(dir, 'rules.yml');
    const configFile = join(dir, 'prometheus.yml');
    await writeFile(rulesFile, options.rulesYaml);
    await writeFile(configFile, prometheusConfig(options, rulesFile));
    const port = await freePort();
    const url = `http://${LOOPBACK}:${port}`;
    const args = [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${LOOPBACK}:${port}`,
      // Otherwise generatorURL in every alert points at the machine's hostname.
      `--web.external-url=${url}/`,
      `--rules.alert.resend-delay=${options.resendDelay ?? '1m'}`,
    ];
    return {
      binary: prometheus,
      args,
      url,
      build: (base) => {
        const alerts = async (): Promise<PrometheusAlert[]> => {
          return dataField(await getJson(`${url}/api/v1/alerts`), 'alerts').filter(isPrometheusAlert);
        };
        return {
          ...base,
          alerts,
          discovered: () => waitForDiscovery(url, options),
          waitForAlert: (alertname, state, timeoutMs = 30_000) =>
            waitUntil(async () => (await alerts()).find((a) => a.labels.alertname === alertname && a.state === state), {
              timeoutMs,
              what: `Prometheus alert ${alertname} to be ${state}`,
            }),
        };
      },
    };
  });
  try {
    await started.discovered();
  } catch (error) {
    const logs = started.logs();
    await started.stop();
    throw new Error(`${(error as Error).message}\n--- prometheus log ---\n${logs}`);
  }
  return started;
};

// ---------------------------------------------------------------------------------------------
// Alertmanager

export interface AlertmanagerOptions {
  readonly configYaml: string;
  /**
   * Omitted: a standalone instance with gossip switched off (`--cluster.listen-address=`), so two
   * of them behave as an HA pair whose gossip is cut and both notify. An array (empty for the
   * first member): a cluster member gossiping on loopback and joining these `host:port` peers.
   */
  readonly peers?: readonly string[];
  /**
   * How long each member waits per position in the cluster before notifying (`--cluster.peer-timeout`,
   * Alertmanager default 15s); short keeps clustered tests fast.
   */
  readonly peerTimeout?: string;
  /**
   * `--cluster.gossip-interval`; a member holds notifications until gossip settles, polled at ten
   * gossip intervals, so the 200ms default costs about 10 s per start and 50ms about 2.5 s.
   */
  readonly gossipInterval?: string;
  /** Extra command-line flags, e.g. `--log.level=debug`. */
  readonly extraArgs?: readonly string[];
}

export interface AlertmanagerClusterStatus {
  readonly status: string;
  readonly peers: readonly { name: string; address: string }[];
}

export interface RunningAlertmanager extends RunningService {
  /** `host:port` of the gossip listener, to pass as a peer to the next member; absent when standalone. */
  readonly clusterAddress: string | undefined;
  /** `/api/v2/status` `cluster` section. */
  clusterStatus(): Promise<AlertmanagerClusterStatus>;
  /** Sum of the samples of one metric from `/metrics` whose labels include `labels`. */
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
}

/** Sums the samples of `name` in a Prometheus text exposition whose labels include `labels`. */
export const sumSamples = (exposition: string, name: string, labels: Readonly<Record<string, string>> = {}): number => {
  let total = 0;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const seen = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (pair[1] !== undefined) seen.set(pair[1], (pair[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
    }
    if (Object.entries(labels).every(([key, value]) => seen.get(key) === value)) total += Number(match[3]);
  }
  return total;
};

/** Starts the real Alertmanager on free loopback ports with its own storage and config directory. */
export const startAlertmanager = async (options: AlertmanagerOptions): Promise<RunningAlertmanager> => {
  const { alertmanager } = await ensureBinaries();
  return startDaemon<RunningAlertmanager>('alertmanager', async (dir) => {
    const configFile = join(dir, 'alertmanager.yml');
    await writeFile(configFile, options.configYaml);
    const port = await freePort();
    const url = `http://${LOOPBACK}:${port}`;
    let clusterAddress: string | undefined;
    const clusterArgs: string[] = [];
    if (options.peers === undefined) {
      clusterArgs.push('--cluster.listen-address=');
    } else {
      clusterAddress = `${LOOPBACK}:${await freePort({ udpToo: true })}`;
      clusterArgs.push(
        `--cluster.listen-address=${clusterAddress}`,
        // Memberlist refuses to guess an advertise address from a loopback listener.
        `--cluster.advertise-address=${clusterAddress}`,
        `--cluster.peer-timeout=${options.peerTimeout ?? '1s'}`,
        `--cluster.gossip-interval=${options.gossipInterval ?? '50ms'}`,
        ...options.peers.map((peer) => `--cluster.peer=${peer}`),
      );
    }
    const args = [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=${LOOPBACK}:${port}`,
      // Otherwise externalURL in every notification names the machine's hostname instead of this instance.
      `--web.external-url=${url}`,
      ...clusterArgs,
      ...(options.extraArgs ?? []),
    ];
    const address = clusterAddress;
    return {
      binary: alertmanager,
      args,
      url,
      build: (base) => ({
        ...base,
        clusterAddress: address,
        clusterStatus: async () => {
          const response = await fetch(`${url}/api/v2/status`, { signal: AbortSignal.timeout(5_000) });
          const body = (await response.json()) as { cluster?: { status?: string; peers?: { name: string; address: string }[] } };
          return { status: body.cluster?.status ?? 'unknown', peers: body.cluster?.peers ?? [] };
        },
        metric: async (name, labels = {}) => {
          const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
          return sumSamples(await response.text(), name, labels);
        },
      }),
    };
  });
};

/**
 * Alertmanager 0.25 answers `/-/ready` while its gossip is still settling, yet holds notifications
 * until it has settled; this waits until every member sees all the others and reports `ready`.
 */
export const waitForCluster = (members: readonly RunningAlertmanager[], timeoutMs = 30_000): Promise<true> =>
  waitUntil(
    async () => {
      for (const member of members) {
        const status = await member.clusterStatus();
        if (status.status !== 'ready' || status.peers.length !== members.length) return undefined;
      }
      return true;
    },
    { timeoutMs, what: `${members.length} Alertmanagers to form a settled cluster` },
  );

// ---------------------------------------------------------------------------------------------
// Config checks

export interface CheckResult {
  readonly ok: boolean;
  readonly output: string;
}

const checkWithTool = async (tool: 'promtool' | 'amtool', args: readonly string[], fileName: string, contents: string): Promise<CheckResult> => {
  const binaries = await ensureBinaries();
  const dir = await mkdtemp(join(tmpdir(), `e2e-${tool}-`));
  try {
    const file = join(dir, fileName);
    await writeFile(file, contents);
    const result = await run(binaries[tool], [...args, file], { timeoutMs: 30_000 });
    return { ok: result.code === 0, output: result.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** `promtool check rules` on the given rule file contents. */
export const checkRules = (rulesYaml: string): Promise<CheckResult> => checkWithTool('promtool', ['check', 'rules'], 'rules.yml', rulesYaml);

/** `promtool check config` on a Prometheus configuration (a rendered scrape job, say). */
export const checkPrometheusConfig = (configYaml: string): Promise<CheckResult> => checkWithTool('promtool', ['check', 'config'], 'prometheus.yml', configYaml);

/** `promtool check metrics`: the exposition's format, and Prometheus's naming conventions (it reads standard input). */
export const checkMetrics = async (exposition: string): Promise<CheckResult> => {
  const { promtool } = await ensureBinaries();
  const result = await run(promtool, ['check', 'metrics'], { timeoutMs: 30_000, input: exposition });
  return { ok: result.code === 0, output: result.output };
};

/** `amtool check-config` on the given Alertmanager configuration. */
export const checkAlertmanagerConfig = (configYaml: string): Promise<CheckResult> =>
  checkWithTool('amtool', ['check-config'], 'alertmanager.yml', configYaml);

// ---------------------------------------------------------------------------------------------
// Webhook sink

export interface SinkRequest {
  readonly index: number;
  /** `Date.now()` on arrival, comparable with Prometheus and Alertmanager timestamps. */
  readonly receivedAt: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  readonly json: unknown;
  readonly answeredWith: number;
}

/** The status to answer with, chosen per request (0-based arrival index) or fixed. */
export type SinkResponder = number | ((index: number, request: Omit<SinkRequest, 'answeredWith'>) => number);

export interface WebhookSink {
  /** e.g. `http://127.0.0.1:41234/hook`; any path is accepted and recorded. */
  readonly url: string;
  readonly requests: readonly SinkRequest[];
  respondWith(responder: SinkResponder): void;
  /** Resolves with the first recorded request (past or future) that satisfies `predicate`. */
  waitFor(predicate: (request: SinkRequest) => boolean, options: { timeoutMs: number; what: string }): Promise<SinkRequest>;
  close(): Promise<void>;
}

/** An HTTP server on loopback that records what is POSTed to it and answers with a chosen status. */
export const webhookSink = async (responder: SinkResponder = 200): Promise<WebhookSink> => {
  const requests: SinkRequest[] = [];
  const waiters = new Set<() => void>();
  let respond = responder;

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const seen = {
        index: requests.length,
        receivedAt: Date.now(),
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body,
        json,
      };
      const status = typeof respond === 'number' ? respond : respond(seen.index, seen);
      requests.push({ ...seen, answeredWith: status });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'sink told to fail');
      for (const wake of waiters) wake();
    });
  });
  server.keepAliveTimeout = 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const waitFor: WebhookSink['waitFor'] = (predicate, options) =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = requests.find(predicate);
        if (hit === undefined) return false;
        cleanup();
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = requests.map((r) => `#${r.index} ${r.method} ${r.path} -> ${r.answeredWith}: ${r.body.slice(0, 500)}`);
        reject(new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}; sink saw:\n${seen.join('\n') || '(nothing)'}`));
      }, options.timeoutMs);
      const wake = (): void => {
        check();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      if (!check()) waiters.add(wake);
    });

  return {
    url: `http://${LOOPBACK}:${port}/hook`,
    requests,
    respondWith: (next) => {
      respond = next;
    },
    waitFor,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
};
