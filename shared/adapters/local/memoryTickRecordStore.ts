import { parseTickRecord, type TickRecord } from '../../domain/tickRecord.ts';
import type { TickRecordStore } from '../../ports.ts';

/** The tick's document kept in memory: one `npm start` is one process, with no cold start to survive. */
export class MemoryTickRecordStore implements TickRecordStore {
  #text?: string;

  public async get(): Promise<TickRecord | undefined> {
    return this.#text === undefined ? undefined : parseTickRecord(this.#text, 'the tick record');
  }

  public async put(record: TickRecord): Promise<void> {
    this.#text = JSON.stringify(record);
  }
}
