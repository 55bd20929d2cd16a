/**
 * Requests per second from counters sampled over time: the dashboard scrapes each member's
 * `grpc_server_handled_total` (one counter per method and code) and turns two scrapes into rates.
 * Pure: the caller passes the counters and the monotonic time of each scrape.
 */

/** Counter values by key (a gRPC method) at one moment (monotonic ms). */
export interface CounterScrape {
  atMs: number;
  counts: Map<string, number>;
}

/** Per-key rates between two scrapes, in events per second, and their sum. */
export interface Rates {
  total: number;
  byKey: Record<string, number>;
}

/**
 * Rates from `prev` to `next`. A counter that went down (the member restarted and its counters began
 * again) counts from zero, as Prometheus's rate() does. Keys present only in `next` count from zero
 * too. An interval of 0 ms or less gives no rates.
 */
export function ratesBetween(prev: CounterScrape, next: CounterScrape): Rates {
  const dtS = (next.atMs - prev.atMs) / 1000;
  const byKey: Record<string, number> = {};
  let total = 0;
  if (dtS <= 0) return { total, byKey };
  for (const [k, v] of next.counts) {
    const before = prev.counts.get(k) ?? 0;
    const delta = v >= before ? v - before : v;
    const r = delta / dtS;
    if (r > 0) byKey[k] = r;
    total += r;
  }
  return { total, byKey };
}
