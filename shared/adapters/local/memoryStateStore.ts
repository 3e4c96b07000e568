import type { TargetState } from '../../domain/state.ts';
import type { StateStore } from '../../ports.ts';

/** State kept in memory, copied on every read and write so callers never share objects. */
export class MemoryStateStore implements StateStore {
  readonly #states = new Map<string, string>();
  public reads = 0;
  public writes = 0;

  public async get(target: string): Promise<TargetState | undefined> {
    this.reads += 1;
    const text = this.#states.get(target);
    return text === undefined ? undefined : (JSON.parse(text) as TargetState);
  }

  public async getMany(targets: readonly string[]): Promise<Map<string, TargetState>> {
    this.reads += 1;
    const found = new Map<string, TargetState>();
    for (const id of targets) {
      const text = this.#states.get(id);
      if (text !== undefined) found.set(id, JSON.parse(text) as TargetState);
    }
    return found;
  }

  public async list(): Promise<TargetState[]> {
    this.reads += 1;
    return [...this.#states.values()].map((text) => JSON.parse(text) as TargetState);
  }

  public async put(state: TargetState): Promise<void> {
    this.writes += 1;
    this.#states.set(state.target, JSON.stringify(state));
  }
}
