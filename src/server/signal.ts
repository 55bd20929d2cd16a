/**
 * A condition to wait on: `notify()` after the state changes, and `until(pred)` resolves once
 * `pred()` holds after some notify (or at once), or fails at its deadline. Replaces polling loops:
 * waiters wake on the events that can change the answer (a leader change, an applied conf change).
 */
import type { Clock, Timer } from '../pkg/clock.js';

interface Waiting {
  pred(): boolean;
  resolve(): void;
  reject(err: unknown): void;
  timer: Timer;
}

export class Signal {
  private readonly waiting = new Set<Waiting>();

  constructor(private readonly clock: Clock) {}

  /**
   * Resolves once `pred()` is true; rejects with `onTimeout()` after `timeoutMs`, or with `cancel`'s
   * error when `cancelled()` turns true at a notify.
   */
  until(pred: () => boolean, timeoutMs: number, onTimeout: () => unknown): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: Waiting = {
        pred,
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          this.waiting.delete(w);
          reject(onTimeout());
        }, timeoutMs),
      };
      this.waiting.add(w);
    });
  }

  /** The state changed: waiters whose condition now holds resolve. */
  notify(): void {
    for (const w of this.waiting) {
      if (!w.pred()) continue;
      this.waiting.delete(w);
      w.timer.clear();
      w.resolve();
    }
  }

  /** Fails every waiter with `err` (the member stops). */
  failAll(err: unknown): void {
    for (const w of this.waiting) {
      w.timer.clear();
      w.reject(err);
    }
    this.waiting.clear();
  }
}
