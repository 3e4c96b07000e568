import { parseStateDocument, type TargetState } from '../../domain/state.ts';
import { StateRead, type StateStore } from '../../ports.ts';

/** State kept in memory as the text a store would hold, parsed on every read as SSM's would be. */
export class MemoryStateStore implements StateStore {
  readonly #documents = new Map<string, string>();
  public reads = 0;
  public writes = 0;

  public async getMany(targets: readonly string[]): Promise<StateRead> {
    this.reads += 1;
    return this.read(targets);
  }

  public async list(): Promise<StateRead> {
    this.reads += 1;
    return this.read([...this.#documents.keys()]);
  }

  /** One target's state, as the worker would read it (tests look at what was written). */
  public async get(target: string): Promise<TargetState | undefined> {
    return (await this.getMany([target])).get(target);
  }

  public async put(state: TargetState): Promise<void> {
    this.writes += 1;
    this.#documents.set(state.target, JSON.stringify(state));
  }

  /** Stores a document as it is, readable or not: how a test breaks one target's state. */
  public putDocument(target: string, text: string): void {
    this.#documents.set(target, text);
  }

  private read(targets: readonly string[]): StateRead {
    const read = new StateRead();
    for (const id of targets) {
      const text = this.#documents.get(id);
      if (text === undefined) continue;
      const parsed = parseStateDocument(text, id);
      if ('state' in parsed) read.set(id, parsed.state);
      else read.unreadable.set(id, parsed.problem);
    }
    return read;
  }
}
