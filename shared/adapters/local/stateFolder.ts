import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Says the folder is `npm start`'s: only such a folder is ever cleared. */
const MARKER = '.gpu-autoscaler-state';
/** The pid of the `npm start` using the folder. */
const LOCK = '.gpu-autoscaler.lock';
/** What FileStateStore writes: `<target>.json`, and `<target>.json.tmp` while it writes. */
const STATE_FILE = /^[a-z0-9][a-z0-9-]{0,62}\.json(\.tmp)?$/;

/** A state folder `npm start` must not use: someone else's files, or another instance's state. */
export class StateFolderError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'StateFolderError';
  }
}

const isRunning = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Makes `dir` this process's state folder, or refuses with a StateFolderError. It accepts a
 * new or empty folder, one it marked earlier that holds only state files, and one an earlier
 * version left (state files of the policy's targets, no marker); it refuses one another
 * running `npm start` uses. Unless `keep`, it then deletes the state files in it, and nothing
 * else. Synchronous, so that no request is served between the check and the folder being ours.
 * Returns the release of the folder, for when the process ends.
 */
export const claimStateFolder = (dir: string, options: { keep: boolean; targets: readonly string[] }): (() => void) => {
  mkdirSync(dir, { recursive: true });
  const entries = readdirSync(dir);
  const marked = entries.includes(MARKER);
  const earlier = new Set(options.targets.map((id) => `${id}.json`));
  const foreign = entries.filter((name) => name !== MARKER && name !== LOCK && !(marked ? STATE_FILE.test(name) : earlier.has(name)));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, and ${foreign.length - 3} more` : '');
    throw new StateFolderError(`--state-dir ${dir} holds files npm start did not write (${shown}); choose an empty or new folder`);
  }

  const lock = join(dir, LOCK);
  const take = () => writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
  try {
    take();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number(readFileSync(lock, 'utf8'));
    if (isRunning(holder)) throw new StateFolderError(`--state-dir ${dir} is the state of another npm start (pid ${holder}); stop it, or choose another folder`);
    // Left by an npm start that did not stop cleanly.
    rmSync(lock);
    take();
  }

  if (!marked) writeFileSync(join(dir, MARKER), 'State of gpu-autoscaler local mode (npm start), which clears the .json files here when it starts.\n');
  if (!options.keep) for (const name of readdirSync(dir)) if (STATE_FILE.test(name)) rmSync(join(dir, name));
  return () => {
    // Only our own lock: a later npm start may have taken over a lock it found stale.
    if (existsSync(lock) && Number(readFileSync(lock, 'utf8')) === process.pid) rmSync(lock);
  };
};
