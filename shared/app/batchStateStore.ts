import { parseStateDocument, type TargetState } from '../domain/state.ts';
import { StateRead, type StateStore } from '../ports.ts';

/** What one batch knows of a document: as read or written, unreadable (and why), or absent. */
type Known = { text: string } | { unreadable: string } | { absent: true };

/**
 * The state store as one worker batch sees it: a document read or written in the batch is not
 * read again in it. The intents of a FIFO group that arrive in one batch (a storm's workloads
 * on one pool, a workload and its coupling) each read the whole group's documents; read once,
 * a storm makes a fraction of the GetParameters calls (README "Limits at scale").
 *
 * Fresh all the same, because the worker is the single writer of a group's documents and the
 * queue gives a group's messages to one batch at a time: while this batch holds them, what it
 * last read or wrote is what the store holds. Made anew for every batch. A document kept as its
 * JSON text and parsed on every read, as the store would, so no decision shares an object with
 * another. A write that fails forgets the document: the store may or may not have taken it.
 */
export const batchStateStore = (store: StateStore): StateStore => {
  const known = new Map<string, Known>();
  return {
    async getMany(targets) {
      const missing = targets.filter((t) => !known.has(t));
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
