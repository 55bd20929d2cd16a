/**
 * Watch as an async iterator that never ends silently: it resumes from the revision after the last
 * one it delivered whenever its stream breaks (member killed, channel replaced, leader lost), so no
 * event is lost, duplicated or reordered; it ends only when the caller stops it (`break`, `cancel()`)
 * or with an error — `WatchCompactedError` (the next revision was compacted), `WatchCanceledError`
 * (the server cancelled it, e.g. permission denied) or a non-retryable call error.
 *
 * ```ts
 * for await (const r of client.watch('jobs/', { prefix: true })) {
 *   if (r.progress) continue;          // a progress notification: r.header.revision is reached
 *   for (const e of r.events) ...
 * }
 * ```
 *
 * Backpressure: when more than `highWaterMark` responses wait unread, the stream is paused (HTTP/2
 * flow control then holds the server back) until the reader has taken half of them.
 */
import type { ClientDuplexStream, Metadata } from '@grpc/grpc-js';
import {
  type ResponseHeader,
  WatchCreateRequest_FilterType,
  WatchRequest,
  type WatchResponse,
  WatchService,
} from '../proto/etcdserverpb/rpc.js';
import type { Event } from '../proto/mvccpb/kv.js';
import { Status } from '../wire/index.js';
import { backoffMs, type Connection } from './connection.js';
import { type EtcdError, fromGrpc, WatchCanceledError, WatchCompactedError } from './errors.js';
import { type Bytes, prefixEnd, type RangeOptions, toBuf } from './kv.js';

/** Responses buffered before the stream is paused. */
export const WATCH_HIGH_WATER_MARK = 1024;

/** Options of a watch. */
export interface WatchOptions extends RangeOptions {
  /** First revision to deliver; default: the next one after the watch is created. */
  startRevision?: bigint;
  prevKv?: boolean;
  noPut?: boolean;
  noDelete?: boolean;
  /** Ask the server for periodic progress notifications (delivered with `progress: true`). */
  progressNotify?: boolean;
  /** Let the server split large revisions into fragments. */
  fragment?: boolean;
  /** Pause the stream when this many responses wait unread; default WATCH_HIGH_WATER_MARK. */
  highWaterMark?: number;
}

/** One delivery: events of one or more revisions, or a progress notification. */
export interface WatchBatch {
  header: ResponseHeader | undefined;
  events: Event[];
  /** True for a progress notification (no events; every revision <= header.revision was delivered). */
  progress: boolean;
}

/** A running watch: iterate it; `cancel()` ends the iteration normally. */
export class Watcher implements AsyncIterable<WatchBatch> {
  /** The next revision this watcher will deliver (0n until the first creation answers). */
  nextRevision: bigint;
  /** How many times the stream was opened again after a break. */
  reconnects = 0;
  private call: ClientDuplexStream<WatchRequest, WatchResponse> | undefined;
  private readonly queue: WatchBatch[] = [];
  private waiting: { resolve(v: IteratorResult<WatchBatch>): void; reject(e: unknown): void } | undefined;
  private failure: Error | undefined;
  private done = false;
  private paused = false;
  private attempt = 0;
  private created: { resolve(): void; promise: Promise<void> };
  private readonly key: Buffer;
  private readonly rangeEnd: Buffer;
  private readonly hwm: number;
  private readonly unrotate: () => void;

  constructor(
    private readonly conn: Connection,
    key: Bytes,
    private readonly o: WatchOptions = {},
  ) {
    this.key = toBuf(key);
    const n = Number(o.rangeEnd !== undefined) + Number(!!o.prefix) + Number(!!o.fromKey);
    if (n > 1) throw new TypeError('tsetcd client: give at most one of rangeEnd, prefix, fromKey');
    this.rangeEnd =
      o.rangeEnd !== undefined
        ? toBuf(o.rangeEnd)
        : o.prefix
          ? this.key.length === 0
            ? Buffer.from([0])
            : prefixEnd(this.key)
          : o.fromKey
            ? Buffer.from([0])
            : Buffer.alloc(0);
    this.nextRevision = o.startRevision ?? 0n;
    this.hwm = o.highWaterMark ?? WATCH_HIGH_WATER_MARK;
    let resolve!: () => void;
    this.created = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    const onRotate = () => this.reopen();
    conn.onRotate.add(onRotate);
    this.unrotate = () => conn.onRotate.delete(onRotate);
    this.open();
  }

  /** True while the stream is paused because `highWaterMark` responses wait unread. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Resolves once the server has created the watch (the first time). */
  ready(): Promise<void> {
    return this.created.promise;
  }

  private open(): void {
    if (this.done) return;
    this.conn.metadata().then(
      (md) => this.openWith(md),
      (e) => this.onBreak(fromGrpc(e)),
    );
  }

