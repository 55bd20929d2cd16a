/**
 * Leases never expire early. Soundness argument (all times on the runner's monotonic clock; every
 * process on this machine measures durations with the same monotonic clock rate): a grant or
 * keep-alive invoked at time t reaches the leader at some time s >= t, which sets the lease's
 * expiry to s + TTL (a new leader only extends it). So the lease's keys cannot be deleted before
 * t + TTL, for the latest such t whose request succeeded (answered with TTL > 0). We do not know
 * exactly when the deletion happened, only an upper bound: the earliest completion of an operation
 * whose response revision is at or after the deletion revision, or the earliest receipt of a
 * watch event at or after it. If even that upper bound is before t + TTL, the lease expired early.
 * A 1 ms allowance covers float rounding of the clocks; no other slack is needed.
 * Also: a keep-alive answered with TTL > 0 after the lease's keys were observed deleted is a lease
 * that lost its keys while still alive.
 */
import type { CheckResult, History, Violation } from '../history.js';

const CLOCK_ROUNDING_MS = 1;

export function checkLeases(h: History): CheckResult {
  const checker = 'lease';
  const violations: Violation[] = [];
  const events = h.truth.events;
  // Observation times of revisions: completion of ok ops and watch receipts, as (rev, time) pairs
  // sorted by revision, with a suffix-minimum of time (earliest time anything at >= rev was seen).
  const obs: { rev: number; at: number }[] = [];
  for (const o of h.ops)
    if (o.outcome === 'ok' && o.revision !== undefined) obs.push({ rev: o.revision, at: o.complete! });
  for (const w of h.watchers) for (const e of w.events) obs.push({ rev: e.modRevision, at: e.at });
  obs.sort((a, b) => a.rev - b.rev);
  const suffixMin: number[] = new Array(obs.length);
  let m = Number.POSITIVE_INFINITY;
  for (let i = obs.length - 1; i >= 0; i--) {
    m = Math.min(m, obs[i]!.at);
    suffixMin[i] = m;
  }
  const firstSeenAtOrAfter = (rev: number): number => {
    let lo = 0;
    let hi = obs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (obs[mid]!.rev < rev) lo = mid + 1;
      else hi = mid;
    }
    return lo < obs.length ? suffixMin[lo]! : Number.POSITIVE_INFINITY;
  };

  let checked = 0;
  for (const lk of h.leaseKeys) {
    // A put with an unknown outcome attached the key iff the history has it.
    const putRevision =
      lk.putRevision ??
      events.find((e) => e.key === lk.key && e.type === 'put' && e.value === lk.lease)?.modRevision;
    if (putRevision === undefined) continue;
    const del = events.find((e) => e.key === lk.key && e.type === 'delete' && e.modRevision > putRevision);
    if (del === undefined) continue;
    checked++;
    const seen = firstSeenAtOrAfter(del.modRevision);
    const renewals = h.leaseOps.filter((o) => o.lease === lk.lease && o.outcome === 'ok' && (o.ttl ?? 0) > 0);
    let bound = Number.NEGATIVE_INFINITY;
    let boundOp: (typeof renewals)[number] | undefined;
    for (const r of renewals) {
      if (r.invoke < seen && r.invoke + r.ttl! * 1000 > bound) {
        bound = r.invoke + r.ttl! * 1000;
        boundOp = r;
      }
      if (r.invoke > seen)
        violations.push({
          checker,
          kind: 'renewed-after-expiry',
          detail: `lease ${lk.lease}: ${r.type} invoked at ${r.invoke.toFixed(1)} answered TTL ${r.ttl}, but its key ${lk.key} was seen deleted (revision ${del.modRevision}) by ${seen.toFixed(1)}`,
        });
    }
    if (seen + CLOCK_ROUNDING_MS < bound)
      violations.push({
        checker,
        kind: 'early-expiry',
        detail: `lease ${lk.lease}: key ${lk.key} deleted at revision ${del.modRevision}, seen by ${seen.toFixed(1)} ms, but the ${boundOp!.type} invoked at ${boundOp!.invoke.toFixed(1)} with TTL ${boundOp!.ttl}s keeps it until ${bound.toFixed(1)} ms`,
      });
  }
  return { checker, violations, undecided: [], checked };
}
