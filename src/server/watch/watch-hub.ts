/**
 * The watch hub of one member: every committed change reaches it once, in revision order, from the
 * member's `onEvents`; it hands each change to the watchers whose range holds the key.
 *
 * Watchers live in one of two groups, as in etcd's watchable store:
 *   synced   — has seen everything up to the newest published revision; gets new events as they
 *              are published (one response per revision, so a txn is never split).
 *   unsynced — behind: started in the past, or its stream stopped taking responses (a "victim").
 *              A background step, one event-loop turn at a time, reads a bounded window of history
 *              from the store for up to `catchUpWatchersMax` such watchers at once and moves each to
 *              synced when it reaches the newest revision. Writes and other watchers never wait on it.
 *
 *            create (start <= newest)      caught up in a step
 *   ------> unsynced ---------------------------------------> synced
 *             ^   |  start compacted: compact_revision, canceled   |
 *             |   +--> compacted                                   |
 *             +----------------------------------------------------+
 *                 stream's buffered responses at the bound: minRev = the undelivered revision
 */
import { MvccError } from '../../mvcc/index.js';
import { assert } from '../../pkg/index.js';
import type { Event, KeyValue } from '../../proto/mvccpb/kv.js';
import { type WatchSink, WatchStream, type WatchStreamHost } from './watch-stream.js';
import { type Watcher, WatcherGroup, type WatchTarget } from './watcher-group.js';

/** The store reads the hub needs (the member's `MvccStore` has them). */
export interface WatchStore {
  /** Reads below this revision fail as compacted; -1 when never compacted. */
  readonly compactRev: number;
  /** Historical events of revisions [fromRev, toRev] for keys in [key, end) (see mvcc README). */
  rangeEvents(fromRev: number, toRev: number, key: Buffer, end: Buffer | undefined): Event[];
  /** The key's value at `opts.rev` (for prev_kv). */
  range(key: Buffer, end: Buffer | undefined, opts?: { rev?: number }): { kvs: KeyValue[] };
}

/** Where events come from: the member (structurally), or a fake in tests. */
export interface WatchSource {
  readonly store: WatchStore;
  /** The newest revision published to `onEvents` listeners. */
  readonly notifiedRevision: number;
  /** Subscribes to committed events, in revision order, once durable. */
  onEvents(listener: (events: Event[]) => void): void;
  /** Subscribes to history gaps (the store replaced by a snapshot compacted past what was seen). */
  onRestored?(listener: (rev: number) => void): void;
}

/** The hub's bounds and intervals. */
export interface WatchHubOptions {
  /**
   * Period of progress notifications for watchers created with progress_notify, in ms (etcd
   * --experimental-watch-progress-notify-interval, default 10 minutes). Shorter gives clients
   * fresher resume points at the cost of one small response per idle watcher per period.
   */
  progressNotifyIntervalMs: number;
  /**
   * Responses a stream may hold that its transport has not taken (write() said full). At the bound,
   * a synced watcher on that stream becomes unsynced and later catches up from the store, so memory
   * per stream stays bounded whatever the client's reading speed. etcd's channel buffer is 128.
   */
  responsesBufferedMax: number;
  /**
   * Approximate event bytes (keys and values) a stream may hold that its transport has not taken;
   * at the bound its synced watchers fall back to the store as at `responsesBufferedMax`. Caps a
   * stream's buffer when responses are large (128 responses of 1.5 MiB txns would be 192 MiB).
   */
  responsesBufferedBytesMax: number;
  /**
   * Control responses (created, canceled, progress) a stream may hold beyond `responsesBufferedMax`
   * before the stream is ended with an error: a client that sends requests but never reads.
   */
  controlResponsesBufferedMax: number;
  /** Watchers on one stream; a create beyond it is answered created + canceled. */
  watchersPerStreamMax: number;
  /** Revisions read from the store in one catch-up step (etcd's watchBatchMaxRevs, 1000). */
  catchUpRevisionsMax: number;
  /** Unsynced watchers served in one catch-up step (etcd's maxWatchersPerSync, 512). */
  catchUpWatchersMax: number;
  /**
   * Events in one catch-up response; whole revisions only, so one revision's events always travel
   * together even beyond this bound. The rest follows in the next step.
   */
  eventsPerResponseMax: number;
  /**
   * Approximate bytes (keys and values, twice with prev_kv) in one catch-up response; whole
   * revisions only, as above. etcd has no such bound (its Go clients accept 2 GiB messages); this
   * keeps catch-up responses under the 4 MiB that other gRPC clients accept by default.
   */
  catchUpBytesMax: number;
  /**
   * Events handed out by one catch-up step (over all its watchers; at least one watcher is served
   * per step). Bounds how long a step holds the event loop, so writes and synced watchers keep
   * flowing while thousands of watchers catch up.
   */
  catchUpEventsPerStepMax: number;
  /**
   * Size in bytes above which a watcher created with `fragment` gets a response split into several
   * (etcd: the server's --max-request-bytes).
   */
  maxRequestBytes: number;
}

