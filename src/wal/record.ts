/**
 * The WAL record codec: framing (length, type, CRC32C) and the payload of each record type.
 *
 * Frame layout (little-endian), every frame starts on an 8-byte boundary:
 *
 *   0       4    5          8        12                    12+length     align8
 *   +-------+----+----------+--------+---------------------+-------------+
 *   |length |type| reserved | crc    | payload (length B)  | zero pad    |
 *   | u32   | u8 | 3 x 0    | u32    |                     | to 8 bytes  |
 *   +-------+----+----------+--------+---------------------+-------------+
 *
 * crc = crc32c(bytes[0, 8) ++ payload, prevCrc): the checksum covers the length and type, and is
 * chained across the records of a segment (each record's checksum seeds the next), as etcd's is.
 * A segment's chain starts from the value carried by its first record (type `crc`), which holds
 * the final checksum of the previous segment (0 for the first segment).
 *
 * An all-zero 8-byte header (length 0, type 0) is never written: it marks the preallocated,
 * never-written tail of a segment.
 */
import { crc32c } from '../pkg/crc32c.js';
import type { ConfState, Entry, HardState, NodeId, SnapshotMetadata } from '../raft/types.js';

/** Bytes before the payload. */
export const HEADER_BYTES = 12;
/** Frames are padded to this alignment so a header never straddles it. */
export const FRAME_ALIGN = 8;
/**
 * Largest payload one record may carry. Bounds what a damaged length field can make the reader
 * allocate, and matches the order of etcd's own WAL entry limit (10 MB).
 */
export const RECORD_BYTES_MAX = 16 * 1024 * 1024;
/** Largest voter or learner list a snapshot marker may carry. */
export const CONF_IDS_MAX = 65536;

/** Record type tags as stored on disk. 0 is never used (it marks unwritten space). */
export enum RecordType {
  /** Member id and cluster id; the first records of every segment carry it. */
  Metadata = 1,
  /** One raft log entry. Replaying an entry whose index is <= the last one truncates the tail. */
  Entry = 2,
  /** The raft hard state (term, vote, commit); the last one read wins. */
  HardState = 3,
  /** A snapshot marker: a snapshot at (index, term) was saved to the snapshot store. */
  Snapshot = 4,
  /** The checksum chain value at the end of the previous segment (0 for the first). */
  Crc = 5,
}

/** The identity a WAL belongs to (etcd keeps it in the metadata record). */
export interface WalMetadata {
  memberId: NodeId;
  clusterId: bigint;
}

/** A decoded record. */
export type WalRecord =
  | { type: RecordType.Metadata; metadata: WalMetadata }
  | { type: RecordType.Entry; entry: Entry }
  | { type: RecordType.HardState; hardState: HardState }
  | { type: RecordType.Snapshot; snapshot: SnapshotMetadata }
  | { type: RecordType.Crc; crc: number };

/** The frame length (header + payload + padding) for a payload of `payloadBytes`. */
export function frameBytes(payloadBytes: number): number {
  return (HEADER_BYTES + payloadBytes + FRAME_ALIGN - 1) & ~(FRAME_ALIGN - 1);
}

const TWO32 = 0x1_0000_0000;

function putU64Num(v: DataView, at: number, n: number): void {
  v.setUint32(at, n % TWO32, true);
  v.setUint32(at + 4, Math.floor(n / TWO32), true);
}

function putU64Big(v: DataView, at: number, n: bigint): void {
  v.setBigUint64(at, n, true);
}

/** Payload size of a record, without framing. */
export function payloadBytes(r: WalRecord): number {
  switch (r.type) {
    case RecordType.Metadata:
      return 16;
    case RecordType.Entry:
      return 17 + r.entry.data.length;
    case RecordType.HardState:
      return 24;
    case RecordType.Snapshot:
      return 16 + 8 + 8 * (r.snapshot.confState.voters.length + r.snapshot.confState.learners.length);
    case RecordType.Crc:
      return 4;
  }
}

function checkU64Num(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`wal: ${what} ${n} is not a safe non-negative integer`);
}

