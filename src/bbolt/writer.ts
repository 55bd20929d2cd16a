/**
 * Writes a new bbolt file in one pass, bottom-up (a B+tree bulk load), as a bbolt 1.3 `DB` would
 * hold the same data after its writes: page 0 and 1 meta pages, page 2 an empty freelist, then for
 * each bucket its leaf pages in key order, then its branch levels, then the root bucket (whose leaf
 * elements are the bucket headers). Pages are numbered in the order they are written, so the file
 * is written sequentially (in WRITE_CHUNK_BYTES writes); the meta pages go last, with their
 * checksums, once the root and the high-water mark are known, then the file is fsynced (unless the
 * caller says it is a scratch file).
 *
 * Fill: leaf and branch pages take elements while they fit in a page; an element larger than a page
 * gets a page of its own with overflow pages (as bbolt does). Every bucket gets a root page, never
 * an inline bucket: bbolt reads both, and inlining is only a space optimisation.
 *
 * The writer yields to the event loop every YIELD_EVERY_PAGES pages, so a server can stream while
 * it writes a large file.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { assert } from '../pkg/index.js';
import {
  BRANCH_ELEMENT_BYTES,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_BYTES,
  LEAF_PAGE_FLAG,
  META_PAGE_FLAG,
  PAGE_HEADER_BYTES,
  PAGE_SIZE_MAX,
  PAGE_SIZE_MIN,
  writeMeta,
} from './layout.js';

/** Page size written unless told otherwise: bbolt's default on etcd's hosts (the OS page size). */
export const PAGE_SIZE_DEFAULT = 4096;
/** Bytes buffered before one write(2). */
export const WRITE_CHUNK_BYTES = 1 << 20;
/** Pages written between yields to the event loop. */
export const YIELD_EVERY_PAGES = 512;

/** One key of a bucket to write. */
export interface BboltWriteEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** A top-level bucket to write: its name and its entries in strictly ascending key order. */
export interface BboltWriteBucket {
  name: string | Buffer;
  entries: Iterable<BboltWriteEntry>;
}

/** What was written. */
export interface BboltWriteResult {
  /** Bytes of the file: high-water mark times page size. */
  bytes: number;
  pages: number;
}

/**
 * Writes `buckets` (any order; written sorted by name) as a new bbolt file at `file` (created or
 * truncated). Keys inside each bucket must ascend strictly (asserted). `sync` (default true) fsyncs
 * the file at the end; a scratch file streamed and deleted right away skips it.
 */
export async function writeBbolt(
  file: string,
  buckets: BboltWriteBucket[],
  opts: { pageSize?: number; sync?: boolean } = {},
): Promise<BboltWriteResult> {
  const pageSize = opts.pageSize ?? PAGE_SIZE_DEFAULT;
  assert(
    pageSize >= PAGE_SIZE_MIN && pageSize <= PAGE_SIZE_MAX && (pageSize & (pageSize - 1)) === 0,
    'page size',
  );
  const sorted = buckets
    .map((b) => ({ name: typeof b.name === 'string' ? Buffer.from(b.name) : b.name, entries: b.entries }))
    .sort((a, b) => Buffer.compare(a.name, b.name));
  const w = new PageWriter(file, pageSize);
  try {
    // Page 2: the freelist (empty: every page of a fresh file is in use).
    const freelist = w.newPage(1);
    freelist.writeUInt16LE(FREELIST_PAGE_FLAG, 8);
    await w.emit(freelist);
    const headers: BboltWriteEntry[] = [];
    for (const b of sorted) {
      const root = await writeTree(w, b.entries);
      const header = Buffer.alloc(BUCKET_HEADER_BYTES);
      header.writeBigUInt64LE(BigInt(root), 0);
      headers.push({ key: b.name, value: header });
    }
    const root = await writeTree(w, headers, BUCKET_LEAF_FLAG);
    w.flush();
    const pages = w.nextPgid;
    for (const id of [0, 1]) {
      const meta = Buffer.alloc(pageSize);
      meta.writeBigUInt64LE(BigInt(id), 0);
      meta.writeUInt16LE(META_PAGE_FLAG, 8);
      writeMeta(meta, PAGE_HEADER_BYTES, {
        pageSize,
        flags: 0,
        root,
        sequence: 0n,
        freelist: 2n,
        pgid: pages,
        txid: BigInt(id + 1),
      });
      writeSync(w.fd, meta, 0, pageSize, id * pageSize);
    }
    if (opts.sync ?? true) fsyncSync(w.fd);
    return { bytes: pages * pageSize, pages };
  } finally {
    closeSync(w.fd);
  }
}

