/**
 * Ground-truth consistency and durability. The final event history (read from every member) must
 * be one history: identical on every replica (event stream digest and hashKV), revisions strictly
 * increasing per key and with no gaps, its replay equal to the final range read, every put traceable
 * to a write some client invoked on that key (no phantom or duplicated writes, nothing a definitely
 * failed write wrote), and every acknowledged write present at the revision it was acknowledged with.
 */
import type { CheckResult, History, Violation } from '../history.js';
import { describeOp } from '../history.js';
import { TXN_PREFIX } from '../workload-txn.js';
import { buildTimeline, sameState, showState } from './truth.js';

export function checkConsistency(h: History): CheckResult {
  const checker = 'consistency';
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ checker, kind, detail });
  const t = h.truth;
  const tl = buildTimeline(t);

  for (const r of t.replicas)
    if (r.stuckAt !== undefined)
      v(
        'replica-behind',
        `member ${r.member} never reached revision ${t.revision} (stayed at ${r.stuckAt}): it lost or skipped acknowledged writes\n${r.log ?? ''}`,
      );
  const digests = new Set(t.replicas.map((r) => r.eventsDigest));
  if (digests.size > 1)
    v('replica-divergence', `event histories differ between members: ${JSON.stringify(t.replicas)}`);
  const hashes = new Set(t.replicas.map((r) => r.hashKv));
  if (hashes.size > 1)
    v('replica-divergence', `hashKV differs between members: ${JSON.stringify(t.replicas)}`);

  // Revisions: non-decreasing, (revision, key) unique, and every revision between the first and the
  // last present (all writes of the run are on the watched prefix, so a missing revision is a lost event).
  let prev = 0;
  const seen = new Set<string>();
  for (const e of t.events) {
    if (e.modRevision < prev) v('revision-order', `event at revision ${e.modRevision} after ${prev}`);
    if (e.modRevision > prev + 1 && prev !== 0)
      v('revision-gap', `no event at revisions ${prev + 1}..${e.modRevision - 1}`);
    const k = `${e.modRevision}/${e.key}`;
    if (seen.has(k)) v('duplicate-event', `two events for ${e.key} at revision ${e.modRevision}`);
    seen.add(k);
    prev = Math.max(prev, e.modRevision);
  }
  if (prev > t.revision)
    v('revision-order', `event at revision ${prev} beyond the final revision ${t.revision}`);

  for (const [key, s] of t.final) {
    const replayed = tl.stateAt(key, t.revision);
    if (!sameState(replayed, s))
      v(
        'final-state',
        `${key}: final read ${showState(s)} but the event history gives ${showState(replayed)}`,
      );
  }
  for (const [key, s] of tl.final)
    if (!t.final.has(key))
      v('final-state', `${key}: the event history ends with ${showState(s)}, final read: absent`);

  for (const value of tl.duplicateValues) v('duplicate-write', `value ${value} was written twice`);

  const writeOfValue = new Map(h.ops.filter((o) => o.value !== undefined).map((o) => [o.value!, o]));
  // Lease keys are written with the lease id as value (by a put whose outcome may be unknown).
  const leaseKeys = new Set(h.leaseKeys.map((k) => `${k.key}=${k.lease}`));
  for (const e of t.events) {
    if (e.type !== 'put') continue;
    // The list-append transactions' keys: their writes are checked by the list-append checker.
    if (e.key.startsWith(TXN_PREFIX)) continue;
    const op = writeOfValue.get(e.value);
    if (op === undefined) {
      if (!leaseKeys.has(`${e.key}=${e.value}`))
        v('phantom-write', `${e.key}=${e.value} at ${e.modRevision} was never written`);
      continue;
    }
    if (op.key !== e.key) v('phantom-write', `${e.value} written to ${op.key} appears on ${e.key}`);
    if (op.outcome === 'fail')
      v('failed-write-applied', `${describeOp(op)} failed but is at revision ${e.modRevision}`);
    if (op.type === 'cas' && op.outcome === 'ok' && op.succeeded === false)
      v(
        'failed-write-applied',
        `${describeOp(op)} reported compare failure but is at revision ${e.modRevision}`,
      );
  }

  // Durability: every acknowledged write is in the final history, at its acknowledged revision.
  let checked = 0;
  for (const o of h.ops) {
    if (o.outcome !== 'ok' || o.revision === undefined) continue;
    if (o.type === 'put' || (o.type === 'cas' && o.succeeded)) {
      checked++;
      const e = tl.eventOfValue(o.value!);
      if (e === undefined)
        v('lost-write', `${describeOp(o)} was acknowledged but is not in the final history`);
      else if (e.modRevision !== o.revision)
        v(
          'lost-write',
          `${describeOp(o)} acknowledged at revision ${o.revision} but applied at ${e.modRevision}`,
        );
    } else if (o.type === 'delete' && o.deleted === 1) {
      checked++;
      if (!tl.eventsAt(o.revision).some((e) => e.type === 'delete' && e.key === o.key))
        v(
          'lost-write',
          `${describeOp(o)} was acknowledged but there is no delete of ${o.key} at ${o.revision}`,
        );
    }
  }
  return { checker, violations, undecided: [], checked: checked + t.events.length };
}
