/**
 * Key-range permissions as etcd 3.4 checks them (auth/range_perm_cache.go over pkg/adt's interval
 * tree), rebuilt without the tree: a user's permissions are a list of half-open intervals per
 * permission type, and a request is checked against them with the same comparisons adt makes.
 *
 * Keys compare as adt's BytesAffineComparable: byte order, except that the EMPTY key is greater than
 * every other key (it stands for "+infinity", the end of a from-key range). A permission over a single
 * key `k` is the interval [k, k+"\0"); a range end of "\0" means "every key >= key" (end = empty).
 */
import { type Permission, Permission_Type } from '../../proto/authpb/auth.js';

const EMPTY = Buffer.alloc(0);

/** A half-open interval [begin, end) of keys; an empty buffer is +infinity. */
export interface KeyInterval {
  readonly begin: Buffer;
  readonly end: Buffer;
}

/** adt's BytesAffineComparable.Compare: byte order with the empty key above every other. */
export function affineCompare(a: Buffer, b: Buffer): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return Buffer.compare(a, b);
}

/** adt's NewBytesAffinePoint: the interval holding only `key`. */
export function pointInterval(key: Buffer): KeyInterval {
  return { begin: key, end: Buffer.concat([key, Buffer.from([0])]) };
}

/** The interval a stored permission grants (getMergedPerms). */
export function permissionInterval(p: Permission): KeyInterval {
  if (p.rangeEnd.length === 0) return pointInterval(p.key);
  const fromKey = p.rangeEnd.length === 1 && p.rangeEnd[0] === 0;
  return { begin: p.key, end: fromKey ? EMPTY : p.rangeEnd };
}

/** adt's Interval.Compare: -1 when `a` lies left of `b`, 1 when right, 0 when they intersect. */
function intervalCompare(a: KeyInterval, b: KeyInterval): number {
  if (affineCompare(a.begin, b.begin) < 0 && affineCompare(a.end, b.begin) <= 0) return -1;
  if (affineCompare(a.begin, b.end) >= 0) return 1;
  return 0;
}

/** One user's merged permissions: every interval of every role, by type. */
export class RangePermissions {
  /** Sorted by begin (the order adt's tree visits them in). */
  private readonly read: KeyInterval[] = [];
  private readonly write: KeyInterval[] = [];

  constructor(perms: readonly Permission[]) {
    for (const p of perms) {
      const ivl = permissionInterval(p);
      if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE)
        this.read.push(ivl);
      if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE) {
        this.write.push(ivl);
      }
    }
    const byBegin = (a: KeyInterval, b: KeyInterval) => affineCompare(a.begin, b.begin);
    this.read.sort(byBegin);
    this.write.sort(byBegin);
  }

  /**
   * Whether the request over `key` .. `rangeEnd` is permitted (isRangeOpPermitted): an empty
   * `rangeEnd` asks for the single key (some interval must hold it), any other for the whole range
   * [key, rangeEnd) ("\0" = to +infinity), which the intervals must cover without a gap.
   */
  permits(type: Permission_Type.READ | Permission_Type.WRITE, key: Buffer, rangeEnd: Buffer): boolean {
    const ivls = type === Permission_Type.READ ? this.read : this.write;
    if (rangeEnd.length === 0) {
      const pt = pointInterval(key);
      return ivls.some((ivl) => intervalCompare(pt, ivl) === 0);
    }
    const end = rangeEnd.length === 1 && rangeEnd[0] === 0 ? EMPTY : rangeEnd;
    return contains(ivls, { begin: key, end });
  }
}

/** adt's intervalTree.Contains: the intervals meeting `want` cover it without a gap. */
function contains(sorted: readonly KeyInterval[], want: KeyInterval): boolean {
  let minBegin: Buffer | undefined;
  let maxEnd: Buffer = EMPTY;
  for (const ivl of sorted) {
    if (intervalCompare(want, ivl) !== 0) continue;
    if (minBegin === undefined) {
      minBegin = ivl.begin;
      maxEnd = ivl.end;
      continue;
    }
    if (affineCompare(maxEnd, ivl.begin) < 0) return false;
    if (affineCompare(ivl.end, maxEnd) > 0) maxEnd = ivl.end;
  }
  return (
    minBegin !== undefined && affineCompare(maxEnd, want.end) >= 0 && affineCompare(minBegin, want.begin) <= 0
  );
}
