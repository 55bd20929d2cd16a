/**
 * The Raft driver's ReadIndex requests: reads issued in one turn of the event loop share one
 * request (one heartbeat quorum), as etcd's read loop batches them; a request not answered within
 * READ_INDEX_RETRY_MS is asked again, and fails with "request timed out" at its deadline.
 *
 *   readIndex() ... end of turn: sendBatch() -> host.requestReadIndex(ctx) -> ... the core's
 *   ReadState{index, ctx} -> answer(readStates) resolves the batch's waiters with the index
 *
 * Request contexts are unique across the cluster (this member's id, then a counter), as etcd's
 * request ids: the leader keeps one pending request per context and answers only the member that
 * sent it first, so two members using the same context would leave one of them waiting for a
 * retry (issue 15: linearizable range p99 just above 500 ms under contention).
 */
import type { Clock } from '../pkg/index.js';
import { RaftError } from '../raft/index.js';
import { etcdError } from '../wire/errors.js';

/** How long a ReadIndex request waits for its answer before being asked again (etcd: 500 ms). */
export const READ_INDEX_RETRY_MS = 500;
/** Outstanding ReadIndex requests at most; more are refused as "too many requests". */
export const READ_INDEX_PENDING_MAX = 10_000;
/** Bytes of a request context: the member id (u64, big-endian), then a sequence number (u64). */
export const READ_INDEX_CTX_BYTES = 16;

/** What the read queue needs from the driver. */
export interface ReadIndexHost {
  readonly memberId: bigint;
  readonly clock: Clock;
  /** How long a read may wait for its index before "request timed out". */
  readonly readTimeoutMs: number;
  /** Whether the driver can still serve (not stopped, not failed). */
  usable(): boolean;
  /**
   * Hands a ReadIndex request to the Raft core and sends it on at once when this member is a
   * follower. Throws RaftError when there is no leader to ask right now.
   */
  requestReadIndex(ctx: Uint8Array): void;
  /** Something for the Ready loop to do. */
  kick(): void;
}

interface ReadWaiter {
  resolve(index: number): void;
  reject(e: unknown): void;
}

interface PendingRead {
  ctx: Uint8Array;
  sentAt: number;
  deadline: number;
  resolve(index: number): void;
  reject(e: unknown): void;
}

export class ReadIndexQueue {
  /** Requests sent and not yet answered, by context (hex). */
  private readonly pending = new Map<string, PendingRead>();
  private seq = 0n;
  /** Reads waiting for the current turn's request; see readIndex(). */
  private batch: ReadWaiter[] | undefined;
  private waiting = 0;

  constructor(private readonly host: ReadIndexHost) {}

  /** No batch is waiting for its turn (the simulator waits for this between steps). */
  get idle(): boolean {
    return this.batch === undefined;
  }

  /**
   * Resolves with a commit index that every read issued after this call may wait for. The batch is
   * handed to the core only after the turn, so it captures the commit index after every read of
   * the batch was issued. Rejects with "too many requests" past READ_INDEX_PENDING_MAX.
   */
  readIndex(): Promise<number> {
    if (this.waiting >= READ_INDEX_PENDING_MAX) return Promise.reject(etcdError('tooManyRequests'));
    return new Promise((resolve, reject) => {
      this.waiting++;
      if (this.batch === undefined) {
        this.batch = [];
        setImmediate(() => this.sendBatch());
      }
      this.batch.push({ resolve, reject });
    });
  }

  /** The context of request number `seq` of member `memberId` (unique in the cluster). */
  static context(memberId: bigint, seq: bigint): Uint8Array {
    const ctx = new Uint8Array(READ_INDEX_CTX_BYTES);
    const view = new DataView(ctx.buffer);
    view.setBigUint64(0, BigInt.asUintN(64, memberId));
    view.setBigUint64(8, BigInt.asUintN(64, seq));
    return ctx;
  }

  private sendBatch(): void {
    const waiters = this.batch ?? [];
    this.batch = undefined;
    const settle = (each: (w: ReadWaiter) => void): void => {
      this.waiting -= waiters.length;
      for (const w of waiters) each(w);
    };
    if (!this.host.usable()) {
      settle((w) => w.reject(etcdError('stopped')));
      return;
    }
    const ctx = ReadIndexQueue.context(this.host.memberId, this.seq++);
    const key = Buffer.from(ctx).toString('hex');
    const now = this.host.clock.now();
    const read: PendingRead = {
      ctx,
      sentAt: now,
      deadline: now + this.host.readTimeoutMs,
      resolve: (index) => settle((w) => w.resolve(index)),
      reject: (err) => settle((w) => w.reject(err)),
    };
    this.pending.set(key, read);
    try {
      this.host.requestReadIndex(ctx);
    } catch (err) {
      if (!(err instanceof RaftError)) {
        this.pending.delete(key);
        read.reject(err);
        return;
      }
      // No leader right now (an election): keep waiting; the next tick asks again.
      read.sentAt = Number.NEGATIVE_INFINITY;
    }
    this.host.kick();
  }

  /**
   * A tick: a request can be lost (forwarded before this member knew the leader, or a message
   * dropped): re-ask every READ_INDEX_RETRY_MS, and give up with "request timed out" at the
   * deadline.
   */
  retry(): void {
    if (this.pending.size === 0) return;
    const now = this.host.clock.now();
    for (const [key, r] of this.pending) {
      if (now > r.deadline) {
        this.pending.delete(key);
        r.reject(etcdError('timeout'));
      } else if (now - r.sentAt >= READ_INDEX_RETRY_MS) {
        r.sentAt = now;
        try {
          this.host.requestReadIndex(r.ctx);
        } catch {
          // no leader right now: the next tick tries again
        }
      }
    }
  }

  /** Hands ReadIndex answers to their waiters (each at most once: later calls find none). */
  answer(readStates: readonly { index: number; requestCtx: Uint8Array }[]): void {
    for (const rs of readStates) {
      const key = Buffer.from(rs.requestCtx).toString('hex');
      const r = this.pending.get(key);
      if (r) {
        this.pending.delete(key);
        r.resolve(rs.index);
      }
    }
  }

  /** Fails every request sent and not yet answered (a new leader, or the driver stopped). */
  failAll(kind: 'leaderChanged' | 'stopped'): void {
    for (const r of this.pending.values()) r.reject(etcdError(kind));
    this.pending.clear();
  }
}
