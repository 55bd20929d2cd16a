/**
 * The watcher of one create request and the group that finds, for a changed key, the watchers whose
 * range holds it. Keys are compared as latin1 strings: one char per byte, so string order is byte
 * order (the same trick `mvcc/` uses).
 */
import type { Event } from '../../proto/mvccpb/kv.js';
import { Event_EventType } from '../../proto/mvccpb/kv.js';

/**
 * Where a watcher's responses go (its stream). The hub writes to a watcher only through this, and
 * keeps its own books (which watchers are unsynced, per target); the target keeps none of the hub's.
 */
export interface WatchTarget {
  /** Whether a response with events may be buffered now. */
  hasRoom(): boolean;
  /** Sends `events` (sorted, non-empty) of watcher `w`; the header carries `rev`. */
  sendEvents(w: Watcher, rev: number, events: Event[]): void;
  /** `w` starts below the compact revision: it is canceled with `compactRev`. */
  sendCompacted(w: Watcher, compactRev: number): void;
  /** A watcher of this target caught up: a pending progress answer may go out. */
  caughtUp(): void;
}

/** Where a watcher is in its life (see the hub's README for the diagram). */
export type WatcherState = 'synced' | 'unsynced' | 'compacted' | 'canceled';

/**
 * One watcher: a key range, the next revision it must see (`minRev`), its filters and options.
 * Owned by its stream (by id, the `target` it writes to) and by exactly one of the hub's groups while
 * synced or unsynced.
 */
export class Watcher {
  /** The next revision whose events this watcher has not been given yet. */
  minRev: number;
  state: WatcherState = 'unsynced';
  /** Whether a response with events went out since the last progress tick (etcd skips a tick then). */
  sentSinceProgressTick = false;

  constructor(
    readonly id: bigint,
    readonly target: WatchTarget,
    /** First key (latin1), never empty (etcd turns an empty key into "\0"). */
    readonly key: string,
    /** undefined: the single key; null: every key >= key; otherwise the exclusive end (latin1). */
    readonly end: string | null | undefined,
    startRev: number,
    readonly filterPut: boolean,
    readonly filterDelete: boolean,
    readonly prevKv: boolean,
    readonly fragment: boolean,
    readonly progressNotify: boolean,
  ) {
    this.minRev = startRev;
    this.prefix = typeof end === 'string' && end === prefixEnd(key) ? key : undefined;
  }

  /** Set when the range is exactly the keys starting with `key` (a prefix watch). */
  readonly prefix: string | undefined;

  /** Whether `key` (latin1) is in this watcher's range. */
  matches(key: string): boolean {
    if (this.end === undefined) return key === this.key;
    return key >= this.key && (this.end === null || key < this.end);
  }

  /** The events this watcher wants (filters NOPUT / NODELETE applied); may return the input array. */
  filter(events: Event[]): Event[] {
    if (!this.filterPut && !this.filterDelete) return events;
    return events.filter((e) =>
      e.type === Event_EventType.PUT
        ? !this.filterPut
        : e.type === Event_EventType.DELETE
          ? !this.filterDelete
          : true,
    );
  }
}

/**
 * The range end that makes [key, end) "every key starting with key", as etcd's GetPrefixRangeEnd:
 * drop trailing 0xff bytes, then add one to the last; undefined when nothing is left.
 */
export function prefixEnd(key: string): string | undefined {
  let n = key.length;
  while (n > 0 && key.charCodeAt(n - 1) === 0xff) n--;
  if (n === 0) return undefined;
  return key.slice(0, n - 1) + String.fromCharCode(key.charCodeAt(n - 1) + 1);
}

/**
 * The synced watchers, indexed for dispatch: single-key watchers in a map by key, prefix watchers
 * in a map by prefix (an event probes the prefixes of its key, one lookup per distinct prefix
 * length in use), other ranges in a list checked per event. etcd keeps all ranges in an interval
 * tree; prefixes are the common case (Kubernetes watches one prefix per resource type).
 */
export class WatcherGroup {
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly byPrefix = new Map<string, Set<Watcher>>();
  /** Prefix length -> prefix watchers of that length; the lengths an event must probe. */
  private readonly prefixLengths = new Map<number, number>();
  private lengths: number[] = [];
  private readonly ranges = new Set<Watcher>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(w: Watcher): void {
    if (w.end === undefined) {
      if (!addTo(this.byKey, w.key, w)) return;
    } else if (w.prefix !== undefined) {
      if (!addTo(this.byPrefix, w.prefix, w)) return;
      const n = this.prefixLengths.get(w.prefix.length) ?? 0;
      this.prefixLengths.set(w.prefix.length, n + 1);
      if (n === 0) this.lengths = [...this.prefixLengths.keys()];
    } else {
      if (this.ranges.has(w)) return;
      this.ranges.add(w);
    }
    this.count++;
  }

  /** Removes `w`; returns whether it was here. */
  delete(w: Watcher): boolean {
    if (w.end === undefined) {
      if (!deleteFrom(this.byKey, w.key, w)) return false;
    } else if (w.prefix !== undefined) {
      if (!deleteFrom(this.byPrefix, w.prefix, w)) return false;
      const n = (this.prefixLengths.get(w.prefix.length) ?? 1) - 1;
      if (n === 0) {
        this.prefixLengths.delete(w.prefix.length);
        this.lengths = [...this.prefixLengths.keys()];
      } else {
        this.prefixLengths.set(w.prefix.length, n);
      }
    } else if (!this.ranges.delete(w)) {
      return false;
    }
    this.count--;
    return true;
  }

  /** Every watcher of the group (a snapshot: safe to delete while iterating the result). */
  all(): Watcher[] {
    const out = new Set<Watcher>(this.ranges);
    for (const set of this.byKey.values()) for (const w of set) out.add(w);
    for (const set of this.byPrefix.values()) for (const w of set) out.add(w);
    return [...out];
  }

  has(w: Watcher): boolean {
    if (w.end === undefined) return this.byKey.get(w.key)?.has(w) ?? false;
    if (w.prefix !== undefined) return this.byPrefix.get(w.prefix)?.has(w) ?? false;
    return this.ranges.has(w);
  }

  /** Calls `fn` for every watcher whose range holds `key` (latin1). */
  forEachMatching(key: string, fn: (w: Watcher) => void): void {
    const set = this.byKey.get(key);
    if (set !== undefined) for (const w of set) fn(w);
    for (const n of this.lengths) {
      if (n > key.length) continue;
      const ps = this.byPrefix.get(key.slice(0, n));
      if (ps !== undefined) for (const w of ps) fn(w);
    }
    for (const w of this.ranges) if (w.matches(key)) fn(w);
  }
}

function addTo(m: Map<string, Set<Watcher>>, k: string, w: Watcher): boolean {
  let set = m.get(k);
  if (set === undefined) {
    set = new Set();
    m.set(k, set);
  }
  if (set.has(w)) return false;
  set.add(w);
  return true;
}

function deleteFrom(m: Map<string, Set<Watcher>>, k: string, w: Watcher): boolean {
  const set = m.get(k);
  if (set === undefined || !set.delete(w)) return false;
  if (set.size === 0) m.delete(k);
  return true;
}
