/**
 * Prefix groups: the live keys under one lock or election prefix (`name/`), kept current from the
 * member's committed events, with the callers waiting on it. This replaces the watches etcd's
 * concurrency package opens per waiter: one subscription to `onEvents` serves every prefix, each
 * event costs one map lookup per `/` in its key, and a waiter or observer is woken only when the
 * prefix's holder (the live key with the lowest create revision) changes.
 *
 *   group created  --snapshot of [prefix, prefixEnd) at the store's revision S-->  live keys
 *   events with revision > S  --PUT/DELETE-->  live keys  --holder changed-->  waiters, observers
 *   last waiter and observer gone  -->  group dropped
 */
import type { Event, KeyValue } from '../../proto/mvccpb/kv.js';
import { Event_EventType } from '../../proto/mvccpb/kv.js';
import { canceled, tooManyWaiters } from './errors.js';

/** The store reads a group needs: the current revision and a range at it. */
export interface GroupStore {
  /** The store's current revision. */
  readonly rev: number;
  /** Live keys in [key, end), in key order, at the current revision. */
  range(key: Buffer, end: Buffer | undefined): { kvs: KeyValue[] };
}

/** Where groups get their keys and changes: the member (structurally), or a fake in tests. */
export interface GroupSource {
  readonly store: GroupStore;
  /** Committed events in revision order, once durable. */
  onEvents(listener: (events: Event[]) => void): void;
}

/** Receives the holder of a prefix each time it changes (Observe). */
export interface HolderObserver {
  /** `kv` is the new holder; `revision` the store revision the change happened at. */
  holder(kv: KeyValue, revision: bigint): void;
}

interface Waiter {
  /** The waiter's own key's create revision: it waits until no live key was created before it. */
  rev: bigint;
  resolve(): void;
  reject(err: Error): void;
}

/** The end of the key range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: every key after the prefix (etcd's "\x00" range end).
  return Buffer.from([0]);
}

/** True when `a` holds before `b`: lower create revision, then lower key. */
function before(a: KeyValue, b: KeyValue): boolean {
  if (a.createRevision !== b.createRevision) return a.createRevision < b.createRevision;
  return Buffer.compare(a.key, b.key) < 0;
}

/** One prefix's live keys, holder, waiters and observers. */
class PrefixGroup {
  /** Live keys under the prefix by latin1 key. */
  readonly live = new Map<string, KeyValue>();
  /** The live key with the lowest create revision, if any. */
  holder: KeyValue | undefined;
  readonly waiters = new Set<Waiter>();
  readonly observers = new Set<HolderObserver>();
  /** Events at or below this revision are already in the snapshot. */
  readonly snapshotRev: bigint;

  constructor(store: GroupStore, prefix: Buffer) {
    const { kvs } = store.range(prefix, prefixEnd(prefix));
    this.snapshotRev = BigInt(store.rev);
    for (const kv of kvs) this.live.set(kv.key.toString('latin1'), kv);
    this.holder = this.lowest();
  }

  get idle(): boolean {
    return this.waiters.size === 0 && this.observers.size === 0;
  }

  private lowest(): KeyValue | undefined {
    let best: KeyValue | undefined;
    for (const kv of this.live.values()) if (best === undefined || before(kv, best)) best = kv;
    return best;
  }

  /** Applies one event under the prefix; wakes waiters and observers if the holder changed. */
  apply(ev: Event, key: string): void {
    const kv = ev.kv;
    if (kv === undefined || kv.modRevision <= this.snapshotRev) return;
    const h = this.holder;
    let changed = false;
    if (ev.type === Event_EventType.PUT) {
      this.live.set(key, kv);
      if (h === undefined || h.key.equals(kv.key) || before(kv, h)) {
        this.holder = kv;
        changed = true;
      }
    } else {
      this.live.delete(key);
      if (h?.key.equals(kv.key)) {
        this.holder = this.lowest();
        changed = true;
      }
    }
    if (!changed) return;
    this.wake();
    const now = this.holder;
    if (now !== undefined) for (const o of this.observers) o.holder(now, kv.modRevision);
  }

