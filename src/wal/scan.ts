/**
 * Reading one segment's bytes: decode frames until the first one that does not decode, then say
 * whether what stopped the scan is a clean end, a torn tail (repairable in the last segment), or
 * corruption. Pure: no I/O, never throws for any input.
 *
 * Torn-tail rules (the last segment only; in an earlier segment every stop but a clean end is
 * corruption). Scanning stops at offset X:
 * 1. all-zero header and only zeros after it: clean end (preallocated space);
 * 2. all-zero header with non-zero bytes later: torn — a write whose first sectors never reached
 *    the disk;
 * 3. the frame announced at X runs past the end of the file: torn;
 * 4. a damaged frame (bad CRC, bad payload) whose header + payload, cut at 512-byte sector
 *    boundaries, has an all-zero piece: torn — that sector was never written (etcd's isTornEntry);
 * 5. a damaged frame followed only by zeros: torn — it was the last thing written;
 * 6. a length field above RECORD_BYTES_MAX followed (after the header) only by zeros: torn;
 * anything else is corruption: valid-looking data follows the damage, so acknowledged records
 * may lie beyond it, and the WAL refuses to guess.
 */
import { decodeFrame, HEADER_BYTES, RECORD_BYTES_MAX, RecordType, type WalRecord } from './record.js';

/** The sector size assumed by the torn-write rule. */
export const SECTOR_BYTES = 512;

/** One decoded record and where its frame starts. */
export interface ScannedRecord {
  record: WalRecord;
  offset: number;
}

/** The outcome of scanning one segment. */
export interface SegmentScan {
  records: ScannedRecord[];
  /** Offset just past the last good frame: where appends continue. */
  validEnd: number;
  /** Checksum chain value after the last good frame. */
  crc: number;
  /** The chain seed carried by the segment's first (crc) record, if it has one. */
  seedCrc: number | undefined;
  /** How the scan stopped. */
  stop:
    | { kind: 'clean' }
    | { kind: 'torn'; reason: string; droppedBytes: number }
    | { kind: 'corrupt'; reason: string };
}

/** Zeros compared against in allZero: a native memcmp per chunk instead of a JS loop per byte. */
const ZERO_CHUNK = new Uint8Array(64 * 1024);

function allZero(buf: Uint8Array, from: number, to: number): boolean {
  for (let at = from; at < to; at += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, to - at);
    if (Buffer.compare(buf.subarray(at, at + n), ZERO_CHUNK.subarray(0, n)) !== 0) return false;
  }
  return true;
}

function lastNonZero(buf: Uint8Array, from: number): number {
  for (let i = buf.length - 1; i >= from; i--) if (buf[i] !== 0) return i;
  return from - 1;
}

/**
 * Whether some piece of [from, to), cut at sector boundaries, is all zeros: that sector of the
 * record never reached the disk (etcd's isTornEntry).
 */
function hasZeroSectorPiece(buf: Uint8Array, from: number, to: number): boolean {
  for (let s = from; s < to; ) {
    const e = Math.min(to, (Math.floor(s / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (allZero(buf, s, e)) return true;
    s = e;
  }
  return false;
}

/** Scans a whole segment. `isLast` selects whether a damaged tail counts as torn or corrupt. */
export function scanSegment(buf: Uint8Array, isLast: boolean): SegmentScan {
  const records: ScannedRecord[] = [];
  let crc = 0;
  let seedCrc: number | undefined;
  // The first frame is a crc record whose payload seeds the chain it is itself covered by.
  if (buf.length >= HEADER_BYTES + 4 && buf[4] === RecordType.Crc && buf[0] === 4 && buf[1] === 0) {
    seedCrc = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(HEADER_BYTES, true);
    crc = seedCrc;
  }
  let off = 0;
  for (;;) {
    const r = decodeFrame(buf, off, crc);
    if (r.kind === 'record') {
      records.push({ record: r.record, offset: off });
      crc = r.crc;
      off = r.next;
      continue;
    }
    const torn = (reason: string): SegmentScan['stop'] => {
      if (!isLast) return { kind: 'corrupt', reason };
      return { kind: 'torn', reason, droppedBytes: lastNonZero(buf, off) + 1 - off };
    };
    let stop: SegmentScan['stop'];
    if (r.kind === 'end') {
      stop = allZero(buf, off, buf.length)
        ? { kind: 'clean' }
        : torn('unwritten header before written bytes');
    } else if (r.kind === 'short') {
      stop = torn('record runs past the end of the file');
    } else {
      const recordLength = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(off, true);
      const lengthBad = recordLength > RECORD_BYTES_MAX;
      const after = lengthBad ? off + HEADER_BYTES : r.frameEnd;
      if (!lengthBad && hasZeroSectorPiece(buf, off, Math.min(buf.length, off + HEADER_BYTES + recordLength)))
        stop = torn(`${r.reason}; record has an unwritten sector`);
      else if (allZero(buf, after, buf.length)) stop = torn(`${r.reason} in the last record`);
      else stop = { kind: 'corrupt', reason: r.reason };
    }
    return { records, validEnd: off, crc, seedCrc, stop };
  }
}
