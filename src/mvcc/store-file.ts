/**
 * Checking a store file before lmdb maps it. lmdb trusts its file completely: a foreign file (an
 * etcd bbolt database was seen in place of data.mdb), a truncated copy or a damaged meta page make
 * it read through wild pointers and the process dies with SIGSEGV or SIGBUS, which no JavaScript
 * can catch. So the facts lmdb relies on first are checked here with plain reads.
 *
 * The layout (lmdb-js 3.x's liblmdb, 64-bit; little-endian):
 *
 *   page header (24 bytes)  pgno u64 @0, txnid u64 @8, pad u16 @16, flags u16 @18,
 *                           lower u16 @20, upper u16 @22 (overflow pages: page count u32 @20)
 *   meta (pages 0 and 1,    magic u32 @24 (0xBEEFC0DE), version u32 @28 (low 16 bits: 2),
 *    at page offset 24)     address u64 @32, mapsize u64 @40, dbs[FREE] @48, dbs[MAIN] @96,
 *                           last_pg u64 @144, txnid u64 @152
 *   MDB_db (48 bytes)       pad u32 @0 (dbs[FREE]: the page size), flags u16 @4, depth u16 @6,
 *                           branch, leaf, overflow pages, entries (u64 each) @8..@39, root u64 @40
 *   leaf node               at page + ptr + 24: data size lo u16, hi u16, flags u16, key size u16,
 *                           key, data; flags 0x02 (F_SUBDATA) = data is a named database's MDB_db
 *
 * What is checked, for both meta pages: the meta flag, magic and version; one power-of-two page size;
 * the file holding every page up to last_pg (a truncated copy); and for the free, main and named
 * databases (key, meta): the root page inside the file, naming itself, a branch or leaf page with
 * sane bounds. Not checked: every interior page and every value (lmdb has no checksums; a flipped bit
 * inside a value cannot be seen here). A 0-byte file is a store lmdb has not initialized yet and
 * passes.
 *
 * Quick mode (`{ quick: true }`, for a file this software closed cleanly and nothing touched since:
 * clean-close.ts) checks the same meta pages and each database's root page, but does not descend
 * below the roots: a few page reads instead of the whole file (0.6 s at 1M keys).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PAGE_HEADER_BYTES = 24;
const LMDB_MAGIC = 0xbeefc0de;
const LMDB_DATA_VERSION = 2;
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_META = 0x08;
const F_SUBDATA = 0x02;
const META_DBS_OFFSET = PAGE_HEADER_BYTES + 24;
const DB_BYTES = 48;
const META_LAST_PG_OFFSET = PAGE_HEADER_BYTES + 120;
const P_INVALID = 0xffffffffffffffffn;
const PAGE_SIZE_MIN = 512;
const PAGE_SIZE_MAX = 65536;
const P_OVERFLOW = 0x04;
/** Bytes per cached read while walking the trees, and how many such chunks are kept (LRU). */
const READ_CHUNK_BYTES = 1 << 20;
const READ_CHUNKS_CACHED = 8;
const F_BIGDATA = 0x01;
const NODE_BYTES = 8;
/** Deepest B-tree walked (a real one of 2^40 records is under 10 levels); also stops cycles early. */
const TREE_DEPTH_MAX = 32;

/** A store file that lmdb must not open: foreign, truncated or damaged. The message names the file. */
export class StoreFileError extends Error {
  override name = 'StoreFileError';
  readonly file: string;

  constructor(file: string, what: string) {
    super(`mvcc: store file ${file} is not a usable lmdb database: ${what}`);
    this.file = file;
  }
}

/** How validateStoreFile checked a file: none there (a new store), every page, or quick mode. */
export type StoreFileCheck = 'new' | 'full' | 'quick';

/**
 * Throws StoreFileError when `file` exists and is not an lmdb file lmdb can safely map. `quick`:
 * only the meta pages and the root pages (see the file comment; for a cleanly closed file only).
 */
export function validateStoreFile(file: string, opts: { quick?: boolean } = {}): StoreFileCheck {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'new';
    throw new StoreFileError(file, (e as Error).message);
  }
  try {
    const size = fstatSync(fd).size;
    check(file, fd, size, opts.quick === true);
    return size === 0 ? 'new' : opts.quick === true ? 'quick' : 'full';
  } finally {
    closeSync(fd);
  }
}

