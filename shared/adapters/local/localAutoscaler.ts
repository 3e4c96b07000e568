import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { type Decision, describeDecision } from '../../domain/decision.ts';
import type { Policy } from '../../domain/policy.ts';
import { emergency, parseEmergencyRequest } from '../../app/emergency.ts';
import { fifoGroupOf } from '../../app/gpuView.ts';
import { prometheusExposition, recordTick } from '../../app/prometheus.ts';
import { explain, parseExplainQuery } from '../../app/explain.ts';
import { parseWebhookBody, receiveAlerts } from '../../app/receiveAlerts.ts';
import { status } from '../../app/status.ts';
import { tick, type TickSummary } from '../../app/tick.ts';
import { BadRequestError } from '../../errors.ts';
import { type ScalingWorker, scalingWorker } from '../../hosts/scalingWorker.ts';
import { bearerMatches, errorResult, type HttpResult, MAX_BODY_BYTES, queryParameters } from '../../http.ts';
import type { Clock, EventSink, ServiceHealth, StateStore } from '../../ports.ts';
import { MemoryFifoQueue } from './memoryFifoQueue.ts';
import { MemoryMetricSource } from './memoryMetricSource.ts';
import { MemoryTickRecordStore } from './memoryTickRecordStore.ts';
import { DEFAULT_SIMULATION, SimulatedCluster, type SimulationOptions } from './simulatedCluster.ts';

/** A datapoint for the local metric source, as PutMetricData would carry it. */
const metricPointSchema = z.strictObject({
  namespace: z.string().min(1),
  name: z.string().min(1),
  dimensions: z.record(z.string(), z.string()).default({}),
  value: z.number().finite(),
});

const parseJson = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    throw new BadRequestError('body is not JSON');
  }
};

export interface LocalOptions {
  policy: Policy;
  clock: Clock;
  store: StateStore;
  /** Requests must carry `Authorization: Bearer <token>` when set. */
  token?: string;
  /** GET /status takes this token, and only this one, when set (as in Lambda); otherwise `token`. */
  statusToken?: string;
  simulation?: SimulationOptions;
  initialSizes?: Record<string, number>;
  /**
   * The worker reads the simulated pods' readiness and the GPU nodes that joined, as it reads
   * Kubernetes when deployed (`npm start` does). Off, decisions are paced by time alone, as
   * `simulate`, `backtest` and `diff` replay them.
   */
  clusterHealth?: boolean;
  /** Receives each readable line: decisions, ticks, errors. */
  print: (line: string) => void;
}

/**
 * Every function of the service in one process, on local adapters: the webhook, status
 * and emergency over HTTP on loopback, the tick, an in-memory FIFO queue feeding the worker,
 * a state folder and a simulated cluster. The use cases are the ones Lambda runs.
 */