function writePayload(r: WalRecord, v: DataView, buf: Uint8Array, at: number): void {
  switch (r.type) {
    case RecordType.Metadata:
      putU64Big(v, at, r.metadata.memberId);
      putU64Big(v, at + 8, r.metadata.clusterId);
      return;
    case RecordType.Entry: {
      const e = r.entry;
      checkU64Num(e.term, 'entry term');
      checkU64Num(e.index, 'entry index');
      putU64Num(v, at, e.term);
      putU64Num(v, at + 8, e.index);
      buf[at + 16] = e.type;
      buf.set(e.data, at + 17);
      return;
    }
    case RecordType.HardState:
      checkU64Num(r.hardState.term, 'hard state term');
      checkU64Num(r.hardState.commit, 'hard state commit');
      putU64Num(v, at, r.hardState.term);
      putU64Big(v, at + 8, r.hardState.vote);
      putU64Num(v, at + 16, r.hardState.commit);
      return;
    case RecordType.Snapshot: {
      const s = r.snapshot;
      checkU64Num(s.index, 'snapshot index');
      checkU64Num(s.term, 'snapshot term');
      putU64Num(v, at, s.index);
      putU64Num(v, at + 8, s.term);
      v.setUint32(at + 16, s.confState.voters.length, true);
      v.setUint32(at + 20, s.confState.learners.length, true);
      let p = at + 24;
      for (const id of s.confState.voters) {
        putU64Big(v, p, id);
        p += 8;
      }
      for (const id of s.confState.learners) {
        putU64Big(v, p, id);
        p += 8;
      }
      return;
    }
    case RecordType.Crc:
      v.setUint32(at, r.crc, true);
      return;
  }
}

/**
 * Encodes `records` as consecutive frames into one new buffer, chaining the checksum from
 * `prevCrc`. Returns the bytes and the chain value after the last record.
 * Throws RangeError for numbers that are not safe non-negative integers and a
 * `record-too-large`-style RangeError when a payload exceeds RECORD_BYTES_MAX (callers check first).
 */
export function encodeRecords(
  records: readonly WalRecord[],
  prevCrc: number,
): { bytes: Uint8Array; crc: number } {
  let total = 0;
  for (const r of records) {
    const n = payloadBytes(r);
    if (n > RECORD_BYTES_MAX) throw new RangeError(`wal: record of ${n} bytes exceeds ${RECORD_BYTES_MAX}`);
    total += frameBytes(n);
  }
  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  let crc = prevCrc;
  for (const r of records) {
    const n = payloadBytes(r);
    v.setUint32(at, n, true);
    buf[at + 4] = r.type;
    writePayload(r, v, buf, at + HEADER_BYTES);
    crc = crc32c(buf, crc, at, at + 8);
    crc = crc32c(buf, crc, at + HEADER_BYTES, at + HEADER_BYTES + n);
    v.setUint32(at + 8, crc, true);
    at += frameBytes(n);
  }
  return { bytes: buf, crc };
}

/** What `decodeFrame` found at an offset. */
export type DecodeResult =
  /** A valid record; `next` is the offset of the following frame, `crc` the chain value after it. */
  | { kind: 'record'; record: WalRecord; crc: number; next: number }
  /** An all-zero header: the written part of the segment ends here. */
  | { kind: 'end' }
  /** The buffer ends inside the header or inside the frame the header announces. */
  | { kind: 'short'; frameEnd: number }
  /** The frame is invalid; `frameEnd` is where it would end if its length field is to be believed. */
  | { kind: 'bad'; reason: string; frameEnd: number };

function getU64Num(v: DataView, at: number): number | undefined {
  const hi = v.getUint32(at + 4, true);
  if (hi >= 0x200000) return undefined;
  return hi * TWO32 + v.getUint32(at, true);
}