/** Defaults: etcd 3.4's values where it has one. */
export const DEFAULT_WATCH_HUB_OPTIONS: Readonly<WatchHubOptions> = {
  progressNotifyIntervalMs: 10 * 60 * 1000,
  responsesBufferedMax: 128,
  responsesBufferedBytesMax: 16 * 1024 * 1024,
  controlResponsesBufferedMax: 1024,
  watchersPerStreamMax: 100_000,
  catchUpRevisionsMax: 1000,
  catchUpWatchersMax: 512,
  eventsPerResponseMax: 10_000,
  catchUpBytesMax: 3 * 1024 * 1024,
  catchUpEventsPerStepMax: 50_000,
  maxRequestBytes: 1.5 * 1024 * 1024,
};

/** Counters for the benchmark and tests. */
export interface WatchHubStats {
  watchers: number;
  synced: number;
  unsynced: number;
  /** Events handed to streams (after filters), since start. */
  eventsSent: number;
  /** Times a synced watcher fell behind and moved to unsynced. */
  victims: number;
  /** Catch-up steps run. */
  catchUpSteps: number;
}

const ALL_KEYS = Buffer.from([0]);

/** The hub. One per member; streams are opened per gRPC Watch call. */
export class WatchHub implements WatchStreamHost {
  readonly opts: Readonly<WatchHubOptions>;
  private readonly synced = new WatcherGroup();
  private readonly unsynced = new Set<Watcher>();
  /** How many watchers of each target are in `unsynced` (kept here, not on the stream). */
  private readonly unsyncedPerTarget = new Map<WatchTarget, number>();
  private syncScheduled = false;
  private lastRev: number;
  private closed = false;
  private readonly counters = { eventsSent: 0, victims: 0, catchUpSteps: 0 };

