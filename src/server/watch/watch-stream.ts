/**
 * One Watch stream (one gRPC bidi call): its watchers by id, the requests it takes (create, cancel,
 * progress) and the responses it sends, in order, through a bounded buffer that respects the
 * transport's back-pressure.
 */
import type { WatchRequest, WatchResponse } from '../../proto/etcdserverpb/rpc.js';
import {
  WatchCreateRequest_FilterType,
  WatchResponse as WatchResponseCodec,
} from '../../proto/etcdserverpb/rpc.js';
import type { Event, KeyValue } from '../../proto/mvccpb/kv.js';
import { WatchError } from './errors.js';
import { Watcher, type WatchTarget } from './watcher-group.js';

/** Where a stream writes. The adapter fills the header's cluster id, member id and raft term. */
export interface WatchSink {
  /** Sends one response; false when the transport buffer is full (then wait for `handleDrain`). */
  write(response: WatchResponse): boolean;
  /** Ends the call with an error (the stream is unusable afterwards). */
  end(error: WatchError): void;
}

/** etcd's id of a progress response not tied to one watcher (WatchProgressRequest). */
export const PROGRESS_WATCH_ID = -1n;

/** etcd's id in the response to a refused create. */
export const REFUSED_WATCH_ID = -1n;

/** The bounds a stream enforces (the hub's options carry them). */
export interface WatchStreamLimits {
  watchersPerStreamMax: number;
  progressNotifyIntervalMs: number;
  responsesBufferedMax: number;
  responsesBufferedBytesMax: number;
  /** Control responses (created, canceled, progress) buffered at most before the client is cut off. */
  controlResponsesBufferedMax: number;
  /** Fragmented responses are cut to this size (etcd's --max-request-bytes). */
  maxRequestBytes: number;
}

/** What a stream needs from the hub that owns the watchers' groups. */
export interface WatchStreamHost {
  /** The newest published revision. */
  readonly revision: number;
  readonly opts: Readonly<WatchStreamLimits>;
  /** Reads a key at a past revision (prev_kv); throws when compacted. */
  readonly store: { range(key: Buffer, end: undefined, opts: { rev: number }): { kvs: KeyValue[] } };
  /** Registers a new watcher (synced, or unsynced when it starts in the past). */
  addWatcher(w: Watcher): void;
  removeWatcher(w: Watcher): void;
  /** The stream can take responses again: its unsynced watchers may progress. */
  streamHasRoom(target: WatchTarget): void;
  /** Statistics: `events` events went out. */
  countSent(events: number): void;
  /** Watchers of `target` still catching up (a progress answer waits for none). */
  unsyncedOn(target: WatchTarget): number;
}

/** One stream. Created by `WatchHub.openStream`; call `close()` when the call is over. */
export class WatchStream implements WatchTarget {
  private readonly watchers = new Map<bigint, Watcher>();
  private nextId = 0n;
  private readonly queue: WatchResponse[] = [];
  /** Approximate key and value bytes of the events in `queue`. */
  private queuedBytes = 0;
  private blocked = false;
  private closed = false;
  private progressTimer: NodeJS.Timeout | undefined;
  private progressPending = false;

  constructor(
    private readonly hub: WatchStreamHost,
    private readonly sink: WatchSink,
  ) {}

  /** Watchers on this stream (including compacted ones not yet canceled by the client). */
  get size(): number {
    return this.watchers.size;
  }

  /** Responses waiting for the transport. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Approximate event bytes waiting for the transport. */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /** Handles one request from the client (an empty request is ignored, as etcd does). */
  handleRequest(req: WatchRequest): void {
    if (this.closed) return;
    if (req.createRequest !== undefined) this.create(req.createRequest);
    else if (req.cancelRequest !== undefined) this.cancel(req.cancelRequest.watchId);
    else if (req.progressRequest !== undefined) this.requestProgress();
  }

  /** The transport can take more: flushes buffered responses and lets unsynced watchers resume. */
  handleDrain(): void {
    if (this.closed) return;
    this.blocked = false;
    while (!this.blocked && this.queue.length > 0) {
      const r = this.queue.shift() as WatchResponse;
      this.queuedBytes -= responseBytes(r);
      this.blocked = !this.sink.write(r);
    }
    if (this.hasRoom()) this.hub.streamHasRoom(this);
  }

