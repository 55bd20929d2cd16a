/**
 * A read-only bbolt database: picks the newest valid meta page, then walks bucket B+trees page by
 * page with positional reads (the file is never mapped or read whole, so a database far larger
 * than memory can be scanned). Every field read from the file is bounds-checked before use; a
 * damaged file raises BboltError naming the file and the page, never a RangeError or a crash.
 *
 * What is checked: magic, version and FNV-64a checksum of both meta pages; the page size; that the
 * high-water mark fits the file (a truncated copy); every page id in range and not past the
 * high-water mark with its overflow; each page's stored id equal to the id it was reached by; page
 * kinds (branch, leaf, freelist) where the tree says they must be; element counts and key/value
 * extents inside their page; keys strictly ascending within a bucket; tree depth (which also stops
 * cycles); bucket headers and inline bucket pages.
 */

import { constants as bufferConstants } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BboltError } from './errors.js';
import {
  BRANCH_ELEMENT_BYTES,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  FIRST_READ_BYTES,
  FREELIST_COUNT_OVERFLOW,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_BYTES,
  LEAF_PAGE_FLAG,
  type Meta,
  PAGE_HEADER_BYTES,
  PAGE_SIZE_MAX,
  PAGE_SIZE_MIN,
  PGID_NO_FREELIST,
  parseMeta,
  TREE_DEPTH_MAX,
  u64ToNumber,
} from './layout.js';

/** One key of a bucket. `key` and `value` are views of a page buffer the reader no longer uses. */
export interface BboltEntry {
  key: Buffer;
  /** The plain value, or for a nested bucket its raw bucket header (+ inline page). */
  value: Buffer;
  /** True when the entry is a nested bucket (open it with `BboltBucket.bucket(key)`). */
  isBucket: boolean;
}

/** Options of BboltReader.open. */
export interface BboltOpenOptions {
  /**
   * How many leading bytes of the file are the database; default the whole file. A snapshot saved
   * by etcdctl carries a 32-byte SHA-256 after the database: pass the size without it.
   */
  dbBytes?: number;
}

/** Where a bucket's tree lives: a root page, or an inline leaf page held in the parent's value. */
type BucketRoot = { page: number } | { inline: Buffer };

