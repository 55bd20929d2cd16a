/**
 * ReadIndex bookkeeping on the leader (thesis §6.4): each request remembers the commit index at
 * the time it arrived; it is answered once a quorum has acknowledged a heartbeat carrying its
 * context, which proves this node was still leader after the request arrived. Requests are
 * answered in arrival order, so an ack for a later request releases the earlier ones too.
 */
import type { Message } from './message.js';
import type { NodeId } from './types.js';

/** A ReadIndex request waiting for a quorum of heartbeat acks. */
export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<NodeId>;
}

function keyOf(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Pending ReadIndex requests of the current leader term; see the file comment. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Adds a request (context in req.entries[0].data) at commit index `index`; duplicates ignored. */
  addRequest(index: number, req: Message): void {
    const key = keyOf(req.entries[0]!.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records an ack of `ctx` from `id`; returns the acks so far, or null if unknown. */
  recvAck(id: NodeId, ctx: Uint8Array): Set<NodeId> | null {
    const rs = this.pending.get(keyOf(ctx));
    if (!rs) return null;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Removes and returns every request up to and including the one with `ctx`. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = keyOf(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      if (rs) out.push(rs);
      this.pending.delete(k);
    }
    return out;
  }

  /** The context of the newest pending request, for piggybacking on heartbeats. */
  lastPendingRequestCtx(): Uint8Array | null {
    const k = this.queue[this.queue.length - 1];
    if (k === undefined) return null;
    return this.pending.get(k)!.req.entries[0]!.data;
  }

  size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