/** Decodes a payload already covered by a good checksum; returns a reason string when malformed. */
function decodePayload(
  type: number,
  buf: Uint8Array,
  v: DataView,
  at: number,
  n: number,
): WalRecord | string {
  switch (type) {
    case RecordType.Metadata:
      if (n !== 16) return `metadata payload of ${n} bytes`;
      return {
        type,
        metadata: { memberId: v.getBigUint64(at, true), clusterId: v.getBigUint64(at + 8, true) },
      };
    case RecordType.Entry: {
      if (n < 17) return `entry payload of ${n} bytes`;
      const term = getU64Num(v, at);
      const index = getU64Num(v, at + 8);
      if (term === undefined || index === undefined) return 'entry term or index beyond 2^53';
      const et = buf[at + 16]!;
      if (et !== 0 && et !== 1) return `entry type ${et}`;
      return { type, entry: { term, index, type: et, data: buf.slice(at + 17, at + n) } };
    }
    case RecordType.HardState: {
      if (n !== 24) return `hard state payload of ${n} bytes`;
      const term = getU64Num(v, at);
      const commit = getU64Num(v, at + 16);
      if (term === undefined || commit === undefined) return 'hard state term or commit beyond 2^53';
      return { type, hardState: { term, vote: v.getBigUint64(at + 8, true), commit } };
    }
    case RecordType.Snapshot: {
      if (n < 24) return `snapshot payload of ${n} bytes`;
      const index = getU64Num(v, at);
      const term = getU64Num(v, at + 8);
      if (index === undefined || term === undefined) return 'snapshot index or term beyond 2^53';
      const nv = v.getUint32(at + 16, true);
      const nl = v.getUint32(at + 20, true);
      if (nv > CONF_IDS_MAX || nl > CONF_IDS_MAX || n !== 24 + 8 * (nv + nl))
        return 'snapshot conf state size';
      const confState: ConfState = { voters: [], learners: [] };
      let p = at + 24;
      for (let i = 0; i < nv; i++, p += 8) confState.voters.push(v.getBigUint64(p, true));
      for (let i = 0; i < nl; i++, p += 8) confState.learners.push(v.getBigUint64(p, true));
      return { type, snapshot: { index, term, confState } };
    }
    case RecordType.Crc:
      if (n !== 4) return `crc payload of ${n} bytes`;
      return { type, crc: v.getUint32(at, true) };
    default:
      return `unknown record type ${type}`;
  }
}

/**
 * Decodes the frame at `off` in `buf` with the checksum chain at `prevCrc`. Never throws for any
 * input bytes: damage is reported as 'short' or 'bad'. `off` must be 8-aligned and <= buf.length.
 */
export function decodeFrame(buf: Uint8Array, off: number, prevCrc: number): DecodeResult {
  if (off + HEADER_BYTES > buf.length) {
    for (let i = off; i < buf.length; i++)
      if (buf[i] !== 0) return { kind: 'short', frameEnd: off + HEADER_BYTES };
    return { kind: 'end' };
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = v.getUint32(off, true);
  const type = buf[off + 4]!;
  if (n === 0 && type === 0 && buf[off + 5] === 0 && buf[off + 6] === 0 && buf[off + 7] === 0) {
    return { kind: 'end' };
  }
  if (n > RECORD_BYTES_MAX)
    return { kind: 'bad', reason: `record length ${n} exceeds maximum`, frameEnd: buf.length };
  const end = off + frameBytes(n);
  if (buf[off + 5] !== 0 || buf[off + 6] !== 0 || buf[off + 7] !== 0) {
    return { kind: 'bad', reason: 'non-zero reserved header bytes', frameEnd: Math.min(end, buf.length) };
  }
  if (end > buf.length) return { kind: 'short', frameEnd: end };
  let crc = crc32c(buf, prevCrc, off, off + 8);
  crc = crc32c(buf, crc, off + HEADER_BYTES, off + HEADER_BYTES + n);
  if (crc !== v.getUint32(off + 8, true)) return { kind: 'bad', reason: 'crc mismatch', frameEnd: end };
  const rec = decodePayload(type, buf, v, off + HEADER_BYTES, n);
  if (typeof rec === 'string') return { kind: 'bad', reason: rec, frameEnd: end };
  return { kind: 'record', record: rec, crc, next: end };
}
