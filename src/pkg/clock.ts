/**
 * Time as a dependency. Production code asks a `Clock` for the time and for timers instead of calling
 * `performance.now()`/`setTimeout` directly, so tests and the simulator can drive time by hand
 * (`ManualClock`) and get the same run for the same seed.
 */

/** A timer handle: cancel it with `clear()`. Cancelling twice, or after it fired, is harmless. */
export interface Timer {
  clear(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic clock (never jumps back; unrelated to wall time). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (for timestamps shown to people, never for deadlines). */
  wallNow(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs `fn` every `ms` milliseconds until cleared. */
  setInterval(fn: () => void, ms: number): Timer;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** The process's own clocks and timers. Timers are unref'd only when asked (`unref: true`). */
export class RealClock implements Clock {
  constructor(private readonly opts: { unref?: boolean } = {}) {}
  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const t = setTimeout(fn, ms);
    if (this.opts.unref) t.unref();
    return { clear: () => clearTimeout(t) };
  }
  setInterval(fn: () => void, ms: number): Timer {
    const t = setInterval(fn, ms);
    if (this.opts.unref) t.unref();
    return { clear: () => clearInterval(t) };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** The default real clock. */
export const realClock: Clock = new RealClock();

interface Pending {
  at: number;
  seq: number;
  every: number | undefined;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Time that moves only when told to. `advance(ms)` fires every timer due in that span, in due order
 * (ties in the order they were set), with `now()` equal to each timer's due time while it runs.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(
    start = 0,
    private readonly wallBase = 1_700_000_000_000,
  ) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wallBase + this.t;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, undefined);
  }
  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(ms, 1));
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** How many timers are waiting. */
  get pendingCount(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      let next: Pending | undefined;
      for (const p of this.pending) {
        if (p.at <= end && (next === undefined || p.at < next.at || (p.at === next.at && p.seq < next.seq)))
          next = p;
      }
      if (next === undefined) break;
      this.t = Math.max(this.t, next.at);
      if (next.every === undefined) next.cancelled = true;
      else {
        next.at += next.every;
        next.seq = this.seq++;
      }
      next.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number | undefined): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, every, fn, cancelled: false };
    this.pending.push(p);
    return {
      clear: () => {
        p.cancelled = true;
      },
    };
  }
}