/** Writes one bucket's B+tree; returns its root page. `elementFlags` marks every leaf element. */
async function writeTree(
  w: PageWriter,
  entries: Iterable<BboltWriteEntry>,
  elementFlags = 0,
): Promise<number> {
  // Level 0: leaves. Each emitted page is remembered as (first key, pgid) for the level above.
  let level: BboltWriteEntry[] = [];
  let batch: BboltWriteEntry[] = [];
  let bytes = PAGE_HEADER_BYTES;
  let last: Uint8Array | undefined;
  const emitLeaf = async () => {
    const id = await w.emit(buildPage(w, batch, LEAF_PAGE_FLAG, bytes, elementFlags));
    level.push({ key: batch[0]?.key ?? new Uint8Array(0), value: pgidBytes(id) });
    batch = [];
    bytes = PAGE_HEADER_BYTES;
  };
  for (const e of entries) {
    assert(last === undefined || Buffer.compare(last, e.key) < 0, 'bucket keys ascend strictly');
    last = e.key;
    const size = LEAF_ELEMENT_BYTES + e.key.length + e.value.length;
    if (batch.length > 0 && bytes + size > w.pageSize) await emitLeaf();
    batch.push(e);
    bytes += size;
  }
  if (batch.length > 0 || level.length === 0) await emitLeaf();
  // Branch levels until one page is left: that page is the root.
  while (level.length > 1) {
    const children = level;
    level = [];
    batch = [];
    bytes = PAGE_HEADER_BYTES;
    const emitBranch = async () => {
      const id = await w.emit(buildPage(w, batch, BRANCH_PAGE_FLAG, bytes, 0));
      level.push({ key: batch[0]!.key, value: pgidBytes(id) });
      batch = [];
      bytes = PAGE_HEADER_BYTES;
    };
    for (const c of children) {
      const size = BRANCH_ELEMENT_BYTES + c.key.length;
      // A branch page keeps at least two children when it can (bbolt's minimum for branches).
      if (batch.length > 1 && bytes + size > w.pageSize) await emitBranch();
      batch.push(c);
      bytes += size;
    }
    await emitBranch();
  }
  return Number(Buffer.from(level[0]!.value).readBigUInt64LE(0));
}

function pgidBytes(id: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(id));
  return b;
}

/** Lays out a leaf or branch page (with overflow when `bytes` exceed a page). */
function buildPage(
  w: PageWriter,
  items: BboltWriteEntry[],
  flags: number,
  bytes: number,
  elementFlags: number,
): Buffer {
  const page = w.newPage(Math.max(1, Math.ceil(bytes / w.pageSize)));
  page.writeUInt16LE(flags, 8);
  page.writeUInt16LE(items.length, 10);
  assert(items.length <= 0xffff, 'elements per page fit the count field');
  let data = PAGE_HEADER_BYTES + items.length * LEAF_ELEMENT_BYTES;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const el = PAGE_HEADER_BYTES + i * LEAF_ELEMENT_BYTES;
    if (flags === LEAF_PAGE_FLAG) {
      page.writeUInt32LE(elementFlags, el);
      page.writeUInt32LE(data - el, el + 4);
      page.writeUInt32LE(it.key.length, el + 8);
      page.writeUInt32LE(it.value.length, el + 12);
      page.set(it.key, data);
      page.set(it.value, data + it.key.length);
      data += it.key.length + it.value.length;
    } else {
      page.writeUInt32LE(data - el, el);
      page.writeUInt32LE(it.key.length, el + 4);
      page.set(it.value, el + 8); // the child's pgid, little-endian
      page.set(it.key, data);
      data += it.key.length;
    }
  }
  assert(data === bytes, 'page layout matches its size');
  return page;
}

/** Sequential page output: numbers pages from 3 up and buffers them into large writes. */
class PageWriter {
  readonly fd: number;
  /** The id the next emitted page gets. */
  nextPgid = 2;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private sinceYield = 0;

  constructor(
    file: string,
    readonly pageSize: number,
  ) {
    this.fd = openSync(file, 'w');
  }

  /** A zeroed page of `count` pages (the first plus count - 1 overflow pages). */
  newPage(count: number): Buffer {
    const p = Buffer.alloc(count * this.pageSize);
    p.writeUInt32LE(count - 1, 12);
    return p;
  }

  /** Assigns the next page id to `page`, queues it for writing; returns the id. */
  async emit(page: Buffer): Promise<number> {
    const id = this.nextPgid;
    const count = page.length / this.pageSize;
    page.writeBigUInt64LE(BigInt(id), 0);
    this.nextPgid += count;
    this.chunks.push(page);
    this.chunkBytes += page.length;
    if (this.chunkBytes >= WRITE_CHUNK_BYTES) this.flush();
    this.sinceYield += count;
    if (this.sinceYield >= YIELD_EVERY_PAGES) {
      this.sinceYield = 0;
      await new Promise((r) => setImmediate(r));
    }
    return id;
  }

  /** Writes the queued pages at their place in the file. */
  flush(): void {
    if (this.chunks.length === 0) return;
    const buf = Buffer.concat(this.chunks, this.chunkBytes);
    const firstId = this.nextPgid - buf.length / this.pageSize;
    let done = 0;
    while (done < buf.length)
      done += writeSync(this.fd, buf, done, buf.length - done, firstId * this.pageSize + done);
    this.chunks = [];
    this.chunkBytes = 0;
  }
}
