import type { Clock } from '../../shared/ports.ts';

/** A clock the test moves by hand: no sleeps, no real time. */
export class ManualClock implements Clock {
  #now: number;

  public constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  public now(): Date {
    return new Date(this.#now);
  }

  public advance(seconds: number): Date {
    this.#now += seconds * 1000;
    return this.now();
  }
}
