/**
 * etcd 3.4's write-ahead log, read (never written) by us: go.etcd.io/etcd/wal (decoder.go, wal.go
 * ReadAll, ValidSnapshotEntries, util.go) and the raftpb messages in it.
 *
 * A segment `%016x-%016x.wal` (sequence, raft index of its first entry) is a run of frames:
 *
 *   length u64 LE | walpb.Record | zero padding to 8 bytes
 *   length's top byte: 0x80 | pad when padded (the lower 56 bits are the record's bytes)
 *   walpb.Record = { type int64 = 1, crc uint32 = 2, data bytes = 3 }
 *   type: 1 metadata (etcdserverpb.Metadata {NodeID = 1, ClusterID = 2}), 2 entry (raftpb.Entry),
 *         3 state (raftpb.HardState), 4 crc (the previous segment's last CRC), 5 snapshot
 *         (walpb.Snapshot {index = 1, term = 2})
 *   crc = CRC-32C of data, chained: seeded with the previous record's crc (a crc record resets it)
 *
 * A zero length ends a segment (preallocated space). The reader follows etcd's rules: a record that
 * fails to decode or its CRC in the LAST segment is a torn write when the segment ends there
 * (etcd's `wal.Repair` truncates it at start; we read up to it and leave the file alone), anywhere
 * else it is corruption and refused, naming the file and offset.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../../pkg/index.js';
import { EtcdDirError } from './errors.js';
import { type ProtoError, ProtoFields } from './protobuf.js';

/** etcd's decoder refuses records this large (raft's messages are at most a few MiB). */
export const ETCD_WAL_ENTRY_BYTES_MAX = 10 * 1024 * 1024;

const METADATA = 1;
const ENTRY = 2;
const STATE = 3;
const CRC = 4;
const SNAPSHOT = 5;

/** raftpb.EntryType. */
export const EntryNormal = 0;
export const EntryConfChange = 1;
export const EntryConfChangeV2 = 2;

export interface EtcdEntry {
  term: number;
  index: number;
  /** EntryNormal, EntryConfChange or EntryConfChangeV2. */
  type: number;
  data: Buffer;
}

export interface EtcdHardState {
  term: number;
  vote: bigint;
  commit: number;
}

/** A walpb.Snapshot marker: a raft snapshot was taken at (index, term). */
export interface EtcdSnapshotMark {
  index: number;
  term: number;
}

/** What etcd's ReadAll returns from a snapshot on: who the member is, its hard state and log. */
export interface EtcdWalRead {
  memberId: bigint;
  clusterId: bigint;
  hardState: EtcdHardState;
  /** The entries after the start snapshot, contiguous, as etcd's ReadAll keeps them. */
  entries: EtcdEntry[];
  /** Set when the last segment ends in a torn record (read up to it, as etcd repairs it). */
  tornTail?: { file: string; offset: number };
}

interface Segment {
  name: string;
  seq: bigint;
  index: bigint;
}

/** The segments of `walDir` in name order (etcd ignores other names); none: not an etcd WAL dir. */
export function etcdWalSegments(walDir: string): Segment[] {
  let names: string[];
  try {
    names = readdirSync(walDir);
  } catch (e) {
    throw new EtcdDirError(walDir, (e as Error).message);
  }
  const out: Segment[] = [];
  for (const name of names.sort()) {
    const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
    if (m) out.push({ name, seq: BigInt(`0x${m[1]}`), index: BigInt(`0x${m[2]}`) });
  }
  return out;
}

/** Whether the first frame of `file` is an etcd WAL record (a crc record, as etcd starts every segment). */
export function looksLikeEtcdWal(file: string): boolean {
  const head = Buffer.alloc(64);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    if (readSync(fd, head, 0, 64, 0) < 16) return false;
  } finally {
    closeSync(fd);
  }
  const len = head.readBigUInt64LE(0);
  const recBytes = Number(len & 0xffffffffffffffn);
  if (recBytes === 0 || recBytes > 48) return false;
  try {
    const rec = new ProtoFields(head.subarray(8, 8 + recBytes), 'record');
    return rec.uint(1, 'record') === BigInt(CRC);
  } catch {
    return false;
  }
}

/** One decoded record and where it is. */
interface RawRecord {
  type: number;
  crc: number;
  data: Buffer;
  file: string;
  offset: number;
}

/**
 * Decodes the records of `files` in order with one CRC chain, as etcd's decoder does, calling
 * `visit` for each. Returns where a torn last segment ends, if it does; throws EtcdDirError on
 * corruption.
 */
function decodeSegments(
  walDir: string,
  files: Segment[],
  visit: (r: RawRecord, crc: { value: number }) => void,
): { file: string; offset: number } | undefined {
  const crc = { value: 0 };
  for (let f = 0; f < files.length; f++) {
    const file = join(walDir, files[f]!.name);
    const last = f === files.length - 1;
    let seg: SegmentBytes;
    try {
      seg = new SegmentBytes(file);
    } catch (e) {
      throw new EtcdDirError(file, (e as Error).message);
    }
    try {
      const found = decodeSegment(seg, file, last, crc, visit);
      if (found) return found;
    } finally {
      seg.close();
    }
  }
  return undefined;
}

