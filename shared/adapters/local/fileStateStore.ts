import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStateDocument, type TargetState } from '../../domain/state.ts';
import { StateRead, type StateStore } from '../../ports.ts';

/** One JSON file per target in a folder: the local stand-in for the SSM parameters. */
export class FileStateStore implements StateStore {
  public constructor(private readonly dir: string) {}

  public async getMany(targets: readonly string[]): Promise<StateRead> {
    const read = new StateRead();
    for (const id of targets) await this.add(read, id);
    return read;
  }

  public async list(): Promise<StateRead> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    return this.getMany(names.map((n) => n.slice(0, -'.json'.length)));
  }

  public async put(state: TargetState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // Write then rename, so a reader never sees half a document.
    const temp = `${this.path(state.target)}.tmp`;
    await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(temp, this.path(state.target));
  }

  private async add(read: StateRead, target: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path(target), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const parsed = parseStateDocument(text, target);
    if ('state' in parsed) read.set(target, parsed.state);
    else read.unreadable.set(target, `${this.path(target)}: ${parsed.problem}`);
  }

  private path(target: string): string {
    return join(this.dir, `${target}.json`);
  }
}