  constructor(
    private readonly source: WatchSource,
    opts: Partial<WatchHubOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WATCH_HUB_OPTIONS, ...opts };
    assert(this.opts.responsesBufferedMax >= 1, 'responsesBufferedMax must be >= 1');
    assert(this.opts.responsesBufferedBytesMax >= 1, 'responsesBufferedBytesMax must be >= 1');
    assert(this.opts.catchUpRevisionsMax >= 1, 'catchUpRevisionsMax must be >= 1');
    assert(this.opts.catchUpWatchersMax >= 1, 'catchUpWatchersMax must be >= 1');
    assert(this.opts.eventsPerResponseMax >= 1, 'eventsPerResponseMax must be >= 1');
    assert(this.opts.catchUpBytesMax >= 1, 'catchUpBytesMax must be >= 1');
    assert(this.opts.catchUpEventsPerStepMax >= 1, 'catchUpEventsPerStepMax must be >= 1');
    assert(this.opts.progressNotifyIntervalMs > 0, 'progressNotifyIntervalMs must be > 0');
    this.lastRev = source.notifiedRevision;
    source.onEvents((events) => this.publish(events));
    source.onRestored?.((rev) => this.restore(rev));
  }

  /**
   * The store was replaced (a snapshot from the leader) and its history may not reach back to what
   * synced watchers have seen: as etcd's watchable store Restore, every synced watcher becomes
   * unsynced and catches up from the new store; one whose next revision is compacted there gets
   * etcd's compacted error instead of a silent gap.
   */
  private restore(rev: number): void {
    for (const w of this.synced.all()) {
      this.synced.delete(w);
      this.toUnsynced(w);
    }
    this.lastRev = Math.max(this.lastRev, rev);
    this.scheduleSync();
  }

  /** The newest revision every synced watcher has been given (the member's published revision). */
  get revision(): number {
    return this.lastRev;
  }

  get store(): WatchStore {
    return this.source.store;
  }

  stats(): WatchHubStats {
    return {
      watchers: this.synced.size + this.unsynced.size,
      synced: this.synced.size,
      unsynced: this.unsynced.size,
      ...this.counters,
    };
  }

  /** Opens a stream that writes its responses to `sink` (see WatchStream). */
  openStream(sink: WatchSink): WatchStream {
    return new WatchStream(this, sink);
  }

  /** Stops dispatch and catch-up (member shutdown); streams still answer requests. */
  close(): void {
    this.closed = true;
  }

  // ---- used by WatchStream ----

  /** @internal Registers `w` (its minRev is the requested start revision, 0 = from now). */
  addWatcher(w: Watcher): void {
    const newest = this.lastRev;
    if (w.minRev === 0 || w.minRev > newest) {
      w.minRev = Math.max(w.minRev, newest + 1);
      w.state = 'synced';
      this.synced.add(w);
      return;
    }
    this.toUnsynced(w);
    this.scheduleSync();
  }

  /** @internal Removes `w` from whichever group holds it. */
  removeWatcher(w: Watcher): void {
    if (w.state === 'synced') this.synced.delete(w);
    else if (w.state === 'unsynced') this.leaveUnsynced(w);
  }

  /** @internal Watchers of `target` in the unsynced group (a progress answer waits for none). */
  unsyncedOn(target: WatchTarget): number {
    return this.unsyncedPerTarget.get(target) ?? 0;
  }

  private toUnsynced(w: Watcher): void {
    w.state = 'unsynced';
    this.unsynced.add(w);
    this.unsyncedPerTarget.set(w.target, this.unsyncedOn(w.target) + 1);
  }

  /** Takes `w` out of the unsynced group (the caller sets its next state). */
  private leaveUnsynced(w: Watcher): void {
    this.unsynced.delete(w);
    const left = this.unsyncedOn(w.target) - 1;
    if (left > 0) this.unsyncedPerTarget.set(w.target, left);
    else this.unsyncedPerTarget.delete(w.target);
  }

  /** @internal Called when a stream has room again: unsynced watchers on it may progress. */
  streamHasRoom(target: WatchTarget): void {
    if (this.unsyncedOn(target) > 0) this.scheduleSync();
  }

  /** @internal Counts events handed to streams. */
  countSent(n: number): void {
    this.counters.eventsSent += n;
  }

  // ---- dispatch of new events ----

  private publish(events: Event[]): void {
    let i = 0;
    while (i < events.length) {
      const rev = eventRev(events[i]!);
      let j = i + 1;
      while (j < events.length && eventRev(events[j]!) === rev) j++;
      assert(rev > this.lastRev, 'events are published in increasing revision order');
      this.notify(rev, events.slice(i, j));
      this.lastRev = rev;
      i = j;
    }
  }

  /** Hands one revision's events to the synced watchers they match. */
  private notify(rev: number, events: Event[]): void {
    if (this.synced.size === 0 || this.closed) return;
    const per = new Map<Watcher, Event[]>();
    for (const ev of events) {
      const key = (ev.kv?.key ?? Buffer.alloc(0)).toString('latin1');
      this.synced.forEachMatching(key, (w) => {
        const list = per.get(w);
        if (list === undefined) per.set(w, [ev]);
        else list.push(ev);
      });
    }
    for (const [w, evs] of per) {
      if (rev < w.minRev) continue; // created with a future start revision
      const out = w.filter(evs);
      if (out.length === 0) continue;
      if (!w.target.hasRoom()) {
        // A victim: its stream is not draining. It catches up from the store from this revision.
        this.synced.delete(w);
        w.minRev = rev;
        this.toUnsynced(w);
        this.counters.victims++;
        this.scheduleSync();
        continue;
      }
      w.minRev = rev + 1;
      w.target.sendEvents(w, rev, out);
    }
  }

  // ---- catch-up of unsynced watchers ----

  private scheduleSync(): void {
    if (this.syncScheduled || this.closed) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      this.syncStep();
    });
  }

  /**
   * One catch-up step: picks unsynced watchers whose streams have room, answers those whose next
   * revision was compacted, reads one window of history for the rest and gives each its part.
   */
  private syncStep(): void {
    if (this.closed || this.unsynced.size === 0) return;
    this.counters.catchUpSteps++;
    const newest = this.lastRev;
    const compactRev = this.source.store.compactRev;
    const chosen: Watcher[] = [];
    let from = Number.POSITIVE_INFINITY;
    for (const w of this.unsynced) {
      if (!w.target.hasRoom()) continue; // resumes on its stream's drain
      if (w.minRev < compactRev) {
        this.leaveUnsynced(w);
        w.state = 'compacted';
        w.target.sendCompacted(w, compactRev);
        continue;
      }
      if (w.minRev > newest) {
        this.toSynced(w);
        continue;
      }
      chosen.push(w);
      if (w.minRev < from) from = w.minRev;
      if (chosen.length >= this.opts.catchUpWatchersMax) break;
    }
    if (chosen.length === 0) return;
    const to = Math.min(newest, from + this.opts.catchUpRevisionsMax - 1);
    const only = chosen.length === 1 ? chosen[0] : undefined;
    let events: Event[];
    try {
      events =
        only === undefined
          ? this.source.store.rangeEvents(from, to, ALL_KEYS, ALL_KEYS)
          : this.source.store.rangeEvents(from, to, Buffer.from(only.key, 'latin1'), rangeEndBuffer(only));
    } catch (err) {
      // A compaction moved past `from` since we looked: the next step answers those watchers.
      if (err instanceof MvccError && err.code === 'compacted') {
        this.scheduleSync();
        return;
      }
      // The member stopped and closed its store under us: nothing more to deliver.
      if (err instanceof MvccError && err.code === 'closed') {
        this.closed = true;
        return;
      }
      throw err;
    }
    // Single-key watchers look their key up instead of scanning the whole window (a key changes at
    // most once per revision, so each list is in revision order with one event per revision).
    let byKey: Map<string, Event[]> | undefined;
    // The step's work is bounded by events handed out; watchers served go to the back of the line,
    // so the next step serves the others first.
    let budget = this.opts.catchUpEventsPerStepMax;
    for (const w of chosen) {
      if (budget <= 0) break;
      if (w.minRev > to) continue;
      let mine = events;
      if (w.end === undefined && only === undefined) {
        byKey ??= indexByKey(events);
        mine = byKey.get(w.key) ?? [];
      }
      budget -= this.catchUp(w, mine, to, newest);
      if (w.state === 'unsynced') {
        this.unsynced.delete(w);
        this.unsynced.add(w);
      }
    }
    if (this.unsynced.size > 0) this.scheduleSync();
  }

  /**
   * Gives `w` its events of the window [w.minRev, to] (bounded, whole revisions). `events` is the
   * window's events in revision order, all of them or a subset holding every one `w` matches.
   * Returns the number of events sent.
   */
  private catchUp(w: Watcher, events: Event[], to: number, newest: number): number {
    const out: Event[] = [];
    let bytes = 0;
    let covered = to; // the last revision this response completes
    let i = 0;
    while (i < events.length) {
      const rev = eventRev(events[i]!);
      let j = i + 1;
      while (j < events.length && eventRev(events[j]!) === rev) j++;
      if (rev >= w.minRev) {
        const revEvents: Event[] = [];
        for (let k = i; k < j; k++) {
          const ev = events[k]!;
          if (w.matches((ev.kv?.key ?? Buffer.alloc(0)).toString('latin1'))) revEvents.push(ev);
        }
        const kept = w.filter(revEvents);
        let keptBytes = 0;
        for (const ev of kept) keptBytes += approxBytes(ev, w.prevKv);
        // Whole revisions only: a revision that does not fit waits for the next response.
        if (
          out.length > 0 &&
          (out.length + kept.length > this.opts.eventsPerResponseMax ||
            bytes + keptBytes > this.opts.catchUpBytesMax)
        ) {
          covered = rev - 1;
          break;
        }
        for (const ev of kept) out.push(ev);
        bytes += keptBytes;
      }
      i = j;
    }
    w.minRev = covered + 1;
    // As etcd, a catch-up response that reaches the newest revision carries it in its header.
    if (out.length > 0) w.target.sendEvents(w, covered === to && to === newest ? newest : covered, out);
    if (w.minRev > newest) this.toSynced(w);
    return out.length;
  }

  private toSynced(w: Watcher): void {
    this.leaveUnsynced(w);
    w.state = 'synced';
    this.synced.add(w);
    w.target.caughtUp();
  }
}

function eventRev(e: Event): number {
  return Number(e.kv?.modRevision ?? 0n);
}

/** Rough encoded size of `e` in a response: key, value and framing; doubled for prev_kv. */
function approxBytes(e: Event, withPrev: boolean): number {
  const n = (e.kv?.key.length ?? 0) + (e.kv?.value.length ?? 0) + 32;
  return withPrev ? 2 * n : n;
}

function indexByKey(events: Event[]): Map<string, Event[]> {
  const m = new Map<string, Event[]>();
  for (const e of events) {
    const k = (e.kv?.key ?? Buffer.alloc(0)).toString('latin1');
    const list = m.get(k);
    if (list === undefined) m.set(k, [e]);
    else list.push(e);
  }
  return m;
}

function rangeEndBuffer(w: Watcher): Buffer | undefined {
  if (w.end === undefined) return undefined;
  if (w.end === null) return ALL_KEYS;
  return Buffer.from(w.end, 'latin1');
}
