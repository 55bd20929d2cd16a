/**
 * Revisions and their on-disk key encoding (etcd's `revision.go` layout):
 *
 *   0       8   9        17   18
 *   | main  | _ |  sub   | t? |
 *    uint64 BE    uint64 BE  tombstone mark (only for deletes)
 *
 * Byte order of the encoding equals (main, sub) order, so lmdb iterates revisions in order.
 * `main` is the store revision of a write transaction; `sub` counts the changes inside it.
 * Both are non-negative safe integers here (a store would need 2^53 writes to overflow).
 */
import { assert } from '../pkg/index.js';

/** Length of a revision key without the tombstone mark. */
export const REV_BYTES = 17;
/** Length of a revision key with the tombstone mark. */
export const REV_BYTES_TOMBSTONE = 18;
const SEP = 0x5f; // '_'
const TOMB = 0x74; // 't'
const TWO_32 = 0x1_0000_0000;

/** Writes a u64 big-endian safe integer at `off`. */
export function writeU64(buf: Buffer, off: number, v: number): void {
  assert(Number.isSafeInteger(v) && v >= 0, 'u64 must be a non-negative safe integer');
  buf.writeUInt32BE(Math.floor(v / TWO_32), off);
  buf.writeUInt32BE(v >>> 0, off + 4);
}

/** Reads a u64 big-endian written by writeU64; asserts it is a safe integer. */
export function readU64(buf: Uint8Array, off: number): number {
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  const v = hi * TWO_32 + lo;
  assert(Number.isSafeInteger(v), 'u64 beyond 2^53 in a revision key');
  return v;
}

/** A fresh revision key for (main, sub), with the tombstone mark when `tombstone`. */
export function revKey(main: number, sub: number, tombstone: boolean): Buffer {
  const b = Buffer.allocUnsafe(tombstone ? REV_BYTES_TOMBSTONE : REV_BYTES);
  writeRevKey(b, main, sub);
  if (tombstone) b[REV_BYTES] = TOMB;
  return b;
}

/** Writes the 17-byte (unmarked) revision key into `b` (length >= 17). */
export function writeRevKey(b: Buffer, main: number, sub: number): void {
  writeU64(b, 0, main);
  b[8] = SEP;
  writeU64(b, 9, sub);
}

/** The lowest key of all revisions with this main revision: use as an inclusive range start. */
export function revKeyMainStart(main: number): Buffer {
  return revKey(main, 0, false);
}

/** Whether a stored revision key carries the tombstone mark. */
export function isTombstoneKey(k: Uint8Array): boolean {
  return k.length === REV_BYTES_TOMBSTONE && k[REV_BYTES] === TOMB;
}

/** The main revision of a stored revision key. */
export function keyMain(k: Uint8Array): number {
  assertRevKey(k);
  return readU64(k, 0);
}

/** The sub revision of a stored revision key. */
export function keySub(k: Uint8Array): number {
  assertRevKey(k);
  return readU64(k, 9);
}

function assertRevKey(k: Uint8Array): void {
  assert(k.length === REV_BYTES || k.length === REV_BYTES_TOMBSTONE, 'revision key has a bad length');
  assert(k[8] === SEP, 'revision key lacks the _ separator');
}
