import { parseStateDocument, type TargetState } from '../domain/state.ts';
import { StateRead, type StateStore } from '../ports.ts';

/** What one batch knows of a document: as read or written, unreadable (and why), or absent. */
type Known = { text: string } | { unreadable: string } | { absent: true };

/**
 * The state store as one worker batch sees it: the documents a record reads beside its own (its
 * pool's and the pool's other workloads', for the GPU view) are read once in the batch. The
 * intents of a pool's FIFO group that arrive in one batch (a storm's workloads on one pool, a
 * workload and its coupling) each read the whole group's documents; this way a storm makes a
 * fraction of the GetParameters calls (README "Limits at scale").
 *
 * The first id asked for, the document the record decides and writes, is always read from the
 * store, with whatever of the others the batch does not know yet, in the same call: a write
 * never rests on a copy older than the record. Only the worker writes a group's documents and
 * the queue gives a group's messages to one batch at a time, so the others are what the store
 * holds too; but an intent queued under a target's former group (a policy change moved it into
 * or out of a pool) may be decided at the same time, and then at worst a GPU view is a record
 * late, never a document overwritten. Made anew for every batch. A document is kept as its
 * JSON text and parsed on every read, as the store would, so no decision shares an object with
 * another. A write that fails forgets the document: the store may or may not have taken it.
 */
export const batchStateStore = (store: StateStore): StateStore => {
  const known = new Map<string, Known>();
  return {
    async getMany(targets) {
      const missing = targets.filter((t, i) => i === 0 || !known.has(t));
      if (missing.length > 0) {
        const read = await store.getMany(missing);
        for (const t of missing) {
          const state = read.get(t);
          const problem = read.unreadable.get(t);
          known.set(t, state ? { text: JSON.stringify(state) } : problem !== undefined ? { unreadable: problem } : { absent: true });
        }
      }
      const read = new StateRead();
      for (const t of targets) {
        const entry = known.get(t);
        if (entry && 'text' in entry) {
          const parsed = parseStateDocument(entry.text, t);
          if ('state' in parsed) read.set(t, parsed.state);
          else read.unreadable.set(t, parsed.problem);
        } else if (entry && 'unreadable' in entry) read.unreadable.set(t, entry.unreadable);
      }
      return read;
    },
    list: () => store.list(),
    async put(state: TargetState) {
      known.delete(state.target);
      await store.put(state);
      known.set(state.target, { text: JSON.stringify(state) });
    },
  };
};