/** An open, read-only bbolt file. Not thread-safe (one fd, synchronous reads); close() when done. */
export class BboltReader {
  /** The meta page in use (the valid one with the higher txid). */
  readonly meta: Meta;
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    fd: number,
    meta: Meta,
  ) {
    this.fd = fd;
    this.meta = meta;
  }

  /** Opens `file` and validates its meta pages. Throws BboltError when it is not a usable bbolt file. */
  static open(file: string, opts: BboltOpenOptions = {}): BboltReader {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new BboltError(file, `open: ${(e as Error).message}`);
    }
    try {
      const meta = readMetas(file, fd, opts.dbBytes ?? fstatSync(fd).size);
      const reader = new BboltReader(file, fd, meta);
      reader.checkFreelist();
      return reader;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Page size in bytes. */
  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** bbolt's tx.Size(): the database's bytes, high-water mark times page size. */
  get size(): number {
    return this.meta.pgid * this.meta.pageSize;
  }

  /** The root bucket, whose keys are the top-level buckets' names. */
  root(): BboltBucket {
    return new BboltBucket(this, { page: this.meta.root }, 'root');
  }

  /** The top-level bucket `name`, or undefined when it does not exist. */
  bucket(name: string | Buffer): BboltBucket | undefined {
    return this.root().bucket(name);
  }

  /** Closes the file. Idempotent. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Raises a BboltError about this file. */
  fail(what: string): never {
    throw new BboltError(this.file, what);
  }

  /** Reads page `id` with its overflow pages; checks the range and the stored id. */
  readPage(id: number): Buffer {
    const { pageSize, pgid } = this.meta;
    if (!(Number.isSafeInteger(id) && id >= 2 && id < pgid)) {
      this.fail(`page ${id}: out of range (the database has pages 2..${pgid - 1})`);
    }
    const head = this.readAt(id * pageSize, pageSize);
    const overflow = head.readUInt32LE(12);
    if (id + overflow >= pgid)
      this.fail(`page ${id}: overflow of ${overflow} pages runs past the high-water mark ${pgid}`);
    const stored = u64ToNumber(head.readBigUInt64LE(0));
    if (stored !== id) this.fail(`page ${id}: header names page ${stored}`);
    if (overflow === 0) return head;
    const bytes = (overflow + 1) * pageSize;
    if (bytes > bufferConstants.MAX_LENGTH) this.fail(`page ${id}: ${bytes} bytes is too large to read`);
    const whole = Buffer.allocUnsafe(bytes);
    head.copy(whole, 0);
    this.readInto(whole, pageSize, (id + 1) * pageSize, bytes - pageSize);
    return whole;
  }

  private readAt(pos: number, n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    this.readInto(b, 0, pos, n);
    return b;
  }

  private readInto(b: Buffer, off: number, pos: number, n: number): void {
    if (this.fd === undefined) this.fail('reader is closed');
    let done = 0;
    while (done < n) {
      const got = readSync(this.fd, b, off + done, n - done, pos + done);
      if (got === 0) this.fail(`unexpected end of file at byte ${pos + done} (truncated?)`);
      done += got;
    }
  }

  /** A freelist page, when the database has one, must be a freelist whose ids are all in range. */
  private checkFreelist(): void {
    if (this.meta.freelist === PGID_NO_FREELIST) return;
    const id = u64ToNumber(this.meta.freelist);
    const p = this.readPage(id);
    const flags = p.readUInt16LE(8);
    if (flags !== FREELIST_PAGE_FLAG)
      this.fail(`page ${id}: freelist page has flags 0x${flags.toString(16)}`);
    let count = p.readUInt16LE(10);
    let off = PAGE_HEADER_BYTES;
    if (count === FREELIST_COUNT_OVERFLOW) {
      count = u64ToNumber(p.readBigUInt64LE(off));
      off += 8;
    }
    if (off + count * 8 > p.length) this.fail(`page ${id}: freelist of ${count} ids overruns its page`);
    for (let i = 0; i < count; i++) {
      const free = u64ToNumber(p.readBigUInt64LE(off + i * 8));
      if (free < 2 || free >= this.meta.pgid)
        this.fail(`page ${id}: freelist names page ${free}, out of range`);
    }
  }
}

/** A bucket: ordered keys and values, and nested buckets. */
export class BboltBucket {
  constructor(
    private readonly db: BboltReader,
    private readonly rootRef: BucketRoot,
    private readonly path: string,
  ) {}

  /** Every entry in key order. Throws BboltError on damage met along the way. */
  *entries(): Generator<BboltEntry> {
    try {
      const last: { key: Buffer | undefined } = { key: undefined };
      if ('page' in this.rootRef) yield* this.walk(this.rootRef.page, 0, last);
      else yield* this.leaf(this.rootRef.inline, 'inline page', last);
    } catch (e) {
      // A check missed somewhere must still name the file, never escape as a bare RangeError.
      if (e instanceof RangeError) this.db.fail(`bucket ${this.path}: ${e.message}`);
      throw e;
    }
  }

  /** The value of `key` (undefined when absent or when it is a nested bucket). */
  get(key: string | Buffer): Buffer | undefined {
    const k = typeof key === 'string' ? Buffer.from(key) : key;
    for (const e of this.entries()) {
      const c = Buffer.compare(e.key, k);
      if (c === 0) return e.isBucket ? undefined : e.value;
      if (c > 0) return undefined;
    }
    return undefined;
  }

