/**
 * Watch delivery. Each watcher asked for every event on the workload's prefix from its start
 * revision (and, after a reconnect, resumed from its last revision + 1, possibly on another
 * member). After every fault is healed it must reach the end of the history. What it received must be exactly the final history's events from its start revision up
 * to the last revision it received (bounded by the final revision): in revision order, none
 * missing (a gap), none twice, and each with the right key, type and value.
 */
import type { CheckResult, History, Violation } from '../history.js';

export function checkWatches(h: History): CheckResult {
  const checker = 'watch';
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ checker, kind, detail });
  const truth = h.truth.events.filter((e) => e.modRevision <= h.truth.revision);
  let checked = 0;
  const lastCompaction = Math.max(0, ...(h.compactions ?? []));
  for (const w of h.watchers) {
    if (w.lagging) v('stalled', `watcher ${w.id} ${w.lagging}`);
    // etcd's compacted error is right only for a watch that asked for a compacted revision.
    const compacted = /^compacted at (\d+)$/.exec(w.aborted ?? '');
    if (w.aborted !== undefined) {
      const resumeAt = (w.events[w.events.length - 1]?.modRevision ?? w.startRevision - 1) + 1;
      if (!compacted) v('watch-aborted', `watcher ${w.id}: ${w.aborted}`);
      else if (resumeAt >= Number(compacted[1]) || Number(compacted[1]) > lastCompaction)
        v(
          'spurious-compacted',
          `watcher ${w.id} resumed at ${resumeAt} and was told "compacted at ${compacted[1]}" (last compaction ${lastCompaction})`,
        );
    }
    const got = w.events.filter((e) => e.modRevision <= h.truth.revision);
    if (got.length === 0) continue;
    const last = got[got.length - 1]!.modRevision;
    const want = truth.filter((e) => e.modRevision >= w.startRevision && e.modRevision <= last);
    // Revisions never go back; within one revision (a multi-key txn) events come in the txn's op
    // order, each key once.
    let prev = { rev: 0, key: '' };
    let keysAtRev = new Set<string>();
    for (const e of got) {
      if (e.modRevision !== prev.rev) keysAtRev = new Set();
      if (e.modRevision < prev.rev)
        v(
          'out-of-order',
          `watcher ${w.id}: ${e.type} ${e.key}@${e.modRevision} after ${prev.key}@${prev.rev}`,
        );
      else if (keysAtRev.has(e.key))
        v('duplicate-event', `watcher ${w.id}: ${e.type} ${e.key}@${e.modRevision} twice`);
      keysAtRev.add(e.key);
      prev = { rev: e.modRevision, key: e.key };
    }
    // Align both sequences by (revision, key) and report the first differences.
    const keyOf = (e: { modRevision: number; key: string }) => `${e.modRevision}/${e.key}`;
    const gotMap = new Map(got.map((e) => [keyOf(e), e]));
    const wantKeys = new Set(want.map(keyOf));
    let reported = 0;
    for (const e of want) {
      checked++;
      const g = gotMap.get(keyOf(e));
      if (g === undefined) {
        if (reported++ < 5) v('gap', `watcher ${w.id} missed ${e.type} ${e.key}@${e.modRevision}`);
      } else if (g.type !== e.type || (e.type === 'put' && g.value !== e.value)) {
        if (reported++ < 5)
          v(
            'wrong-event',
            `watcher ${w.id} got ${g.type} ${g.key}=${g.value}@${g.modRevision}, history: ${e.type} ${e.value}`,
          );
      }
    }
    for (const g of got)
      if (!wantKeys.has(keyOf(g)) && reported++ < 5)
        v(
          g.modRevision < w.startRevision ? 'before-start' : 'phantom-event',
          `watcher ${w.id} got ${g.type} ${g.key}@${g.modRevision}, not in the history from ${w.startRevision}`,
        );
  }
  return { checker, violations, undecided: [], checked };
}