  /** The call is over: drops every watcher and buffered response. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) {
      this.hub.removeWatcher(w);
      w.state = 'canceled';
    }
    this.watchers.clear();
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.progressTimer) clearInterval(this.progressTimer);
  }

  // ---- requests ----

  private create(c: NonNullable<WatchRequest['createRequest']>): void {
    const newest = this.hub.revision;
    // etcd: an empty key is "\0" (the smallest key); a range end of "\0" means every key >= key.
    const key = c.key.length === 0 ? '\0' : c.key.toString('latin1');
    let end: string | null | undefined;
    if (c.rangeEnd.length === 0) end = undefined;
    else if (c.rangeEnd.length === 1 && c.rangeEnd[0] === 0) end = null;
    else end = c.rangeEnd.toString('latin1');
    let refusal: string | undefined;
    if (typeof end === 'string' && key >= end) refusal = WatchError.emptyRange;
    else if (c.watchId !== 0n && this.watchers.has(c.watchId)) refusal = WatchError.duplicateId;
    else if (this.watchers.size >= this.hub.opts.watchersPerStreamMax) refusal = WatchError.tooManyWatchers;
    if (refusal !== undefined) {
      this.control({
        ...blank(newest),
        watchId: REFUSED_WATCH_ID,
        created: true,
        canceled: true,
        cancelReason: refusal,
      });
      return;
    }
    let id = c.watchId;
    if (id === 0n) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    let filterPut = false;
    let filterDelete = false;
    for (const f of c.filters) {
      if (f === WatchCreateRequest_FilterType.NOPUT) filterPut = true;
      else if (f === WatchCreateRequest_FilterType.NODELETE) filterDelete = true;
    }
    const w = new Watcher(
      id,
      this,
      key,
      end,
      // A negative start is kept: as in etcd it is below any compact revision (even the -1 of a
      // never compacted store), so the watcher is canceled as compacted.
      Number(c.startRevision),
      filterPut,
      filterDelete,
      c.prevKv,
      c.fragment,
      c.progressNotify,
    );
    this.watchers.set(id, w);
    // The created response goes first: every event of this watcher follows it.
    this.control({ ...blank(newest), watchId: id, created: true });
    this.hub.addWatcher(w);
    if (w.progressNotify) this.startProgressTimer();
  }

  private cancel(id: bigint): void {
    const w = this.watchers.get(id);
    if (w === undefined) return; // etcd answers nothing for an unknown id
    this.hub.removeWatcher(w);
    w.state = 'canceled';
    this.watchers.delete(id);
    this.control({ ...blank(this.hub.revision), watchId: id, canceled: true });
    this.maybeSendPendingProgress();
  }

  /**
   * WatchProgressRequest: etcd answers with watch id -1 and the current revision. The answer promises
   * that everything up to that revision was sent, so while a watcher of this stream is still catching
   * up it waits until none is (etcd 3.4 answers at once even then; later versions wait too).
   */
  private requestProgress(): void {
    this.progressPending = true;
    this.maybeSendPendingProgress();
  }

  /** @internal A watcher of this stream caught up (the hub's call): a pending progress may go. */
  caughtUp(): void {
    this.maybeSendPendingProgress();
  }

  /** Sends a pending progress answer once every watcher of the stream is synced. */
  private maybeSendPendingProgress(): void {
    if (!this.progressPending || this.hub.unsyncedOn(this) > 0 || this.closed) return;
    this.progressPending = false;
    this.control({ ...blank(this.hub.revision), watchId: PROGRESS_WATCH_ID });
  }

  private startProgressTimer(): void {
    if (this.progressTimer !== undefined) return;
    this.progressTimer = setInterval(() => this.progressTick(), this.hub.opts.progressNotifyIntervalMs);
    this.progressTimer.unref();
  }

  /** Periodic progress: each synced progress_notify watcher that got no events since the last tick. */
  private progressTick(): void {
    if (this.closed) return;
    for (const w of this.watchers.values()) {
      if (!w.progressNotify) continue;
      if (w.sentSinceProgressTick) {
        w.sentSinceProgressTick = false;
        continue;
      }
      // Only a synced watcher may promise "everything up to the newest revision"; a full buffer
      // means events are flowing anyway (etcd skips it too).
      if (w.state !== 'synced' || !this.hasRoom()) continue;
      this.enqueue({ ...blank(this.hub.revision), watchId: w.id });
    }
  }