  private openWith(md: Metadata): void {
    if (this.done) return;
    let call: ClientDuplexStream<WatchRequest, WatchResponse>;
    try {
      // etcd's require-leader: a member that loses its leader ends the stream, and we resume elsewhere.
      md.set('hasleader', 'true');
      call = this.conn
        .channel('voters')
        .makeBidiStreamRequest(
          WatchService.watch.path,
          WatchService.watch.requestSerialize,
          WatchService.watch.responseDeserialize,
          md,
          {},
        );
    } catch (e) {
      this.fail(fromGrpc(e));
      return;
    }
    this.call = call;
    call.on('data', (r: WatchResponse) => {
      if (this.call === call) this.onResponse(r);
    });
    call.on('error', (e) => {
      if (this.call === call) this.onBreak(fromGrpc(e));
    });
    call.on('end', () => {
      if (this.call === call) this.onBreak(undefined);
    });
    const filters: WatchCreateRequest_FilterType[] = [];
    if (this.o.noPut) filters.push(WatchCreateRequest_FilterType.NOPUT);
    if (this.o.noDelete) filters.push(WatchCreateRequest_FilterType.NODELETE);
    call.write(
      WatchRequest.fromPartial({
        createRequest: {
          key: this.key,
          rangeEnd: this.rangeEnd,
          startRevision: this.nextRevision,
          progressNotify: this.o.progressNotify ?? false,
          filters,
          prevKv: this.o.prevKv ?? false,
          fragment: this.o.fragment ?? false,
        },
      }),
    );
    if (this.paused) call.pause();
  }

  private onResponse(r: WatchResponse): void {
    const rev = r.header?.revision ?? 0n;
    if (r.canceled) {
      if (r.compactRevision > 0n) this.fail(new WatchCompactedError(r.compactRevision));
      else this.fail(new WatchCanceledError(r.cancelReason));
      return;
    }
    if (r.created) {
      this.attempt = 0;
      // Created without a start revision: every event after the header's revision is ours.
      if (this.nextRevision === 0n) this.nextRevision = rev + 1n;
      this.created.resolve();
      if (r.events.length === 0) return;
    }
    if (r.events.length > 0) {
      const last = r.events[r.events.length - 1]!.kv?.modRevision ?? 0n;
      // A fragmented revision may continue in the next response: resume at it, not after it.
      this.nextRevision = r.fragment ? last : last + 1n;
      this.push({ header: r.header, events: r.events, progress: false });
      return;
    }
    // No events, not created, not canceled: a progress notification.
    if (rev + 1n > this.nextRevision) this.nextRevision = rev + 1n;
    this.push({ header: r.header, events: [], progress: true });
  }

  private onBreak(e: EtcdError | undefined): void {
    this.call = undefined;
    if (this.done) return;
    if (e !== undefined && !resumable(e)) {
      this.fail(e);
      return;
    }
    this.attempt++;
    this.reconnects++;
    const delay = backoffMs(this.attempt, 50, 2000);
    this.conn.clock.setTimeout(() => {
      if (this.conn.isClosed)
        this.fail(fromGrpc({ code: Status.CANCELLED, details: 'tsetcd client: closed' }));
      else this.open();
    }, delay);
  }

  /** Moves the watch to a fresh stream (after a channel replacement), resuming at nextRevision. */
  private reopen(): void {
    const old = this.call;
    if (this.done || old === undefined) return;
    this.call = undefined;
    old.cancel();
    this.open();
  }

  private push(b: WatchBatch): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ value: b, done: false });
      return;
    }
    this.queue.push(b);
    if (!this.paused && this.queue.length >= this.hwm) {
      this.paused = true;
      this.call?.pause();
    }
  }

  private fail(e: Error): void {
    if (this.done) return;
    this.failure = e;
    this.stop();
  }

  private stop(): void {
    this.done = true;
    this.unrotate();
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.created.resolve();
    if (this.waiting && this.queue.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      if (this.failure) w.reject(this.failure);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /** Asks the server for a progress notification (answered as a batch with `progress: true`). */
  requestProgress(): void {
    this.call?.write(WatchRequest.fromPartial({ progressRequest: {} }));
  }

  /** Stops the watch; the iteration ends normally after what is already buffered. */
  cancel(): void {
    this.stop();
  }

  next(): Promise<IteratorResult<WatchBatch>> {
    const b = this.queue.shift();
    if (b !== undefined) {
      if (this.paused && this.queue.length <= this.hwm / 2) {
        this.paused = false;
        this.call?.resume();
      }
      return Promise.resolve({ value: b, done: false });
    }
    if (this.done) {
      if (this.failure) return Promise.reject(this.failure);
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    return {
      next: () => this.next(),
      return: async () => {
        this.cancel();
        return { value: undefined, done: true };
      },
    };
  }
}

/** Errors after which a watch opens its stream again (anything that is not the server refusing it). */
function resumable(e: EtcdError): boolean {
  switch (e.code) {
    case Status.UNAVAILABLE:
    case Status.CANCELLED:
    case Status.INTERNAL:
    case Status.UNKNOWN:
    case Status.DEADLINE_EXCEEDED:
    case Status.RESOURCE_EXHAUSTED:
      return true;
    default:
      return false;
  }
}
