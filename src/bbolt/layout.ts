/**
 * bbolt's on-disk layout (go.etcd.io/bbolt 1.3, as etcd 3.4 writes it): page header, meta page,
 * branch and leaf elements, bucket headers. Everything is little-endian (bbolt writes its structs
 * in the host's byte order, and etcd runs on little-endian machines). See README.md for the picture.
 */

/** bbolt's magic number, first field of a meta page. */
export const MAGIC = 0xed0cdaed;
/** The only data file version bbolt 1.3 reads and writes. */
export const VERSION = 2;

/** Page header: id u64, flags u16, count u16, overflow u32. */
export const PAGE_HEADER_BYTES = 16;
export const BRANCH_PAGE_FLAG = 0x01;
export const LEAF_PAGE_FLAG = 0x02;
export const META_PAGE_FLAG = 0x04;
export const FREELIST_PAGE_FLAG = 0x10;

/** Leaf element flag: the value is a bucket header (a nested bucket), not a plain value. */
export const BUCKET_LEAF_FLAG = 0x01;

/** Branch element: pos u32, ksize u32, pgid u64. */
export const BRANCH_ELEMENT_BYTES = 16;
/** Leaf element: flags u32, pos u32, ksize u32, vsize u32. */
export const LEAF_ELEMENT_BYTES = 16;
/** Bucket header: root pgid u64 (0 = inline bucket, its page follows), sequence u64. */
export const BUCKET_HEADER_BYTES = 16;

/** Meta (at page offset 16): magic, version, pageSize, flags, root bucket, freelist, pgid, txid, checksum. */
export const META_BYTES = 64;
/** The checksum covers the meta's first 56 bytes (everything before it). */
export const META_CHECKSUM_OFFSET = 56;
/** The freelist pgid of a database written with NoFreelistSync (etcd 3.4's default). */
export const PGID_NO_FREELIST = 0xffffffffffffffffn;

/** A freelist page whose count field is this keeps the real count in its first u64. */
export const FREELIST_COUNT_OVERFLOW = 0xffff;

/** Smallest and largest page sizes we accept (bbolt uses the OS page size: 4096 on etcd's hosts). */
export const PAGE_SIZE_MIN = 512;
export const PAGE_SIZE_MAX = 65536;
/** The first read of a file (bbolt reads 0x1000 bytes to find the page size in meta 0). */
export const FIRST_READ_BYTES = 0x1000;
/** Deepest B+tree we follow; a real one of 2^32 keys is under 10 levels. Guards cycles too. */
export const TREE_DEPTH_MAX = 64;

/** A meta page's fields. */
export interface Meta {
  pageSize: number;
  flags: number;
  /** Root page of the root bucket (whose keys are the top-level bucket names). */
  root: number;
  sequence: bigint;
  /** Page of the freelist, or PGID_NO_FREELIST. */
  freelist: bigint;
  /** High-water mark: pages [0, pgid) are the database; the file may be longer. */
  pgid: number;
  txid: bigint;
  checksum: bigint;
}

/** FNV-1a, 64 bits (Go's hash/fnv New64a), which bbolt uses for the meta checksum. */
export function fnv64a(b: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const x of b) {
    h ^= BigInt(x);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** Reads the meta struct at `off` of `page` (the page's data area). Throws a string on a bad meta. */
export function parseMeta(page: Buffer, off: number): Meta | string {
  if (page.length < off + META_BYTES) return 'meta page is truncated';
  const magic = page.readUInt32LE(off);
  if (magic !== MAGIC) return 'invalid database (bad magic)';
  const version = page.readUInt32LE(off + 4);
  if (version !== VERSION) return `version mismatch (file ${version}, want ${VERSION})`;
  const checksum = page.readBigUInt64LE(off + META_CHECKSUM_OFFSET);
  if (fnv64a(page.subarray(off, off + META_CHECKSUM_OFFSET)) !== checksum) return 'checksum error';
  return {
    pageSize: page.readUInt32LE(off + 8),
    flags: page.readUInt32LE(off + 12),
    root: u64ToNumber(page.readBigUInt64LE(off + 16)),
    sequence: page.readBigUInt64LE(off + 24),
    freelist: page.readBigUInt64LE(off + 32),
    pgid: u64ToNumber(page.readBigUInt64LE(off + 40)),
    txid: page.readBigUInt64LE(off + 48),
    checksum,
  };
}

/** Writes `m` as a meta struct at `off` of `page`, computing its checksum. */
export function writeMeta(page: Buffer, off: number, m: Omit<Meta, 'checksum'>): void {
  page.writeUInt32LE(MAGIC, off);
  page.writeUInt32LE(VERSION, off + 4);
  page.writeUInt32LE(m.pageSize, off + 8);
  page.writeUInt32LE(m.flags, off + 12);
  page.writeBigUInt64LE(BigInt(m.root), off + 16);
  page.writeBigUInt64LE(m.sequence, off + 24);
  page.writeBigUInt64LE(m.freelist, off + 32);
  page.writeBigUInt64LE(BigInt(m.pgid), off + 40);
  page.writeBigUInt64LE(m.txid, off + 48);
  page.writeBigUInt64LE(fnv64a(page.subarray(off, off + META_CHECKSUM_OFFSET)), off + META_CHECKSUM_OFFSET);
}

/** A page id as a number; ids past 2^53 cannot name a page of a file Node can read, so they map to Infinity. */
export function u64ToNumber(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}
