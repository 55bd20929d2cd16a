/**
 * File names of WAL segments (`%016x-%016x.wal`: sequence number, then the raft index of the first
 * entry expected in it) and snapshots (`%016x-%016x.snap`: term, then index), as etcd names them.
 */

/** A parsed segment name. `index` is lastIndex+1 of the log when the segment was started. */
export interface SegmentName {
  seq: number;
  index: number;
  name: string;
}

const HEX16 = /^([0-9a-f]{16})-([0-9a-f]{16})\.(wal|snap)$/;

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

function parse(name: string, ext: 'wal' | 'snap'): [number, number] | undefined {
  const m = HEX16.exec(name);
  if (!m || m[3] !== ext) return undefined;
  const a = Number.parseInt(m[1]!, 16);
  const b = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) return undefined;
  return [a, b];
}

/** `%016x-%016x.wal` for a segment. */
export function segmentFileName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

/** Parses a segment file name; undefined for anything else. */
export function parseSegmentName(name: string): SegmentName | undefined {
  const r = parse(name, 'wal');
  return r ? { seq: r[0], index: r[1], name } : undefined;
}

/** `%016x-%016x.snap` for a snapshot. */
export function snapFileName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

/** Parses a snapshot file name into [term, index]; undefined for anything else. */
export function parseSnapName(name: string): { term: number; index: number } | undefined {
  const r = parse(name, 'snap');
  return r ? { term: r[0], index: r[1] } : undefined;
}
