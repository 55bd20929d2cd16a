/**
 * Per-call counters kept as plain numbers and added to their prom-client counters only when those
 * are read (issue 15: a prom-client `inc` with labels validates and hashes the labels every time, a
 * few of them per call). Each counter read through the registry (or its own `get()`) first adds
 * everything pending to every counter this set defers for, so a scrape sees every call counted
 * before it, exactly as with immediate `inc`s.
 */
import type { Counter } from 'prom-client';

/** A child counter (`counter.labels(...)`, or the counter itself when it has no labels). */
interface Incrementable {
  inc(by?: number): void;
}

/** One deferred series: `inc` is a plain addition. */
export class DeferredCount {
  n = 0;
  constructor(private readonly target: Incrementable) {}

  inc(by = 1): void {
    this.n += by;
  }

  flush(): void {
    if (this.n === 0) return;
    const n = this.n;
    this.n = 0;
    this.target.inc(n);
  }
}

export class DeferredCounts {
  private readonly counts: DeferredCount[] = [];

  /** Flushes before any of `metrics` is collected (keeping a `collect` they already had). */
  constructor(metrics: Counter<string>[]) {
    for (const metric of metrics) {
      const m = metric as unknown as { collect?: () => unknown };
      const before = m.collect;
      m.collect = () => {
        this.flush();
        return before?.call(metric);
      };
    }
  }

  /** A deferred series counting into `target` (a child of, or one of, the metrics above). */
  of(target: Incrementable): DeferredCount {
    const c = new DeferredCount(target);
    this.counts.push(c);
    return c;
  }

  flush(): void {
    for (const c of this.counts) c.flush();
  }
}
