import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';

const LOOPBACK = '127.0.0.1';
const SETUP_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(SETUP_DIR, '../../../..');
const BUILD_SCRIPT = join(SETUP_DIR, 'build-kube-apiserver.sh');

export interface KubeApiServerOptions {
  /** Bound on building kube-apiserver; a cold build takes about 10 minutes on 2 cores. */
  readonly buildTimeoutMs?: number;
  /** Bound on etcd and kube-apiserver each becoming ready once their binaries exist. */
  readonly readyTimeoutMs?: number;
  readonly log?: (message: string) => void;
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** The CA that signed the serving certificate, base64 PEM as in a kubeconfig's certificate-authority-data. */
  readonly caData: string;
  /** A user in system:masters, which RBAC lets do anything. */
  readonly adminToken: string;
  /** User `gpu-autoscaler` with no groups, so it has only what RoleBindings grant it. */
  readonly scalerToken: string;
  kubeConfig(token: string): KubeConfig;
  stop(): Promise<void>;
}

const DEFAULT_BUILD_TIMEOUT_MS = 40 * 60_000;
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const OPENSSL_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_CHARS = 4_000;

// ---------------------------------------------------------------------------------------------
// Commands

interface RunOptions {
  readonly timeoutMs: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Forward output as it comes, for long steps whose progress someone may be watching. */
  readonly stream?: boolean;
}

const run = (command: string, args: readonly string[], options: RunOptions): Promise<string> =>
  new Promise((resolvePromise, reject) => {
    // Its own process group, so a timeout also ends what it started (the build script's `go build`).
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      if (options.stream) process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out after ${options.timeoutMs} ms\n${tail(output)}`));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}\n${tail(output)}`));
    });
  });

const tail = (text: string): string => (text.length > LOG_TAIL_CHARS ? `…${text.slice(-LOG_TAIL_CHARS)}` : text);

const commandExists = async (name: string): Promise<boolean> => {
  try {
    await run('sh', ['-c', `command -v ${name}`], { timeoutMs: 5_000 });
    return true;
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------
// Binaries

const ensureEtcd = async (log: (message: string) => void): Promise<string> => {
  if (await commandExists('etcd')) return 'etcd';
  log('etcd not found; installing Debian package etcd-server');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // A fresh machine may have no package lists yet, without which the install finds nothing.
  await run('apt-get', ['update'], { timeoutMs: INSTALL_TIMEOUT_MS, env, stream: true });
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'etcd-server'], {
    timeoutMs: INSTALL_TIMEOUT_MS,
    env,
    stream: true,
  });
  return 'etcd';
};

const ensureKubeApiServer = async (timeoutMs: number): Promise<string> => {
  // The script returns at once when the binary is already there, so calling it every time is cheap.
  await run('bash', [BUILD_SCRIPT], { timeoutMs, stream: true });
  return join(process.env['GPU_AUTOSCALER_CACHE_DIR'] ?? join(REPO_ROOT, '.cache'), 'bin', 'kube-apiserver');
};

// ---------------------------------------------------------------------------------------------
// Certificates and credentials

const openssl = (args: readonly string[], cwd: string): Promise<string> =>
  run('openssl', args, { cwd, timeoutMs: OPENSSL_TIMEOUT_MS });

const makePki = async (dir: string): Promise<void> => {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(
    [
      'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gpu-autoscaler-e2e-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await openssl(
    ['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'],
    dir,
  );
  await writeFile(
    join(dir, 'server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=IP:${LOOPBACK},DNS:localhost`,
      '',
    ].join('\n'),
  );
  await openssl(
    [
      'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext',
    ],
    dir,
  );
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
};

const newToken = (): string => randomBytes(24).toString('hex');

// ---------------------------------------------------------------------------------------------
// Ports and readiness

/** Holds every port open until all are chosen, so the kernel cannot hand out the same one twice. */
const freePorts = async (count: number): Promise<number[]> => {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolvePromise, reject) => {
        server.once('error', reject);
        server.listen(0, LOOPBACK, () => resolvePromise());
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
  }
};

interface HttpResult {
  readonly status: number;
  readonly body: string;
}

const get = (url: string, options: { ca?: string; token?: string }): Promise<HttpResult> =>
  new Promise((resolvePromise, reject) => {
    const parsed = new URL(url);
    const send = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      parsed,
      {
        method: 'GET',
        timeout: 5_000,
        ca: options.ca,
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });

// ---------------------------------------------------------------------------------------------
// Processes

interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  exited: boolean;
}