function check(file: string, fd: number, size: number, quick: boolean): void {
  const fail = (what: string): never => {
    throw new StoreFileError(file, what);
  };
  if (size === 0) return;
  const readDirect = (pos: number, n: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const got = readSync(fd, b, done, n - done, pos + done);
      if (got === 0) fail(`unexpected end of file at byte ${pos + done}`);
      done += got;
    }
    return b;
  };
  // Pages are read through a few cached 1 MiB chunks: lmdb allocates pages mostly in write order,
  // so a tree walk finds most children nearby, and one large read beats hundreds of page reads.
  const chunks = new Map<number, Buffer>();
  const read = (pos: number, n: number): Buffer => {
    if (pos + n > size) fail(`page at byte ${pos} lies past the end of the file (${size} bytes; truncated?)`);
    const start = pos - (pos % READ_CHUNK_BYTES);
    if (pos + n > start + READ_CHUNK_BYTES) return readDirect(pos, n);
    let chunk = chunks.get(start);
    if (chunk === undefined) {
      if (chunks.size >= READ_CHUNKS_CACHED) chunks.delete(chunks.keys().next().value!);
      chunk = readDirect(start, Math.min(READ_CHUNK_BYTES, size - start));
    } else chunks.delete(start);
    chunks.set(start, chunk); // most recently used last
    return chunk.subarray(pos - start, pos - start + n);
  };
  if (size < 2 * PAGE_SIZE_MIN) fail(`file of ${size} bytes is too small`);
  const head = read(0, PAGE_HEADER_BYTES + 160);
  if (head.readUInt32LE(PAGE_HEADER_BYTES) !== LMDB_MAGIC) {
    // Say what it is when we can tell: the usual mistake is an etcd backend file.
    const bbolt = head.readUInt32LE(16) === 0xed0cdaed;
    fail(bbolt ? 'it is a bbolt file (an etcd backend or snapshot?), not lmdb' : 'bad magic in meta page 0');
  }
  const pageSize = head.readUInt32LE(META_DBS_OFFSET);
  if (!(pageSize >= PAGE_SIZE_MIN && pageSize <= PAGE_SIZE_MAX && (pageSize & (pageSize - 1)) === 0)) {
    fail(`bad page size ${pageSize} in meta page 0`);
  }
  if (size < 2 * pageSize) fail(`file of ${size} bytes is shorter than its two meta pages`);
  const metas: { txnid: bigint; dbs: Buffer; pages: number }[] = [];
  for (const metaPage of [0, 1]) {
    const m = read(metaPage * pageSize, PAGE_HEADER_BYTES + 160);
    const where = `meta page ${metaPage}`;
    if ((m.readUInt16LE(18) & P_META) === 0) fail(`${where}: not a meta page`);
    if (m.readUInt32LE(PAGE_HEADER_BYTES) !== LMDB_MAGIC) fail(`${where}: bad magic`);
    const version = m.readUInt32LE(PAGE_HEADER_BYTES + 4) & 0xffff;
    if (version !== LMDB_DATA_VERSION) fail(`${where}: version ${version}, want ${LMDB_DATA_VERSION}`);
    if (m.readUInt32LE(META_DBS_OFFSET) !== pageSize) fail(`${where}: page size differs from meta page 0's`);
    const lastPg = m.readBigUInt64LE(META_LAST_PG_OFFSET);
    if (lastPg < 1n || (lastPg + 1n) * BigInt(pageSize) > BigInt(size)) {
      fail(`${where}: last page ${lastPg} lies past the end of the file (${size} bytes; truncated?)`);
    }
    metas.push({
      txnid: m.readBigUInt64LE(META_LAST_PG_OFFSET + 8),
      dbs: m.subarray(META_DBS_OFFSET, META_DBS_OFFSET + 2 * DB_BYTES),
      pages: Number(lastPg) + 1,
    });
  }
  // The meta lmdb will use (mdb_pick_meta: the higher txnid, meta 0 on a tie); its trees are walked
  // whole. The other meta's pages may already be reused, so its trees are not.
  const latest = metas[0]!.txnid >= metas[1]!.txnid ? metas[0]! : metas[1]!;
  const pages = latest.pages;
  const seen = new Uint8Array(pages);
  const walk = (root: bigint, depth: number, db: string, named: boolean): void => {
    if (root === P_INVALID) return;
    if (depth > TREE_DEPTH_MAX) fail(`${db} database: tree deeper than ${TREE_DEPTH_MAX}`);
    if (root < 2n || root >= BigInt(pages))
      fail(`${db} database: page ${root} out of range (last page ${pages - 1})`);
    const pgno = Number(root);
    if (seen[pgno]) fail(`${db} database: page ${pgno} reached twice`);
    seen[pgno] = 1;
    const p = read(pgno * pageSize, pageSize);
    const where = `${db} database page ${pgno}`;
    if (p.readBigUInt64LE(0) !== root) fail(`${where}: header names page ${p.readBigUInt64LE(0)}`);
    const flags = p.readUInt16LE(18);
    if (flags !== P_BRANCH && flags !== P_LEAF) fail(`${where}: flags 0x${flags.toString(16)}`);
    const lower = p.readUInt16LE(20);
    const upper = p.readUInt16LE(22);
    if (lower > upper || upper > pageSize - PAGE_HEADER_BYTES || lower % 2 !== 0) {
      fail(`${where}: bad bounds ${lower}..${upper}`);
    }
    const n = lower >> 1;
    if (n === 0 && flags === P_BRANCH) fail(`${where}: empty branch page`);
    for (let i = 0; i < n; i++) {
      const node = p.readUInt16LE(PAGE_HEADER_BYTES + 2 * i) + PAGE_HEADER_BYTES;
      if (node < PAGE_HEADER_BYTES + lower || node + NODE_BYTES > pageSize)
        fail(`${where}: node ${i} out of its page`);
      const lo = p.readUInt16LE(node);
      const hi = p.readUInt16LE(node + 2);
      const nodeFlags = p.readUInt16LE(node + 4);
      const data = node + NODE_BYTES + p.readUInt16LE(node + 6);
      if (flags === P_BRANCH) {
        if (data > pageSize) fail(`${where}: node ${i} overruns its page`);
        if (quick) continue; // quick mode: the root page only
        walk(BigInt(lo) + (BigInt(hi) << 16n) + (BigInt(nodeFlags) << 32n), depth + 1, db, named);
        continue;
      }
      const dataBytes = lo + hi * 65536;
      if ((nodeFlags & ~(F_BIGDATA | F_SUBDATA)) !== 0)
        fail(`${where}: node ${i} has flags 0x${nodeFlags.toString(16)}`);
      if (data + ((nodeFlags & F_BIGDATA) !== 0 ? 8 : dataBytes) > pageSize)
        fail(`${where}: node ${i} overruns its page`);
      if ((nodeFlags & F_BIGDATA) !== 0) {
        const ov = p.readBigUInt64LE(data);
        if (ov < 2n || ov >= BigInt(pages)) fail(`${where}: node ${i} overflow page ${ov} out of range`);
        const o = read(Number(ov) * pageSize, PAGE_HEADER_BYTES);
        const count = o.readUInt32LE(20);
        if (o.readBigUInt64LE(0) !== ov || (o.readUInt16LE(18) & P_OVERFLOW) === 0)
          fail(`overflow page ${ov}: bad header`);
        if (Number(ov) + count > pages || count * pageSize - PAGE_HEADER_BYTES < dataBytes) {
          fail(`overflow page ${ov}: ${count} pages do not hold ${dataBytes} bytes`);
        }
        for (let j = Number(ov); j < Number(ov) + count; j++) {
          if (seen[j]) fail(`overflow page ${j} reached twice`);
          seen[j] = 1;
        }
      } else if ((nodeFlags & F_SUBDATA) !== 0) {
        if (!named || dataBytes !== DB_BYTES) fail(`${where}: node ${i}: misplaced named database record`);
        const name = p
          .subarray(node + NODE_BYTES, data)
          .toString('latin1')
          .replace(/\0$/, '');
        walk(p.readBigUInt64LE(data + 40), 0, JSON.stringify(name), false);
      }
    }
  };
  walk(latest.dbs.readBigUInt64LE(40), 0, 'free', false);
  walk(latest.dbs.readBigUInt64LE(DB_BYTES + 40), 0, 'main', true);
}