  // ---- responses (used by the hub) ----

  /** Whether a response with events may be buffered now (below both buffer bounds). */
  hasRoom(): boolean {
    return (
      !this.closed &&
      this.queue.length < this.hub.opts.responsesBufferedMax &&
      this.queuedBytes < this.hub.opts.responsesBufferedBytesMax
    );
  }

  /** @internal Sends `events` (sorted, non-empty) of watcher `w`; the header carries `rev`. */
  sendEvents(w: Watcher, rev: number, events: Event[]): void {
    const withPrev = w.prevKv ? events.map((e) => this.withPrevKv(e)) : events;
    w.sentSinceProgressTick = true;
    this.hub.countSent(withPrev.length);
    const resp: WatchResponse = { ...blank(rev), watchId: w.id, events: withPrev };
    if (w.fragment && withPrev.length >= 2) {
      for (const part of fragments(resp, this.hub.opts.maxRequestBytes)) this.enqueue(part);
    } else {
      this.enqueue(resp);
    }
  }

  /** @internal Watcher `w` needs a revision below the compact revision: etcd cancels it. */
  sendCompacted(w: Watcher, compactRev: number): void {
    // etcd 3.4 sends this with an unset header revision and no cancel reason; the client knows the
    // watcher is gone from `canceled` and resumes from compact_revision.
    this.enqueue({ ...blank(0), watchId: w.id, canceled: true, compactRevision: BigInt(compactRev) });
    this.maybeSendPendingProgress();
  }

  private withPrevKv(e: Event): Event {
    const kv = e.kv;
    if (kv === undefined) return e;
    const at = Number(kv.modRevision) - 1;
    let prev: Event['prevKv'];
    if (at >= 1) {
      try {
        prev = this.hub.store.range(kv.key, undefined, { rev: at }).kvs[0];
      } catch {
        prev = undefined; // compacted meanwhile: etcd leaves prev_kv unset as well
      }
    }
    return { type: e.type, kv, prevKv: prev };
  }

  /** Control responses always go out (in order); a client that never reads is cut off. */
  private control(r: WatchResponse): void {
    if (this.queue.length >= this.hub.opts.responsesBufferedMax + this.hub.opts.controlResponsesBufferedMax) {
      this.sink.end(new WatchError(WatchError.slowClient));
      this.close();
      return;
    }
    this.enqueue(r);
  }

  private enqueue(r: WatchResponse): void {
    if (this.closed) return;
    if (!this.blocked && this.queue.length === 0) {
      this.blocked = !this.sink.write(r);
      return;
    }
    this.queue.push(r);
    this.queuedBytes += responseBytes(r);
  }
}

/** Approximate bytes of a response's events (keys and values, current and previous). */
function responseBytes(r: WatchResponse): number {
  let n = 0;
  for (const e of r.events) {
    n += (e.kv?.key.length ?? 0) + (e.kv?.value.length ?? 0) + 32;
    if (e.prevKv !== undefined) n += e.prevKv.key.length + e.prevKv.value.length + 32;
  }
  return n;
}

function blank(rev: number): WatchResponse {
  return {
    header: { clusterId: 0n, memberId: 0n, revision: BigInt(rev), raftTerm: 0n },
    watchId: 0n,
    created: false,
    canceled: false,
    compactRevision: 0n,
    cancelReason: '',
    fragment: false,
    events: [],
  };
}

/**
 * Splits a response as etcd's sendFragments: when it is at least `maxBytes` encoded and has two or
 * more events, into parts of as many events as fit under `maxBytes` (at least one each), every part
 * but the last marked `fragment`.
 */
export function fragments(resp: WatchResponse, maxBytes: number): WatchResponse[] {
  if (resp.events.length < 2 || encodedSize(resp) < maxBytes) return [resp];
  const parts: WatchResponse[] = [];
  let i = 0;
  while (i < resp.events.length) {
    const cur: WatchResponse = { ...resp, events: [], fragment: true };
    while (i < resp.events.length) {
      cur.events.push(resp.events[i] as Event);
      if (cur.events.length > 1 && encodedSize(cur) >= maxBytes) {
        cur.events.pop();
        break;
      }
      i++;
    }
    if (i === resp.events.length) cur.fragment = false;
    parts.push(cur);
  }
  return parts;
}

function encodedSize(r: WatchResponse): number {
  return WatchResponseCodec.encode(r).finish().length;
}
