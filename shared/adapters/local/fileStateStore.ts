import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TargetState, targetStateSchema } from '../../domain/state.ts';
import type { StateStore } from '../../ports.ts';

/** One JSON file per target in a folder: the local stand-in for the SSM parameters. */
export class FileStateStore implements StateStore {
  public constructor(private readonly dir: string) {}

  public async get(target: string): Promise<TargetState | undefined> {
    try {
      return targetStateSchema.parse(JSON.parse(await readFile(this.path(target), 'utf8')));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  public async getMany(targets: readonly string[]): Promise<Map<string, TargetState>> {
    const found = new Map<string, TargetState>();
    for (const id of targets) {
      const state = await this.get(id);
      if (state) found.set(id, state);
    }
    return found;
  }

  public async list(): Promise<TargetState[]> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    const states = await Promise.all(names.map((n) => this.get(n.slice(0, -'.json'.length))));
    return states.filter((s): s is TargetState => s !== undefined);
  }

  public async put(state: TargetState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // Write then rename, so a reader never sees half a document.
    const temp = `${this.path(state.target)}.tmp`;
    await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(temp, this.path(state.target));
  }

  private path(target: string): string {
    return join(this.dir, `${target}.json`);
  }
}
