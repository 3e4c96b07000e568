import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface AlertingBinaries {
  readonly prometheus: string;
  readonly promtool: string;
  readonly alertmanager: string;
  readonly amtool: string;
}

type Tool = keyof AlertingBinaries;

// Debian ships Alertmanager as `prometheus-alertmanager`; upstream tarballs call it `alertmanager`.
const candidateNames: Record<Tool, readonly string[]> = {
  prometheus: ['prometheus'],
  promtool: ['promtool'],
  alertmanager: ['alertmanager', 'prometheus-alertmanager'],
  amtool: ['amtool'],
};

const debianPackages = ['prometheus', 'prometheus-alertmanager'] as const;

// The services Debian may start on install; they are not ours and would only hold the default ports.
const debianServices = ['prometheus.service', 'prometheus-alertmanager.service', 'prometheus-node-exporter.service'];

const INSTALL_TIMEOUT_MS = 12 * 60_000;

const searchDirs = (): string[] => {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  // A non-login root shell may lack /usr/sbin, and CI's environment is pruned.
  return [...new Set([...fromPath, '/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin'])];
};

const isExecutable = async (file: string): Promise<boolean> => {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const exists = async (file: string): Promise<boolean> => {
  try {
    await access(file, constants.F_OK);
    return true;
  } catch {
    return false;
  }
};

const locate = async (tool: Tool): Promise<string | undefined> => {
  for (const name of candidateNames[tool]) {
    for (const dir of searchDirs()) {
      const file = join(dir, name);
      if (await isExecutable(file)) return file;
    }
  }
  return undefined;
};

const locateAll = async (): Promise<{ found: Partial<Record<Tool, string>>; missing: Tool[] }> => {
  const found: Partial<Record<Tool, string>> = {};
  const missing: Tool[] = [];
  for (const tool of Object.keys(candidateNames) as Tool[]) {
    const file = await locate(tool);
    if (file === undefined) missing.push(tool);
    else found[tool] = file;
  }
  return { found, missing };
};

interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

export const run = (
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; input?: string },
): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(options.input ?? '');
    let output = '';
    const append = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms:\n${output}`));
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });

const runOrThrow = async (command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> => {
  const result = await run(command, args, { timeoutMs: INSTALL_TIMEOUT_MS, env });
  if (result.code !== 0) {
    throw new Error(`\`${command} ${args.join(' ')}\` exited with ${result.code}:\n${result.output.slice(-4000)}`);
  }
};

const stopDebianServices = async (): Promise<void> => {
  // Only a systemd-booted machine can have started them; containers refuse via policy-rc.d.
  if (!(await exists('/run/systemd/system'))) return;
  try {
    await run('systemctl', ['disable', '--now', ...debianServices], { timeoutMs: 60_000 });
  } catch {
    // Best effort: every instance the harness starts uses its own free port, so a leftover service cannot collide.
  }
};

const install = async (missing: readonly Tool[]): Promise<void> => {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error(
      `The alerting e2e tests cannot find ${missing.join(', ')} and only root can install them. ` +
        `Run \`sudo apt-get install -y ${debianPackages.join(' ')}\` (Debian 12: Prometheus 2.42, Alertmanager 0.25) ` +
        'or put the binaries on PATH.',
    );
  }
  const env: NodeJS.ProcessEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another test worker or an unrelated apt run may hold the dpkg lock; waiting beats failing.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
  await runOrThrow('apt-get', [...lockWait, 'update', '-q'], env);
  // node-exporter is only Recommended and would be one more daemon the tests never use.
  await runOrThrow('apt-get', [...lockWait, 'install', '-y', '-q', '--no-install-recommends', ...debianPackages], env);
  await stopDebianServices();
};

let pending: Promise<AlertingBinaries> | undefined;

const resolveBinaries = async (): Promise<AlertingBinaries> => {
  let { found, missing } = await locateAll();
  if (missing.length > 0) {
    await install(missing);
    ({ found, missing } = await locateAll());
  }
  const { prometheus, promtool, alertmanager, amtool } = found;
  if (prometheus === undefined || promtool === undefined || alertmanager === undefined || amtool === undefined) {
    throw new Error(`Installed ${debianPackages.join(' ')} but still cannot find: ${missing.join(', ')}`);
  }
  return { prometheus, promtool, alertmanager, amtool };
};

/** Finds the four binaries, installing the Debian packages first when any is missing. */
export const ensureBinaries = (): Promise<AlertingBinaries> => {
  pending ??= resolveBinaries().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
};
