/**
 * Linearizability from etcd's revisions. A linearizable etcd history has a witness order: writes
 * ordered by their revision, each read placed right after the writes up to its header revision.
 * That order is a valid linearization iff (1) every operation's result is what the sequential
 * key-value model gives at its revision — a read sees exactly the state of its key at its header
 * revision, a compare-and-swap's compare matches the state just before it (or, when it failed, at
 * its header revision), a delete deleted iff the key existed — and (2) it respects real time: if A
 * completed before B was invoked then pos(A) <= pos(B), where pos(write at r) = (r, 0),
 * pos(read at r) = (r, 1), and equality is only allowed for two reads. Writes with an unknown
 * outcome that the final history shows applied take part with their revision and no completion
 * time. Serializable reads are checked for (1) only: they may be stale, but never invented.
 */
import type { CheckResult, History, KvOp, Violation } from '../history.js';
import { describeOp } from '../history.js';
import { buildTimeline, sameState, showState } from './truth.js';

interface Placed {
  op: KvOp;
  rev: number;
  /** 0 for a write, 1 for a read (including a cas whose compare failed, a delete of nothing). */
  sub: 0 | 1;
  complete: number;
}

const before = (a: Placed, b: Placed) => a.rev < b.rev || (a.rev === b.rev && a.sub < b.sub);

export function checkRevisions(h: History): CheckResult {
  const checker = 'linearizable-revisions';
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ checker, kind, detail });
  const tl = buildTimeline(h.truth);
  const placed: Placed[] = [];
  let checked = 0;

  for (const o of h.ops) {
    if (o.outcome === 'unknown' && o.value !== undefined) {
      const e = tl.eventOfValue(o.value);
      if (e) placed.push({ op: o, rev: e.modRevision, sub: 0, complete: Number.POSITIVE_INFINITY });
      continue;
    }
    if (o.outcome !== 'ok' || o.revision === undefined) continue;
    checked++;
    const r = o.revision;
    let sub: 0 | 1 = 1;
    switch (o.type) {
      case 'get': {
        const want = tl.stateAt(o.key, r);
        if (!sameState(o.read ?? null, want))
          v(
            o.serializable ? 'serializable-read-invented' : 'stale-read',
            `${describeOp(o)}: the history holds ${showState(want)} at revision ${r}`,
          );
        break;
      }
      case 'put':
        sub = 0;
        break;
      case 'cas': {
        if (o.succeeded) {
          sub = 0;
          const beforeState = tl.stateAt(o.key, r - 1);
          if (beforeState?.value !== o.expect)
            v('cas-wrong-compare', `${describeOp(o)} succeeded but the key held ${showState(beforeState)}`);
        } else {
          const at = tl.stateAt(o.key, r);
          if (at?.value === o.expect)
            v('cas-wrong-compare', `${describeOp(o)} failed but the key held ${showState(at)} at ${r}`);
        }
        break;
      }
      case 'delete': {
        if (o.deleted === 1) {
          sub = 0;
          if (tl.stateAt(o.key, r - 1) === null)
            v('delete-of-absent', `${describeOp(o)} but the key was absent`);
        } else {
          const at = tl.stateAt(o.key, r);
          if (at !== null)
            v('delete-missed', `${describeOp(o)} deleted nothing but the key held ${showState(at)}`);
        }
        break;
      }
    }
    if (!o.serializable) placed.push({ op: o, rev: r, sub, complete: o.complete! });
  }

  // Real-time order: sweep operations by invocation, keeping the greatest position among those
  // that completed before the current invocation.
  const byInvoke = [...placed].sort((a, b) => a.op.invoke - b.op.invoke);
  const byComplete = placed
    .filter((p) => Number.isFinite(p.complete))
    .sort((a, b) => a.complete - b.complete);
  let ci = 0;
  let maxDone: Placed | undefined;
  for (const p of byInvoke) {
    while (ci < byComplete.length && byComplete[ci]!.complete < p.op.invoke) {
      const c = byComplete[ci++]!;
      if (maxDone === undefined || before(maxDone, c)) maxDone = c;
    }
    if (maxDone !== undefined && before(p, maxDone))
      v(
        'real-time-order',
        `${describeOp(maxDone.op)} completed before ${describeOp(p.op)} was invoked, yet is ordered after it (revision ${maxDone.rev} vs ${p.rev})`,
      );
  }
  return { checker, violations, undecided: [], checked };
}