/**
 * A segment's bytes, read on demand in growing chunks: etcd preallocates 64 MB segments, and the
 * decoder stops at the first zero length, so only the written part is read (and held).
 */
class SegmentBytes {
  buf = Buffer.alloc(0);
  private have = 0;
  readonly size: number;
  private readonly fd: number;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
    this.size = fstatSync(this.fd).size;
  }

  /** Makes bytes [0, end) available in `buf` (end at most `size`). */
  ensure(end: number): void {
    if (end <= this.have) return;
    const want = Math.min(this.size, Math.max(end, this.have * 2, SEGMENT_READ_BYTES));
    if (want > this.buf.length) {
      const bigger = Buffer.alloc(want);
      this.buf.copy(bigger, 0, 0, this.have);
      this.buf = bigger;
    }
    while (this.have < want) {
      const n = readSync(this.fd, this.buf, this.have, want - this.have, this.have);
      if (n <= 0) throw new Error(`short read at ${this.have} of ${this.size} bytes`);
      this.have += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The first read of a segment (and the least each later read grows it by). */
const SEGMENT_READ_BYTES = 1 << 20;

function decodeSegment(
  seg: SegmentBytes,
  file: string,
  last: boolean,
  crc: { value: number },
  visit: (r: RawRecord, crc: { value: number }) => void,
): { file: string; offset: number } | undefined {
  let off = 0;
  const torn = (at: number, what: string) => {
    if (last) return { file, offset: at };
    throw new EtcdDirError(file, `offset ${at}: ${what}`);
  };
  while (off < seg.size) {
    if (off + 8 > seg.size) return torn(off, 'unexpected EOF');
    seg.ensure(off + 8);
    const lenField = seg.buf.readBigUInt64LE(off);
    if (lenField === 0n) break; // preallocated space: the end of this segment
    const recBytes = Number(lenField & 0x00ffffffffffffffn);
    const padBytes = (lenField & (1n << 63n)) !== 0n ? Number((lenField >> 56n) & 7n) : 0;
    if (recBytes >= ETCD_WAL_ENTRY_BYTES_MAX - padBytes)
      throw new EtcdDirError(file, `offset ${off}: wal: max entry size limit exceeded`);
    const start = off + 8;
    if (start + recBytes + padBytes > seg.size) return torn(off, 'unexpected EOF');
    seg.ensure(start + recBytes + padBytes);
    const frame = seg.buf.subarray(start, start + recBytes + padBytes);
    let rec: RawRecord;
    try {
      const fields = new ProtoFields(frame.subarray(0, recBytes), 'walpb.Record');
      rec = {
        type: fields.num(1, 'walpb.Record'),
        crc: Number(fields.uint(2, 'walpb.Record') & 0xffffffffn),
        data: fields.bytes(3, 'walpb.Record'),
        file,
        offset: off,
      };
    } catch (e) {
      if (last && isTornFrame(frame, start)) return { file, offset: off };
      throw new EtcdDirError(file, `offset ${off}: ${(e as ProtoError).message}`);
    }
    if (rec.type !== CRC) {
      const next = crc32c(rec.data, crc.value) >>> 0;
      if (next !== rec.crc) {
        if (last && isTornFrame(frame, start)) return { file, offset: off };
        throw new EtcdDirError(file, `offset ${off}: wal: crc mismatch`);
      }
      crc.value = next;
    }
    visit(rec, crc);
    off = start + recBytes + padBytes;
  }
  return undefined;
}

/**
 * etcd's isTornEntry: a frame written across 512-byte sectors of which one is all zeros was cut by
 * a crash mid-write (`start` is the frame's file offset after its length field).
 */
function isTornFrame(frame: Buffer, start: number): boolean {
  let cur = 0;
  let fileOff = start;
  while (cur < frame.length) {
    const n = Math.min(512 - (fileOff % 512), frame.length - cur);
    let zero = true;
    for (let i = cur; i < cur + n; i++) {
      if (frame[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
    cur += n;
    fileOff += n;
  }
  return false;
}

function decodeState(r: RawRecord): EtcdHardState {
  const f = parse(r, 'raftpb.HardState');
  return {
    term: f.num(1, 'raftpb.HardState'),
    vote: f.uint(2, 'raftpb.HardState'),
    commit: f.num(3, 'raftpb.HardState'),
  };
}

function decodeMark(r: RawRecord): EtcdSnapshotMark {
  const f = parse(r, 'walpb.Snapshot');
  return { index: f.num(1, 'walpb.Snapshot'), term: f.num(2, 'walpb.Snapshot') };
}

function decodeEntry(r: RawRecord): EtcdEntry {
  const f = parse(r, 'raftpb.Entry');
  return {
    term: f.num(2, 'raftpb.Entry'),
    index: f.num(3, 'raftpb.Entry'),
    type: f.num(1, 'raftpb.Entry'),
    data: Buffer.from(f.bytes(4, 'raftpb.Entry')),
  };
}

function parse(r: RawRecord, what: string): ProtoFields {
  try {
    return new ProtoFields(r.data, what);
  } catch (e) {
    throw new EtcdDirError(r.file, `offset ${r.offset}: ${(e as Error).message}`);
  }
}

/**
 * etcd's wal.ValidSnapshotEntries: every snapshot marker of the WAL whose index is at or below the
 * newest hard state's commit (a marker past it belongs to a snapshot that may not be durable).
 */
export function etcdValidSnapshotMarks(walDir: string): EtcdSnapshotMark[] {
  const segments = etcdWalSegments(walDir);
  if (segments.length === 0) throw new EtcdDirError(walDir, 'wal: file not found');
  const marks: EtcdSnapshotMark[] = [];
  let commit = 0;
  decodeSegments(walDir, segments, (r, crc) => {
    if (r.type === SNAPSHOT) marks.push(decodeMark(r));
    else if (r.type === STATE) commit = decodeState(r).commit;
    else if (r.type === CRC) crcRecord(r, crc);
  });
  return marks.filter((m) => m.index <= commit);
}

function crcRecord(r: RawRecord, crc: { value: number }): void {
  // A new segment carries the previous one's last CRC; a chain read from its middle starts at 0.
  if (crc.value !== 0 && r.crc !== crc.value)
    throw new EtcdDirError(r.file, `offset ${r.offset}: wal: crc mismatch`);
  crc.value = r.crc;
}

/**
 * etcd's wal.Open(snap) + ReadAll: the segments from the one holding `start` on (their sequence
 * numbers consecutive), the metadata (equal in every segment), the newest hard state and the
 * entries after `start` (a later entry at index i replaces the log from i on). Refuses a WAL
 * without the marker of `start` ("wal: snapshot not found").
 */
export function readEtcdWal(walDir: string, start: EtcdSnapshotMark): EtcdWalRead {
  const all = etcdWalSegments(walDir);
  if (all.length === 0) throw new EtcdDirError(walDir, 'wal: file not found');
  let from = -1;
  for (let i = all.length - 1; i >= 0; i--) {
    if (all[i]!.index <= BigInt(start.index)) {
      from = i;
      break;
    }
  }
  if (from < 0) throw new EtcdDirError(walDir, `wal: file not found (no segment holds index ${start.index})`);
  const segments = all.slice(from);
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1n) {
      throw new EtcdDirError(
        join(walDir, segments[i]!.name),
        `wal: file sequence numbers do not increase continuously (after ${segments[i - 1]!.name})`,
      );
    }
  }
  let metadata: Buffer | undefined;
  let hardState: EtcdHardState = { term: 0, vote: 0n, commit: 0 };
  let entries: EtcdEntry[] = [];
  let match = false;
  const tornTail = decodeSegments(walDir, segments, (r, crc) => {
    switch (r.type) {
      case ENTRY: {
        const e = decodeEntry(r);
        if (e.index > start.index) {
          const up = e.index - start.index - 1;
          if (up > entries.length)
            throw new EtcdDirError(
              r.file,
              `offset ${r.offset}: wal: slice bounds out of range (entry ${e.index} after a gap)`,
            );
          if (up < entries.length) entries = entries.slice(0, up);
          entries.push(e);
        }
        break;
      }
      case STATE:
        hardState = decodeState(r);
        break;
      case METADATA:
        if (metadata !== undefined && !metadata.equals(r.data))
          throw new EtcdDirError(r.file, `offset ${r.offset}: wal: conflicting metadata found`);
        metadata = Buffer.from(r.data);
        break;
      case CRC:
        crcRecord(r, crc);
        break;
      case SNAPSHOT: {
        const m = decodeMark(r);
        if (m.index === start.index) {
          if (m.term !== start.term)
            throw new EtcdDirError(r.file, `offset ${r.offset}: wal: snapshot mismatch`);
          match = true;
        }
        break;
      }
      default:
        throw new EtcdDirError(r.file, `offset ${r.offset}: unexpected block type ${r.type}`);
    }
  });
  if (!match)
    throw new EtcdDirError(walDir, `wal: snapshot not found (index ${start.index}, term ${start.term})`);
  if (metadata === undefined) throw new EtcdDirError(walDir, 'no metadata record');
  const md = (() => {
    try {
      return new ProtoFields(metadata, 'etcdserverpb.Metadata');
    } catch (e) {
      throw new EtcdDirError(walDir, (e as Error).message);
    }
  })();
  const memberId = md.uint(1, 'etcdserverpb.Metadata');
  const clusterId = md.uint(2, 'etcdserverpb.Metadata');
  if (memberId === 0n || clusterId === 0n)
    throw new EtcdDirError(walDir, 'the metadata record has no member id or cluster id');
  return { memberId, clusterId, hardState, entries, ...(tornTail ? { tornTail } : {}) };
}
