import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { ensureVenv } from './venv.ts';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto's server mode from the project's venv on a free loopback port. */
export async function startMotoServer(): Promise<MotoServer> {
  const venv = await ensureVenv();
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;

  const server = spawn(venv.bin('moto_server'), ['-H', HOST, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // moto logs every request to stderr: keep draining it (a full pipe would
  // stall the server) but hold on to the tail only, for failure messages.
  let stderrTail = '';
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4_000);
  });
  const exited = once(server, 'exit');

  const stop = async (): Promise<void> => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    await Promise.race([
      waitUntilAnswering(endpoint),
      exited.then(([code]) => {
        throw new Error(`moto_server exited early (code ${String(code)})`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw new Error(`moto_server did not start on ${endpoint}:\n${stderrTail}`, { cause: error });
  }

  return { endpoint, stop };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, HOST);
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  return address.port;
}

async function waitUntilAnswering(endpoint: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`no answer within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
