import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { batchStateStore } from '../../shared/app/batchStateStore.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import { stateOf } from '../support/intents.ts';

/** A memory store that remembers the ids of every read. */
const storeRecordingReads = () => {
  const store = new MemoryStateStore();
  const reads: string[][] = [];
  const getMany = store.getMany.bind(store);
  store.getMany = async (targets) => {
    reads.push([...targets]);
    return getMany(targets);
  };
  return { store, reads };
};

/** A memory store that remembers its reads, and whose next write fails before the store takes it. */
const storeFailingWrite = () => {
  const { store, reads } = storeRecordingReads();
  let failNext = false;
  const put = store.put.bind(store);
  store.put = async (state: TargetState) => {
    if (failNext) {
      failNext = false;
      throw new Error('ThrottlingException');
    }
    return put(state);
  };
  return { store, reads, failNextWrite: () => void (failNext = true) };
};

describe('Function: batchStateStore', () => {
  it('reads the documents beside a record\'s own once per batch: as read, written, unreadable or absent', async () => {
    // Prepare
    const { store, reads } = storeRecordingReads();
    await store.put(stateOf('pool', { desired: 2 }));
    store.putDocument('broken', '{');
    const batch = batchStateStore(store);

    // Act
    const first = await batch.getMany(['llm', 'pool', 'broken', 'never']);
    await batch.put(stateOf('pool', { desired: 3 }));
    const second = await batch.getMany(['rl', 'pool', 'broken', 'never']);

    // Assess: the second record reads its own document alone, and sees the write
    expect(reads).toEqual([['llm', 'pool', 'broken', 'never'], ['rl']]);
    expect(first.get('pool')?.desired).toBe(2);
    expect(second.get('pool')?.desired).toBe(3);
    expect([...second.unreadable.keys()]).toEqual(['broken']);
    expect(second.has('never')).toBe(false);
  });

  it('always reads a record\'s own document, the one it writes, from the store', async () => {
    // Prepare: the batch knows app's document, then someone else writes it
    const { store, reads } = storeRecordingReads();
    await store.put(stateOf('app', { desired: 2 }));
    const batch = batchStateStore(store);
    await batch.getMany(['app']);
    await batch.put(stateOf('app', { desired: 3 }));
    await store.put(stateOf('app', { desired: 7 }));

    // Act
    const read = await batch.getMany(['app']);

    // Assess
    expect(reads).toEqual([['app'], ['app']]);
    expect(read.get('app')?.desired).toBe(7);
  });

  it('gives every read its own objects, as the store would', async () => {
    const store = new MemoryStateStore();
    await store.put(stateOf('pool', { desired: 2 }));
    const batch = batchStateStore(store);
    const one = (await batch.getMany(['a', 'pool'])).get('pool');
    const two = (await batch.getMany(['b', 'pool'])).get('pool');
    expect(one).toEqual(two);
    expect(one).not.toBe(two);
  });

  it('forgets a document whose write failed: the next read asks the store', async () => {
    // Prepare
    const { store, reads, failNextWrite } = storeFailingWrite();
    await store.put(stateOf('pool', { desired: 2 }));
    const batch = batchStateStore(store);
    await batch.getMany(['app', 'pool']);

    // Act
    failNextWrite();
    await expect(batch.put(stateOf('pool', { desired: 5 }))).rejects.toThrow('ThrottlingException');
    const after = await batch.getMany(['app', 'pool']);

    // Assess: what the store holds, not what the batch meant to write
    expect(reads).toEqual([['app', 'pool'], ['app', 'pool']]);
    expect(after.get('pool')?.desired).toBe(2);
  });

  it('starts every batch afresh', async () => {
    const { store, reads } = storeRecordingReads();
    await batchStateStore(store).getMany(['app', 'pool']);
    await batchStateStore(store).getMany(['app', 'pool']);
    expect(reads).toEqual([['app', 'pool'], ['app', 'pool']]);
  });
});
