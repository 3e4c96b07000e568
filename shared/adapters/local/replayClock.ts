import type { Clock } from '../../ports.ts';

/**
 * The clock of a replay: it reads the instant the replay last set and never the system's,
 * so a week of history runs in moments and every decision is stamped with simulated time.
 */
export class ReplayClock implements Clock {
  #now: number;

  public constructor(start: number) {
    this.#now = start;
  }

  public now(): Date {
    return new Date(this.#now);
  }

  /** Moves to `instant`; a replay never goes back in time, so neither does this clock. */
  public set(instant: number): void {
    if (instant < this.#now) throw new Error(`a replay clock cannot go back from ${this.now().toISOString()} to ${new Date(instant).toISOString()}`);
    this.#now = instant;
  }
}