const startProcess = async (
  name: string,
  command: string,
  args: readonly string[],
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<Managed> => {
  const logPath = join(dir, `${name}.log`);
  const logStream: WriteStream = createWriteStream(logPath);
  await new Promise<void>((resolvePromise, reject) => {
    logStream.once('open', () => resolvePromise());
    logStream.once('error', reject);
  });
  const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', logStream, logStream] });
  const managed: Managed = { name, child, logPath, exited: false };
  child.once('exit', () => {
    managed.exited = true;
  });
  child.once('close', () => logStream.end());
  await new Promise<void>((resolvePromise, reject) => {
    child.once('spawn', () => resolvePromise());
    child.once('error', reject);
  });
  return managed;
};

const logTail = async (managed: Managed): Promise<string> => {
  try {
    return tail(await readFile(managed.logPath, 'utf8'));
  } catch {
    return '(no log)';
  }
};

const waitReady = async (managed: Managed, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (managed.exited) {
      const how = managed.child.exitCode ?? managed.child.signalCode;
      throw new Error(`${managed.name} exited before becoming ready (${how}):\n${await logTail(managed)}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  const why = lastError || 'none';
  throw new Error(`${managed.name} not ready within ${timeoutMs} ms (last error: ${why}):\n${await logTail(managed)}`);
};

const stopProcess = async (managed: Managed): Promise<void> => {
  if (managed.exited) return;
  const exited = new Promise<void>((done) => managed.child.once('exit', () => done()));
  managed.child.kill('SIGTERM');
  const timer = setTimeout(() => managed.child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
};

// ---------------------------------------------------------------------------------------------
// The server

/**
 * Starts etcd and a real kube-apiserver on loopback with RBAC and Node authorization and static
 * token users; no controllers run, so objects stay exactly as written. Building kube-apiserver on
 * a fresh machine dominates the first call.
 */
export const startKubeApiServer = async (opts: KubeApiServerOptions = {}): Promise<KubeApiServer> => {
  const log = opts.log ?? ((message: string) => process.stderr.write(`[kube-apiserver] ${message}\n`));
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;

  const etcdBin = await ensureEtcd(log);
  const apiserverBin = await ensureKubeApiServer(opts.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS);

  const dir = await mkdtemp(join(tmpdir(), 'gpu-autoscaler-kube-'));
  const processes: Managed[] = [];
  // Children would outlive a test process that dies without running stop(), holding ports and memory.
  const killOnExit = (): void => {
    for (const managed of processes) if (!managed.exited) managed.child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The apiserver first, so it does not spend its shutdown retrying a vanished etcd.
    for (const managed of [...processes].reverse()) await stopProcess(managed);
    process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const started = Date.now();
    const pki = join(dir, 'pki');
    await mkdir(pki);
    await makePki(pki);
    const ca = await readFile(join(pki, 'ca.crt'), 'utf8');

    const adminToken = newToken();
    const scalerToken = newToken();
    // token,user,uid[,"group1,group2"]: the scaler gets no group column, so only its own bindings apply.
    await writeFile(
      join(pki, 'tokens.csv'),
      `${adminToken},admin,admin-uid,"system:masters"\n${scalerToken},gpu-autoscaler,gpu-autoscaler-uid\n`,
      { mode: 0o600 },
    );

    const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3);
    if (etcdClientPort === undefined || etcdPeerPort === undefined || apiPort === undefined) {
      throw new Error('could not reserve three loopback ports');
    }

    const etcdUrl = `http://${LOOPBACK}:${etcdClientPort}`;
    const peerUrl = `http://${LOOPBACK}:${etcdPeerPort}`;
    // etcd refuses to start when an ETCD_* variable duplicates a flag, so none are passed on.
    const etcdEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD_')));
    const etcd = await startProcess(
      'etcd',
      etcdBin,
      [
        '--name=e2e',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=e2e=${peerUrl}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-outputs=stderr',
      ],
      dir,
      etcdEnv,
    );
    processes.push(etcd);
    await waitReady(
      etcd,
      async () => {
        const res = await get(`${etcdUrl}/health`, {});
        return res.status === 200 && res.body.includes('"health":"true"');
      },
      readyTimeoutMs,
    );
    log(`etcd ready on ${etcdUrl} after ${Date.now() - started} ms`);

    const server = `https://${LOOPBACK}:${apiPort}`;
    const apiserver = await startProcess(
      'kube-apiserver',
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${LOOPBACK}`,
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        `--tls-cert-file=${join(pki, 'server.crt')}`,
        `--tls-private-key-file=${join(pki, 'server.key')}`,
        `--client-ca-file=${join(pki, 'ca.crt')}`,
        '--authorization-mode=Node,RBAC',
        `--token-auth-file=${join(pki, 'tokens.csv')}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(pki, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
        // Only an allocator setting: nothing listens on or routes to this range.
        '--service-cluster-ip-range=10.96.0.0/16',
        // Endpoints may not hold loopback addresses, so reconciling the `kubernetes` Service
        // against 127.0.0.1 would only log errors.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
      ],
      dir,
      process.env,
    );
    processes.push(apiserver);
    await waitReady(
      apiserver,
      async () => {
        const res = await get(`${server}/readyz`, { ca, token: adminToken });
        return res.status === 200;
      },
      readyTimeoutMs,
    );
    log(`kube-apiserver ready on ${server} after ${Date.now() - started} ms`);

    const caData = Buffer.from(ca).toString('base64');
    const kubeConfig = (token: string): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'e2e', server, caData, skipTLSVerify: false }],
        users: [{ name: 'e2e', token }],
        contexts: [{ name: 'e2e', cluster: 'e2e', user: 'e2e' }],
        currentContext: 'e2e',
      });
      return kc;
    };

    return { server, caData, adminToken, scalerToken, kubeConfig, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