  /** The nested bucket `name`, or undefined when absent (or a plain key). */
  bucket(name: string | Buffer): BboltBucket | undefined {
    const k = typeof name === 'string' ? Buffer.from(name) : name;
    for (const e of this.entries()) {
      const c = Buffer.compare(e.key, k);
      if (c > 0) return undefined;
      if (c === 0) return e.isBucket ? this.openNested(e) : undefined;
    }
    return undefined;
  }

  /** Names of the nested buckets, in order. */
  bucketNames(): Buffer[] {
    const names: Buffer[] = [];
    for (const e of this.entries()) if (e.isBucket) names.push(Buffer.from(e.key));
    return names;
  }

  /** Opens the nested bucket an entry of this bucket holds. */
  openNested(e: BboltEntry): BboltBucket {
    const path = `${this.path === 'root' ? '' : `${this.path}/`}${e.key.toString('latin1')}`;
    const v = e.value;
    if (v.length < BUCKET_HEADER_BYTES) this.db.fail(`bucket ${path}: header of ${v.length} bytes`);
    const root = u64ToNumber(v.readBigUInt64LE(0));
    if (root !== 0) return new BboltBucket(this.db, { page: root }, path);
    const inline = v.subarray(BUCKET_HEADER_BYTES);
    if (inline.length < PAGE_HEADER_BYTES)
      this.db.fail(`bucket ${path}: inline page of ${inline.length} bytes`);
    const flags = inline.readUInt16LE(8);
    if (flags !== LEAF_PAGE_FLAG)
      this.db.fail(`bucket ${path}: inline page has flags 0x${flags.toString(16)}`);
    return new BboltBucket(this.db, { inline }, path);
  }

  private *walk(id: number, depth: number, last: { key: Buffer | undefined }): Generator<BboltEntry> {
    if (depth > TREE_DEPTH_MAX)
      this.db.fail(`bucket ${this.path}: tree deeper than ${TREE_DEPTH_MAX} (a cycle?)`);
    const p = this.db.readPage(id);
    const flags = p.readUInt16LE(8);
    if (flags === LEAF_PAGE_FLAG) {
      yield* this.leaf(p, `page ${id}`, last);
      return;
    }
    if (flags !== BRANCH_PAGE_FLAG) {
      this.db.fail(
        `page ${id}: expected a branch or leaf page of bucket ${this.path}, found flags 0x${flags.toString(16)}`,
      );
    }
    const count = p.readUInt16LE(10);
    if (count === 0) this.db.fail(`page ${id}: empty branch page`);
    if (PAGE_HEADER_BYTES + count * BRANCH_ELEMENT_BYTES > p.length)
      this.db.fail(`page ${id}: ${count} elements overrun the page`);
    const children: number[] = [];
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_BYTES + i * BRANCH_ELEMENT_BYTES;
      const start = e + p.readUInt32LE(e);
      const end = start + p.readUInt32LE(e + 4);
      if (end > p.length) this.db.fail(`page ${id}: branch element ${i} key overruns the page`);
      children.push(u64ToNumber(p.readBigUInt64LE(e + 8)));
    }
    for (const child of children) {
      if (child === id) this.db.fail(`page ${id}: branch points at itself`);
      yield* this.walk(child, depth + 1, last);
    }
  }

  private *leaf(p: Buffer, where: string, last: { key: Buffer | undefined }): Generator<BboltEntry> {
    const count = p.readUInt16LE(10);
    if (PAGE_HEADER_BYTES + count * LEAF_ELEMENT_BYTES > p.length)
      this.db.fail(`${where}: ${count} elements overrun the page`);
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_BYTES + i * LEAF_ELEMENT_BYTES;
      const elFlags = p.readUInt32LE(e);
      const kStart = e + p.readUInt32LE(e + 4);
      const kEnd = kStart + p.readUInt32LE(e + 8);
      const vEnd = kEnd + p.readUInt32LE(e + 12);
      if (vEnd > p.length) this.db.fail(`${where}: leaf element ${i} overruns the page`);
      if ((elFlags & ~BUCKET_LEAF_FLAG) !== 0)
        this.db.fail(`${where}: leaf element ${i} has flags 0x${elFlags.toString(16)}`);
      const key = p.subarray(kStart, kEnd);
      if (last.key !== undefined && Buffer.compare(last.key, key) >= 0) {
        this.db.fail(`${where}: keys of bucket ${this.path} out of order`);
      }
      last.key = key;
      yield { key, value: p.subarray(kEnd, vEnd), isBucket: (elFlags & BUCKET_LEAF_FLAG) !== 0 };
    }
  }
}

