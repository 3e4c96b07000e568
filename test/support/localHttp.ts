import { expect } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import type { TargetState } from '../../shared/domain/state.ts';
import type { StateStore } from '../../shared/ports.ts';
import { ManualClock } from './clock.ts';

// The `npm start` HTTP API as the tests that drive it through its public interface use it:
// POST /webhook, /emergency and /tick; GET /status.

/** One emergency outcome as the server answers it. */
export interface Outcome {
  target: string;
  intent: string;
  status: string;
  waitingBehind?: string;
  decision?: { verdict?: string; to?: number; from?: number; code?: string; intent?: string };
}

/** An answer's JSON: an emergency's outcomes, or a refusal's error. */
export interface ReplyBody {
  outcomes?: Outcome[];
  error?: string;
  [field: string]: unknown;
}

export interface Reply {
  status: number;
  body: ReplyBody;
  text: string;
}

/** One target as GET /status shows it (the fields these tests read). */
export interface TargetView {
  id: string;
  desired: number | null;
  live: number | null;
  pause: { until: string; since?: string; pinned?: true } | null;
  vetoes: string[];
  droppedVetoes: { fingerprints: { fingerprint: string; since: string }[]; forgottenUntil?: string } | null;
  alerts: { alertname: string; fingerprint: string }[];
  lastDecisions: { code: string; cause?: string; from: number; to: number; intent: string }[];
}

/** POSTs a JSON body (a string goes as it is); the answer with its JSON, `{}` when it has none. */
export const postRaw = async (url: string, path: string, body: unknown = {}): Promise<Reply> => {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let parsed: ReplyBody = {};
  try {
    parsed = JSON.parse(text) as ReplyBody;
  } catch {
    parsed = {};
  }
  return { status: response.status, body: parsed, text };
};

/** The same, expecting 200: the answer's JSON. */
export const postOk = async (url: string, path: string, body: unknown = {}): Promise<ReplyBody> => {
  const r = await postRaw(url, path, body);
  expect(r.status, `${path} ${JSON.stringify(body).slice(0, 200)} -> ${r.text.slice(0, 400)}`).toBe(200);
  return r.body;
};

/** A tick a minute for `minutes` minutes, on the server's clock. */
export const ticksFor = async (url: string, clock: ManualClock, minutes: number): Promise<void> => {
  for (let m = 0; m < minutes; m += 1) {
    clock.advance(60);
    await postOk(url, '/tick');
  }
};

/** One target of GET /status. */
export const targetView = async (url: string, id: string): Promise<TargetView> => {
  const body = (await (await fetch(`${url}/status`)).json()) as { targets: TargetView[] };
  const view = body.targets.find((t) => t.id === id);
  if (!view) throw new Error(`no ${id} in /status`);
  return view;
};

/**
 * A store whose reads can be held at a gate (`arm(n)`: the next n `getMany` calls wait for each
 * other, as two emergency functions reading SSM at the same moment), and whose next matching
 * put can be made to succeed and then throw (a PutParameter that went through but timed out:
 * SQS redelivers).
 */
export const gatedStore = (inner = new MemoryStateStore()) => {
  let gate: { want: number; waiting: (() => void)[] } | undefined;
  let failPut: ((state: TargetState) => boolean) | undefined;
  const store: StateStore = {
    getMany: async (ids) => {
      if (gate) {
        const g = gate;
        await new Promise<void>((resolve) => {
          g.waiting.push(resolve);
          if (g.waiting.length === g.want) {
            gate = undefined;
            for (const go of g.waiting) go();
          }
        });
      }
      return inner.getMany(ids);
    },
    list: () => inner.list(),
    put: async (state) => {
      await inner.put(state);
      if (failPut?.(state)) {
        failPut = undefined;
        throw new Error('PutParameter: the request timed out (the write went through)');
      }
    },
  };
  return { store, inner, arm: (n: number) => (gate = { want: n, waiting: [] }), failNextPutWhere: (p: (s: TargetState) => boolean) => (failPut = p) };
};

/**
 * One `npm start` server per test, on a ManualClock, and the calls the tests make to it:
 * `start` (the shipped policy unless told), POSTs, a tick a minute, a target's /status;
 * `close` in afterEach.
 */
export const localSession = (shipped: Policy) => {
  let scaler: LocalAutoscaler | undefined;
  let url = '';
  let clock = new ManualClock('2026-01-01T00:00:00Z');
  return {
    get clock(): ManualClock {
      return clock;
    },
    get url(): string {
      return url;
    },
    get scaler(): LocalAutoscaler | undefined {
      return scaler;
    },
    start: async (at: string, policy: Policy = shipped, store: StateStore = new MemoryStateStore(), print: (line: string) => void = () => undefined): Promise<LocalAutoscaler> => {
      clock = new ManualClock(at);
      scaler = new LocalAutoscaler({ policy, clock, store, print });
      url = await scaler.listen(0);
      return scaler;
    },
    raw: (path: string, body: unknown = {}): Promise<Reply> => postRaw(url, path, body),
    post: (path: string, body: unknown = {}): Promise<ReplyBody> => postOk(url, path, body),
    ticksFor: (minutes: number): Promise<void> => ticksFor(url, clock, minutes),
    status: (id: string): Promise<TargetView> => targetView(url, id),
    close: async (): Promise<void> => {
      await scaler?.close();
      scaler = undefined;
    },
  };
};
