import { createServer } from 'node:http';
import type { SinkRequest } from './alertingStack.ts';
import { waitUntil } from './alertingStack.ts';
import { listenOnLoopback } from '../../../support/listen.ts';

/** How the proxy treats a request: pass it on, or stand for a webhook that is down. */
export type Outage = { kind: 'none' } | { kind: 'status'; status: number } | { kind: 'reset' };

/** `answeredWith` of a request whose connection the proxy reset. */
export const CONNECTION_RESET = 0;

export interface ScalerProxy {
  /** The URL Alertmanager posts to, e.g. `http://127.0.0.1:41234/webhook`. */
  readonly url: string;
  /** Every request, with what the scaler (or the outage) answered. */
  readonly requests: readonly SinkRequest[];
  /** The scaler's base URL; the request path is kept. */
  forwardTo(upstream: string): void;
  /** From now on, fail every request this way instead of forwarding it. */
  failWith(outage: Outage): void;
  /** Resolves with the first recorded request (past or future) that satisfies `predicate`. */
  waitFor(predicate: (request: SinkRequest) => boolean, options: { timeoutMs: number; what: string }): Promise<SinkRequest>;
  close(): Promise<void>;
}

/**
 * A loopback proxy in front of the scaler: it records what Alertmanager sends and what the
 * scaler answers, and can play a webhook that is down (a 5xx, or a connection reset).
 */
export const startScalerProxy = async (): Promise<ScalerProxy> => {
  const requests: SinkRequest[] = [];
  let upstream: string | undefined;
  let outage: Outage = { kind: 'none' };

  const forward = async (method: string, path: string, authorization: string | undefined, body: string): Promise<number> => {
    if (upstream === undefined) return 502;
    const response = await fetch(`${upstream}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      body,
    });
    await response.arrayBuffer();
    return response.status;
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const current = outage;
      const record = (answeredWith: number): void => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const method = request.method ?? '';
        const path = request.url ?? '';
        requests.push({ index: requests.length, receivedAt: Date.now(), method, path, headers: request.headers, body, json, answeredWith });
      };
      if (current.kind === 'reset') {
        record(CONNECTION_RESET);
        request.socket.destroy();
        return;
      }
      const answer = current.kind === 'status' ? Promise.resolve(current.status) : forward(request.method ?? 'POST', request.url ?? '/', request.headers.authorization, body);
      void answer
        .catch(() => 502)
        .then((status) => {
          record(status);
          response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'proxy or scaler refused');
        });
    });
  });
  server.keepAliveTimeout = 1_000;

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}/webhook`,
    requests,
    forwardTo: (next) => {
      upstream = next;
    },
    failWith: (next) => {
      outage = next;
    },
    waitFor: (predicate, options) => waitUntil(() => requests.find(predicate), options),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
};
