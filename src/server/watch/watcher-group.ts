/**
 * The watcher of one create request and the group that finds, for a changed key, the watchers whose
 * range holds it. Keys are compared as latin1 strings: one char per byte, so string order is byte
 * order (the same trick `mvcc/` uses).
 */
import type { Event } from '../../proto/mvccpb/kv.js';
import { Event_EventType } from '../../proto/mvccpb/kv.js';
import type { WatchStream } from './watch-stream.js';

/** Where a watcher is in its life (see the hub's README for the diagram). */
export type WatcherState = 'synced' | 'unsynced' | 'compacted' | 'canceled';

/**
 * One watcher: a key range, the next revision it must see (`minRev`), its filters and options.
 * Owned by its stream (by id) and by exactly one of the hub's groups while synced or unsynced.
 */
export class Watcher {
  /** The next revision whose events this watcher has not been given yet. */
  minRev: number;
  state: WatcherState = 'unsynced';
  /** Whether a response with events went out since the last progress tick (etcd skips a tick then). */
  sentSinceProgressTick = false;

  constructor(
    readonly id: bigint,
    readonly stream: WatchStream,
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
  }

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
 * The synced watchers, indexed for dispatch: single-key watchers in a map by key (one lookup per
 * event), range and prefix watchers in a list checked per event. etcd uses an interval tree for the
 * ranges; a list is enough while range watchers are few next to single-key ones.
 */
export class WatcherGroup {
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly ranges = new Set<Watcher>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(w: Watcher): void {
    if (w.end === undefined) {
      let set = this.byKey.get(w.key);
      if (set === undefined) {
        set = new Set();
        this.byKey.set(w.key, set);
      }
      if (set.has(w)) return;
      set.add(w);
    } else {
      if (this.ranges.has(w)) return;
      this.ranges.add(w);
    }
    this.count++;
  }

  /** Removes `w`; returns whether it was here. */
  delete(w: Watcher): boolean {
    if (w.end === undefined) {
      const set = this.byKey.get(w.key);
      if (set === undefined || !set.delete(w)) return false;
      if (set.size === 0) this.byKey.delete(w.key);
    } else if (!this.ranges.delete(w)) {
      return false;
    }
    this.count--;
    return true;
  }

  has(w: Watcher): boolean {
    if (w.end === undefined) return this.byKey.get(w.key)?.has(w) ?? false;
    return this.ranges.has(w);
  }

  /** Calls `fn` for every watcher whose range holds `key` (latin1). */
  forEachMatching(key: string, fn: (w: Watcher) => void): void {
    const set = this.byKey.get(key);
    if (set !== undefined) for (const w of set) fn(w);
    for (const w of this.ranges) if (w.matches(key)) fn(w);
  }
}
