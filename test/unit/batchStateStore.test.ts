import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { batchStateStore } from '../../shared/app/batchStateStore.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import { stateOf } from '../support/intents.ts';

/** A memory store whose next write fails, as a throttled PutParameter does (SSM may or may not have taken it). */
const storeFailingWrite = () => {
  const store = new MemoryStateStore();
  let failNext = false;
  const put = store.put.bind(store);
  store.put = async (state: TargetState) => {
    if (failNext) {
      failNext = false;
      await put(state);
      throw new Error('ThrottlingException after the write');
    }
    return put(state);
  };
  return { store, failNextWrite: () => void (failNext = true) };
};

describe('Function: batchStateStore', () => {
  it('reads a document once per batch: what it read, wrote, found unreadable or absent', async () => {
    // Prepare
    const store = new MemoryStateStore();
    await store.put(stateOf('pool', { desired: 2 }));
    store.putDocument('broken', '{');
    const batch = batchStateStore(store);

    // Act
    const first = await batch.getMany(['pool', 'broken', 'never']);
    await batch.put(stateOf('pool', { desired: 3 }));
    const second = await batch.getMany(['pool', 'broken', 'never']);

    // Assess: one read of the store in all, and the write seen by the next read
    expect(store.reads).toBe(1);
    expect(first.get('pool')?.desired).toBe(2);
    expect(second.get('pool')?.desired).toBe(3);
    expect([...second.unreadable.keys()]).toEqual(['broken']);
    expect(second.has('never')).toBe(false);
  });

  it('reads only the documents it does not know yet', async () => {
    const store = new MemoryStateStore();
    const batch = batchStateStore(store);
    await batch.getMany(['a']);
    await batch.getMany(['a', 'b']);
    await batch.getMany(['b', 'a']);
    expect(store.reads).toBe(2);
  });

  it('gives every read its own objects, as the store would', async () => {
    const store = new MemoryStateStore();
    await store.put(stateOf('app', { desired: 2 }));
    const batch = batchStateStore(store);
    const one = (await batch.getMany(['app'])).get('app');
    const two = (await batch.getMany(['app'])).get('app');
    expect(one).toEqual(two);
    expect(one).not.toBe(two);
  });

  it('forgets a document whose write failed: the next read asks the store', async () => {
    // Prepare
    const { store, failNextWrite } = storeFailingWrite();
    await store.put(stateOf('app', { desired: 2 }));
    const batch = batchStateStore(store);
    await batch.getMany(['app']);

    // Act
    failNextWrite();
    await expect(batch.put(stateOf('app', { desired: 5 }))).rejects.toThrow('ThrottlingException');
    const after = await batch.getMany(['app']);

    // Assess: the store took it after all, and the batch reads what the store holds
    expect(store.reads).toBe(2);
    expect(after.get('app')?.desired).toBe(5);
  });

  it('starts every batch afresh', async () => {
    const store = new MemoryStateStore();
    await batchStateStore(store).getMany(['app']);
    await batchStateStore(store).getMany(['app']);
    expect(store.reads).toBe(2);
  });
});
