/**
 * Compact, versioned binary encodings of Message (for the transport) and ConfChange (for the data
 * of conf-change entries). Pure functions; decoding validates everything and throws RaftError
 * 'malformed' on bad input, never an AssertionError.
 *
 * Ownership: to avoid a copy per entry, decoded byte fields (entry data, context, snapshot data)
 * are views into the input buffer, and an encoding may be a view into a larger buffer. Neither
 * side may mutate a buffer after handing it over.
 *
 * Format (version 1), all integers unsigned:
 *   Message    := version:u8=1 type:u8 to:u64 from:u64 term:uv logTerm:uv index:uv commit:uv
 *                 rejectHint:uv flags:u8 (bit0 reject, bit1 snapshot present) context:bytes
 *                 nEntries:uv Entry* [Snapshot]
 *   Entry      := term:uv index:uv type:u8 data:bytes
 *   Snapshot   := index:uv term:uv nVoters:uv u64* nLearners:uv u64* data:bytes
 *   ConfChange := version:u8=1 type:u8 nodeId:u64 context:bytes
 *   bytes      := length:uv raw
 * `uv` is an unsigned LEB128 varint of a safe integer (< 2^53); u64 is 8 bytes big-endian.
 */
import { RaftError } from './errors.js';
import { type ConfChange, ConfChangeType, type Message, MessageType } from './message.js';
import { type Entry, EntryType, type NodeId, type Snapshot } from './types.js';

const VERSION = 1;
const MAX_U64 = (1n << 64n) - 1n;

class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size: number) {
    // Unzeroed, and small ones from Node's shared pool (a message is written in full before use;
    // done() returns only what was written): a fresh zeroed ArrayBuffer per message cost more.
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u64(v: bigint): void {
    if (v < 0n || v > MAX_U64) throw new RaftError('malformed', `node id out of range: ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
  }

  uv(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RaftError('malformed', `not an unsigned safe integer: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.uv(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  /** The encoded bytes: a view of the buffer (no copy; the size estimate keeps slack small). */
  done(): Uint8Array {
    // A plain Uint8Array view (not a Buffer), as before the buffer came from Node's pool.
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }
}

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.byteLength) throw new RaftError('malformed', 'truncated input');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  uv(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) break;
        return v;
      }
      mul *= 0x80;
    }
    throw new RaftError('malformed', 'varint too long');
  }

  /** A view into the input (no copy): decoded messages share the caller's buffer. */
  bytes(): Uint8Array {
    const n = this.uv();
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  end(): void {
    if (this.pos !== this.buf.byteLength) throw new RaftError('malformed', 'trailing bytes');
  }
}

function writeEntry(w: Writer, e: Entry): void {
  w.uv(e.term);
  w.uv(e.index);
  w.u8(e.type);
  w.bytes(e.data);
}

function readEntry(r: Reader): Entry {
  const term = r.uv();
  const index = r.uv();
  const type = r.u8();
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
    throw new RaftError('malformed', `entry type ${type}`);
  }
  return { term, index, type, data: r.bytes() };
}

function writeIds(w: Writer, ids: NodeId[]): void {
  w.uv(ids.length);
  for (const id of ids) w.u64(id);
}

function readIds(r: Reader): NodeId[] {
  const n = r.uv();
  const out: NodeId[] = [];
  for (let i = 0; i < n; i++) out.push(r.u64());
  return out;
}

/** Encodes a message for the wire; the result belongs to the caller. */
export function encodeMessage(m: Message): Uint8Array {
  let size = 64 + m.context.byteLength + (m.snapshot ? m.snapshot.data.byteLength + 64 : 0);
  for (const e of m.entries) size += e.data.byteLength + 16;
  const w = new Writer(size);
  w.u8(VERSION);
  w.u8(m.type);
  w.u64(m.to);
  w.u64(m.from);
  w.uv(m.term);
  w.uv(m.logTerm);
  w.uv(m.index);
  w.uv(m.commit);
  w.uv(m.rejectHint);
  w.u8((m.reject ? 1 : 0) | (m.snapshot ? 2 : 0));
  w.bytes(m.context);
  w.uv(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.snapshot) {
    const s: Snapshot = m.snapshot;
    w.uv(s.metadata.index);
    w.uv(s.metadata.term);
    writeIds(w, s.metadata.confState.voters);
    writeIds(w, s.metadata.confState.learners);
    w.bytes(s.data);
  }
  return w.done();
}

/** Decodes `encodeMessage` output; throws RaftError 'malformed' on any inconsistency. */
export function decodeMessage(b: Uint8Array): Message {
  const r = new Reader(b);
  const version = r.u8();
  if (version !== VERSION) throw new RaftError('malformed', `message version ${version}`);
  const type = r.u8();
  if (MessageType[type] === undefined) throw new RaftError('malformed', `message type ${type}`);
  const to = r.u64();
  const from = r.u64();
  const term = r.uv();
  const logTerm = r.uv();
  const index = r.uv();
  const commit = r.uv();
  const rejectHint = r.uv();
  const flags = r.u8();
  if (flags > 3) throw new RaftError('malformed', `message flags ${flags}`);
  const context = r.bytes();
  const n = r.uv();
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) entries.push(readEntry(r));
  let snapshot: Snapshot | null = null;
  if (flags & 2) {
    const sIndex = r.uv();
    const sTerm = r.uv();
    const voters = readIds(r);
    const learners = readIds(r);
    snapshot = { metadata: { index: sIndex, term: sTerm, confState: { voters, learners } }, data: r.bytes() };
  }
  r.end();
  return {
    type: type as MessageType,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    snapshot,
    reject: (flags & 1) !== 0,
    rejectHint,
    context,
  };
}

/** Encodes a conf change as the data of a ConfChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer(16 + cc.context.byteLength);
  w.u8(VERSION);
  w.u8(cc.type);
  w.u64(cc.nodeId);
  w.bytes(cc.context);
  return w.done();
}

/** Decodes `encodeConfChange` output; throws RaftError 'malformed' on bad input. */
export function decodeConfChange(b: Uint8Array): ConfChange {
  const r = new Reader(b);
  const version = r.u8();
  if (version !== VERSION) throw new RaftError('malformed', `conf change version ${version}`);
  const type = r.u8();
  if (ConfChangeType[type] === undefined) throw new RaftError('malformed', `conf change type ${type}`);
  const nodeId = r.u64();
  const context = r.bytes();
  r.end();
  return { type: type as ConfChangeType, nodeId, context };
}
