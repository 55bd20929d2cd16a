/**
 * The ground truth as a queryable timeline: for every key, its successive states by revision,
 * rebuilt by replaying the final event history (a watch from revision 1). Every other checker asks
 * "what did key k hold at revision r" here.
 */
import type { GroundTruth, KeyState } from '../history.js';

export interface Timeline {
  /** State of `key` after every write with revision <= `rev` (null = absent). */
  stateAt(key: string, rev: number): KeyState | null;
  /** The event history's write for a value (values are unique per write), if it happened. */
  eventOfValue(value: string): { key: string; modRevision: number } | undefined;
  /** Events (put or delete) at exactly this revision. */
  eventsAt(rev: number): GroundTruth['events'];
  /** Values that appear in more than one put event (a write applied twice). */
  duplicateValues: string[];
  /** The replayed final state. */
  final: Map<string, KeyState>;
}

export function buildTimeline(truth: GroundTruth): Timeline {
  const perKey = new Map<string, { rev: number; state: KeyState | null }[]>();
  const byValue = new Map<string, { key: string; modRevision: number }>();
  const byRev = new Map<number, GroundTruth['events']>();
  const duplicateValues: string[] = [];
  const current = new Map<string, KeyState>();
  for (const e of truth.events) {
    let list = perKey.get(e.key);
    if (!list) {
      list = [];
      perKey.set(e.key, list);
    }
    const revList = byRev.get(e.modRevision);
    if (revList) revList.push(e);
    else byRev.set(e.modRevision, [e]);
    if (e.type === 'put') {
      const prev = current.get(e.key);
      const s: KeyState = {
        value: e.value,
        modRevision: e.modRevision,
        createRevision: prev ? prev.createRevision : e.modRevision,
        version: prev ? prev.version + 1 : 1,
      };
      current.set(e.key, s);
      list.push({ rev: e.modRevision, state: s });
      if (byValue.has(e.value)) duplicateValues.push(e.value);
      else byValue.set(e.value, { key: e.key, modRevision: e.modRevision });
    } else {
      current.delete(e.key);
      list.push({ rev: e.modRevision, state: null });
    }
  }
  return {
    stateAt(key, rev) {
      const list = perKey.get(key);
      if (!list) return null;
      // Binary search for the last entry with rev <= rev.
      let lo = 0;
      let hi = list.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.rev <= rev) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found < 0 ? null : list[found]!.state;
    },
    eventOfValue: (v) => byValue.get(v),
    eventsAt: (rev) => byRev.get(rev) ?? [],
    duplicateValues,
    final: current,
  };
}

export const sameState = (a: KeyState | null, b: KeyState | null): boolean =>
  a === null || b === null
    ? a === b
    : a.value === b.value &&
      a.modRevision === b.modRevision &&
      a.createRevision === b.createRevision &&
      a.version === b.version;

export const showState = (s: KeyState | null): string =>
  s === null ? 'absent' : `${s.value}@mod${s.modRevision}/create${s.createRevision}/v${s.version}`;
