import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const requirementsFile = join(repoRoot, 'requirements-dev.txt');
const venvDir = join(repoRoot, '.venv');
const stampFile = join(venvDir, '.requirements-dev.sha256');
// A directory, because mkdir is atomic: vitest workers (and the globalSetup)
// may all ask for the venv at once, and two pip runs in one venv corrupt it.
const lockDir = join(venvDir, '.bootstrap.lock');
const staleLockMs = 15 * 60_000;
const installTimeoutMs = 10 * 60_000;

export interface Venv {
  dir: string;
  bin(name: string): string;
}

const venv: Venv = { dir: venvDir, bin: (name) => join(venvDir, 'bin', name) };

let pending: Promise<Venv> | undefined;

/**
 * Makes sure `.venv` at the repo root holds exactly what requirements-dev.txt
 * pins; installs only when the venv is missing or the file changed since the
 * last install. CI starts from a fresh clone, so this is its only install step.
 */
export function ensureVenv(): Promise<Venv> {
  pending ??= bootstrap().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

async function bootstrap(): Promise<Venv> {
  const wanted = await requirementsHash();
  if (await isCurrent(wanted)) return venv;

  await mkdir(venvDir, { recursive: true });
  await acquireLock();
  try {
    // Another process may have finished the install while we waited.
    if (await isCurrent(wanted)) return venv;
    await rm(stampFile, { force: true });
    if (!existsSync(venv.bin('python'))) {
      await exec('python3', ['-m', 'venv', venvDir]);
    }
    await exec(venv.bin('python'), [
      '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile,
    ]);
    await writeFile(stampFile, wanted);
    return venv;
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function requirementsHash(): Promise<string> {
  return createHash('sha256').update(await readFile(requirementsFile)).digest('hex');
}

async function isCurrent(wanted: string): Promise<boolean> {
  // The interpreter check catches a venv whose base python went away
  // (e.g. a pyenv upgrade), which the stamp alone cannot see.
  if (!existsSync(venv.bin('python'))) return false;
  const stamp = await readFile(stampFile, 'utf8').catch(() => '');
  return stamp === wanted;
}

async function acquireLock(): Promise<void> {
  const deadline = Date.now() + installTimeoutMs;
  for (;;) {
    try {
      await mkdir(lockDir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // A lock this old belongs to a run that died mid-install.
    const lockedAt = await stat(lockDir).then((s) => s.mtimeMs, () => Date.now());
    if (Date.now() - lockedAt > staleLockMs) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function exec(file: string, args: string[]): Promise<void> {
  try {
    await run(file, args, { cwd: repoRoot, timeout: installTimeoutMs, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed:\n${stdout}${stderr}`, { cause: error });
  }
}