  /** Resolves every waiter no live key was created before. */
  wake(): void {
    const first = this.holder?.createRevision;
    for (const w of this.waiters) {
      if (first === undefined || first >= w.rev) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }
}

/** Every prefix somebody waits on or observes, fed from one event subscription. */
export class PrefixGroups {
  private readonly groups = new Map<string, PrefixGroup>();

  /**
   * Subscribes to `source`'s events (for the life of the source; there is no unsubscribe).
   * `waitersPerNameMax` bounds waiters plus observers per prefix.
   */
  constructor(
    private readonly source: GroupSource,
    readonly waitersPerNameMax: number,
  ) {
    source.onEvents((events) => this.handleEvents(events));
  }

  /** Prefixes with at least one waiter or observer. */
  get size(): number {
    return this.groups.size;
  }

  /** Waiters and observers on `prefix` (tests, stats). */
  users(prefix: Buffer): number {
    const g = this.groups.get(prefix.toString('latin1'));
    return g === undefined ? 0 : g.waiters.size + g.observers.size;
  }

  /**
   * Resolves once no live key under `prefix` has a create revision below `rev` (etcd's
   * waitDeletes with max create revision rev-1) — at once if none has now. Rejects with a
   * CANCELLED error when `signal` aborts, and with RESOURCE_EXHAUSTED when the prefix already has
   * `waitersPerNameMax` users.
   */
  waitPredecessors(prefix: Buffer, rev: bigint, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(canceled());
    const name = prefix.toString('latin1');
    const g = this.open(name, prefix);
    const first = g.holder?.createRevision;
    if (first === undefined || first >= rev) {
      this.maybeDrop(name, g);
      return Promise.resolve();
    }
    if (g.waiters.size + g.observers.size >= this.waitersPerNameMax) {
      return Promise.reject(tooManyWaiters(name.slice(0, -1), this.waitersPerNameMax));
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (!g.waiters.delete(w)) return;
        this.maybeDrop(name, g);
        reject(canceled());
      };
      const w: Waiter = {
        rev,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          this.maybeDrop(name, g);
          resolve();
        },
        reject,
      };
      g.waiters.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Registers `o` on `prefix`; returns the current holder and the store revision it was read at
   * (undefined holder: none yet) and a function that unregisters. Throws RESOURCE_EXHAUSTED at the
   * bound.
   */
  observe(
    prefix: Buffer,
    o: HolderObserver,
  ): { holder: KeyValue | undefined; revision: bigint; close(): void } {
    const name = prefix.toString('latin1');
    const g = this.open(name, prefix);
    if (g.waiters.size + g.observers.size >= this.waitersPerNameMax) {
      this.maybeDrop(name, g);
      throw tooManyWaiters(name.slice(0, -1), this.waitersPerNameMax);
    }
    g.observers.add(o);
    return {
      holder: g.holder,
      revision: BigInt(this.source.store.rev),
      close: () => {
        if (g.observers.delete(o)) this.maybeDrop(name, g);
      },
    };
  }

  private open(name: string, prefix: Buffer): PrefixGroup {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = new PrefixGroup(this.source.store, prefix);
      this.groups.set(name, g);
    }
    return g;
  }

  private maybeDrop(name: string, g: PrefixGroup): void {
    if (g.idle && this.groups.get(name) === g) this.groups.delete(name);
  }

  private handleEvents(events: Event[]): void {
    if (this.groups.size === 0) return;
    for (const ev of events) {
      const k = ev.kv?.key;
      if (k === undefined) continue;
      const key = k.toString('latin1');
      // A key belongs to every group whose prefix ends at one of its slashes ("a/" and "a/b/").
      for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) {
        const g = this.groups.get(key.slice(0, i + 1));
        if (g !== undefined) g.apply(ev, key);
      }
    }
  }
}