export class LocalAutoscaler {
  public readonly queue: MemoryFifoQueue;
  public readonly cluster: SimulatedCluster;
  public readonly metrics = new MemoryMetricSource();
  /** The tick's counters and readings, which `GET /metrics` serves as in Lambda. */
  public readonly ticks = new MemoryTickRecordStore();
  public readonly decisions: Decision[] = [];
  readonly #worker: ScalingWorker;
  /** What status reports as the service's health: the last tick run here, the local dead letters. */
  readonly #health: ServiceHealth = {
    lastTickAt: async () => this.#lastTickAt ?? null,
    deadLetters: async () => this.queue.snapshot().deadLetters.length,
  };
  #lastTickAt?: string;
  #server?: Server;
  #draining?: Promise<void>;
  #ticker?: NodeJS.Timeout;

  public constructor(private readonly options: LocalOptions) {
    const { policy, clock, store, print } = options;
    const at = () => clock.now().toISOString();
    this.queue = new MemoryFifoQueue(clock, {
      groupOf: fifoGroupOf(policy),
      onSend: () => void this.drain(),
      onDeadLetter: (message) => print(`${at()} ${message.target} intent ${message.intent} moved to the dead-letter queue after ${message.receives} receive${message.receives === 1 ? '' : 's'}`),
    });
    this.cluster = new SimulatedCluster(policy, clock, options.simulation ?? DEFAULT_SIMULATION, options.initialSizes);
    const events: EventSink = {
      publish: async (decisions) => {
        for (const d of decisions) print(`${at()} ${describeDecision(d)}`);
      },
    };
    this.#worker = scalingWorker(policy, { store, queue: this.queue, nodeGroups: this.cluster, workloads: this.cluster, ...(options.clusterHealth ? { health: this.cluster } : {}), events, clock }, {
      decided: (decision) => this.decisions.push(decision),
      failed: (failure) =>
        print(
          failure.kind === 'unusable'
            ? `${at()} ${failure.group} message ${failure.messageId} ${failure.why} (receive ${failure.receives}): ${failure.problems.join('; ')}`
            : `${at()} ${failure.group} error (${failure.kind}, receive ${failure.receives}, back to the queue): ${failure.error.message}`,
        ),
      backoffFailed: (records, error) => print(`${at()} ${records} record(s) back after the visibility timeout: ${error.message}`),
    }, this.queue);
  }

  /** Runs the worker until no message is visible; concurrent callers share one run. */
  public drain(): Promise<void> {
    // Deferred, so that a sender's whole batch is queued before the worker looks.
    this.#draining ??= Promise.resolve()
      .then(() => this.queue.drain(this.#worker))
      .finally(() => {
        this.#draining = undefined;
      });
    return this.#draining;
  }

  public async tick(): Promise<TickSummary> {
    const started = performance.now();
    const summary = await tick(this.options.policy, { store: this.options.store, queue: this.queue, clock: this.options.clock, metrics: this.metrics });
    // As the Lambda tick measures itself: its own evaluations, not the worker's run after them.
    const { replaced } = await recordTick(summary, (performance.now() - started) / 1000, { ticks: this.ticks });
    if (replaced) this.options.print(`${summary.at} tick record replaced, its counters start again: ${replaced}`);
    this.#lastTickAt = summary.at;
    await this.drain();
    return summary;
  }

  public async handle(method: string, path: string, headers: Record<string, string | undefined>, body: string, query: Record<string, string | string[]> = {}): Promise<HttpResult> {
    try {
      if (path === '/healthz') return { statusCode: 200, body: { ok: true } };
      // Read only, with status's token (as the status function serves them).
      const isStatus = method === 'GET' && (path === '/status' || path === '/metrics' || path === '/explain');
      const token = isStatus ? (this.options.statusToken ?? this.options.token) : this.options.token;
      if (token !== undefined && !bearerMatches(headers.authorization, token)) throw new BadRequestError('missing or wrong bearer token', 401);
      const { policy, clock, store } = this.options;
      if (method === 'POST' && (path === '/webhook' || path === '/')) {
        const summary = await receiveAlerts(policy, parseWebhookBody(body), { queue: this.queue, clock });
        await this.drain();
        return { statusCode: 200, body: { ...summary } };
      }
      if (method === 'GET' && path === '/metrics') {
        const { contentType, text } = await prometheusExposition(policy, { store, ticks: this.ticks });
        return { statusCode: 200, contentType, text };
      }
      const live = (id: string) => this.cluster.snapshot()[id]?.desired;
      if (isStatus && path === '/explain') {
        const report = await explain(policy, parseExplainQuery(query), { store, clock, live, audit: () => this.decisions, metrics: this.metrics });
        return { statusCode: 200, body: { ...report } };
      }
      if (isStatus) {
        const pods = this.options.clusterHealth ? { pods: (id: string) => this.cluster.healthOf(id) } : {};
        const report = await status(policy, { store, clock, health: this.#health, live, ...pods });
        return { statusCode: 200, body: { ...report, cluster: this.cluster.snapshot(), queue: this.queue.snapshot() } };
      }
      if (method === 'POST' && path === '/emergency') {
        const outcomes = await emergency(policy, parseEmergencyRequest(parseJson(body)), {
          queue: this.queue,
          store,
          clock,
          sleep: () => this.drain(),
          timeoutMs: 5_000,
          pollMs: 0,
        });
        return { statusCode: 200, body: { outcomes } };
      }
      if (method === 'POST' && path === '/tick') return { statusCode: 200, body: { ...(await this.tick()) } };
      if (method === 'POST' && path === '/metrics') {
        const point = metricPointSchema.safeParse(parseJson(body));
        if (!point.success) throw new BadRequestError(`expected {"namespace","name","dimensions","value"}: ${point.error.issues[0]?.message}`);
        this.metrics.put(point.data, point.data.value, clock.now());
        return { statusCode: 200, body: { recorded: point.data, at: clock.now().toISOString() } };
      }
      throw new BadRequestError(`no route ${method} ${path}: try POST /webhook, GET /status, GET /metrics, GET /explain?target=T, POST /emergency, POST /tick, POST /metrics`, 404);
    } catch (error) {
      const result = errorResult(error);
      if (result.statusCode >= 500) this.options.print(`${method} ${path} failed: ${(error as Error).stack ?? String(error)}`);
      return result;
    }
  }

  /** Serves the HTTP API; rejects when the port cannot be bound (EADDRINUSE, EACCES). */
  public async listen(port: number, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => void this.#serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  /**
   * `npm start`'s tick: one now, then one every `everyMs` until `close()`, which the last of
   * `ticks` calls. A tick prints the cluster when it changed; a tick that fails is printed and
   * the next one runs, so the process outlives a bad minute.
   */
  public async tickEvery(everyMs: number, ticks = Infinity): Promise<void> {
    const { clock, print } = this.options;
    let count = 0;
    let last = '';
    const run = async () => {
      const final = ++count >= ticks;
      try {
        const summary = await this.tick();
        const sizes = Object.entries(this.cluster.snapshot())
          .map(([id, s]) => `${id} ${s.ready}/${s.desired}${s.pending ? ` (+${s.pending} pending)` : ''}`)
          .join(', ');
        if (sizes !== last) print(`${clock.now().toISOString()} tick: ${summary.evaluations} evaluated, ${summary.queued.length} queued | ${sizes}`);
        last = sizes;
      } catch (error) {
        print(`${clock.now().toISOString()} tick failed, the next one runs as usual: ${String(error)}`);
      }
      if (final) await this.close();
    };
    this.#ticker = setInterval(() => void run(), everyMs);
    await run();
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let size = 0;
    const chunks: Buffer[] = [];
    let tooLarge = false;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk as Buffer);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const result = tooLarge
      ? errorResult(new BadRequestError(`body larger than ${MAX_BODY_BYTES} bytes`, 413))
      : await this.handle(req.method ?? 'GET', url.pathname, { authorization: req.headers.authorization }, Buffer.concat(chunks).toString('utf8'), queryParameters(url.searchParams));
    if ('text' in result) {
      res.writeHead(result.statusCode, { 'content-type': result.contentType });
      res.end(result.text);
      return;
    }
    res.writeHead(result.statusCode, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(result.body, null, 2)}\n`);
  }

  public async close(): Promise<void> {
    clearInterval(this.#ticker);
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.drain();
  }
}