/** Reads and validates both meta pages; returns the newest valid one. */
function readMetas(file: string, fd: number, dbBytes: number): Meta {
  const fail = (what: string): never => {
    throw new BboltError(file, what);
  };
  if (dbBytes < 2 * PAGE_SIZE_MIN) fail(`file size too small (${dbBytes} bytes): not a bbolt database`);
  const first = Buffer.alloc(Math.min(FIRST_READ_BYTES, dbBytes));
  readSync(fd, first, 0, first.length, 0);
  const meta0 = parseMeta(first, PAGE_HEADER_BYTES);
  let pageSize: number | undefined;
  if (typeof meta0 !== 'string') pageSize = meta0.pageSize;
  else {
    // Meta 0 is damaged: look for meta 1 at each page size it could have been written with.
    for (let size = PAGE_SIZE_MIN; size <= PAGE_SIZE_MAX && 2 * size <= dbBytes; size *= 2) {
      const m = parseMeta(readBytes(fd, size, PAGE_HEADER_BYTES + 64), PAGE_HEADER_BYTES);
      if (typeof m !== 'string' && m.pageSize === size) pageSize = size;
    }
  }
  if (pageSize === undefined)
    return fail(`invalid database: meta page 0: ${meta0}, and no valid meta page 1`);
  if (!(pageSize >= PAGE_SIZE_MIN && pageSize <= PAGE_SIZE_MAX && (pageSize & (pageSize - 1)) === 0)) {
    fail(`invalid database: page size ${pageSize}`);
  }
  if (2 * pageSize > dbBytes)
    fail(`file size too small (${dbBytes} bytes) for two meta pages of ${pageSize}`);
  const metas: Meta[] = [];
  const problems: string[] = [];
  for (const i of [0, 1]) {
    const page = readBytes(fd, i * pageSize, PAGE_HEADER_BYTES + 64);
    const m = parseMeta(page, PAGE_HEADER_BYTES);
    const flags = page.readUInt16LE(8);
    if (typeof m === 'string') problems.push(`meta page ${i}: ${m}`);
    else if (flags !== 0x04) problems.push(`meta page ${i}: page flags 0x${flags.toString(16)}`);
    else if (m.pageSize !== pageSize)
      problems.push(`meta page ${i}: page size ${m.pageSize}, meta 0 says ${pageSize}`);
    else metas.push(m);
  }
  if (metas.length === 0) fail(`invalid database: ${problems.join('; ')}`);
  metas.sort((a, b) => (a.txid > b.txid ? -1 : a.txid < b.txid ? 1 : 0));
  const meta = metas[0]!;
  if (!(meta.pgid >= 4 && Number.isSafeInteger(meta.pgid)))
    fail(`invalid database: high-water mark ${meta.pgid}`);
  if (meta.pgid * pageSize > dbBytes) {
    fail(
      `file size too small: the database needs ${meta.pgid * pageSize} bytes (${meta.pgid} pages of ${pageSize}), the file has ${dbBytes} (truncated?)`,
    );
  }
  if (!(meta.root >= 2 && meta.root < meta.pgid))
    fail(`invalid database: root page ${meta.root} out of range`);
  return meta;
}

function readBytes(fd: number, pos: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, pos);
  return b;
}
