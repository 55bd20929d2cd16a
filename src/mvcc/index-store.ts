/**
 * The key index kept in lmdb itself (etcd keeps its treeIndex in memory and rebuilds it from the
 * whole backend on every start; we do neither).
 *
 *   lmdb `index`      user key (raw bytes)      -> encodeKeyIndex(KeyIndex)
 *   lmdb `index-aux`  sha256(user key) 32 B     -> u32 BE key length, key, encodeKeyIndex  (long keys)
 *                     `version`                 -> u32 BE INDEX_FORMAT_VERSION (present = index built)
 *                     `live`                    -> u64 BE live keys (etcd's keys_total)
 *
 * The persisted index is written in the same lmdb batch as the revision records it describes, so
 * after any crash lmdb's index names exactly the revisions lmdb holds, and opening a store reads
 * nothing but a few meta records: start-up no longer scans every stored revision, and the index no
 * longer costs JS heap per key (it lives in lmdb's memory map, paged in as it is used).
 *
 * In memory: a small layer of KeyIndex objects (a Map for point lookups, a BTree for ordered
 * scans) holding
 *   - every entry changed since the lmdb batch that carries it committed ("dirty": reads must see
 *     changes of ended write txns before lmdb has them, as the store's value overlay does), and
 *   - every key longer than INDEX_KEY_BYTES_MAX (lmdb keys are limited to 1978 bytes; etcd's keys
 *     only by the request size), pinned for the store's life and persisted under a hash.
 * A dirty entry leaves the layer once the batch carrying its latest change committed and the lmdb
 * read snapshot was renewed (the store calls `committed` after resetReadTxn), so a reader never
 * sees an older lmdb state than the one the evicted entry held.
 *
 * An entry with no revisions left (compaction removed all) stays in the layer as "removed" until its
 * deletion from lmdb commits; lookups treat it as absent.
 */
import { createHash } from 'node:crypto';
import type { Database, RootDatabase, Transaction } from 'lmdb';
import { assert } from '../pkg/index.js';
import { BTree } from './btree.js';
import { decodeKeyIndex, encodeKeyIndex, KeyIndex } from './key-index.js';
import { rebuildIndex } from './restore.js';

/** Longest key (bytes) stored as an lmdb key of `index`; longer keys go to `index-aux` by hash. */
export const INDEX_KEY_BYTES_MAX = 1900;
/** Format of the persisted index; a store without it (or another) has its index rebuilt on open. */
export const INDEX_FORMAT_VERSION = 1;
/** Entries written per lmdb transaction while building the index of an older store. */
const BUILD_ENTRIES_PER_TXN = 20_000;

const AUX_VERSION = Buffer.from('version');
const AUX_LIVE = Buffer.from('live');
const HASH_BYTES = 32;

const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;
const latin1Write = Buffer.prototype.latin1Write as (this: Uint8Array, s: string, offset: number) => number;

/** The entries one flush carries to lmdb (see takeDirty / committed). */
export interface IndexFlush {
  /** Flush number: entries whose dirtySeq is still this after commit are clean. */
  seq: number;
  entries: KeyIndex[];
  /** lmdb writes: [db, key, value or undefined = remove]. */
  writes: [Database<Buffer, Buffer>, Buffer, Buffer | undefined][];
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

function longKeyHash(key: string): Buffer {
  return createHash('sha256').update(key, 'latin1').digest();
}

/** The key index of a store, persisted in lmdb; see the file comment. */
export class PersistedIndex {
  /** Raw handle on `index` (writes, deletes). */
  private readonly db: Database<Buffer, Buffer>;
  /** Decoding handle on `index`: keys as latin1 strings, values as KeyIndexes (no Buffer copies). */
  private readonly reader: Database<KeyIndex, string>;
  private readonly aux: Database<Buffer, Buffer>;
  private readonly mem = new Map<string, KeyIndex>();
  private readonly memTree = new BTree<KeyIndex>();
  /** Entries dirtied since the last takeDirty. */
  private dirty: KeyIndex[] = [];
  /** Number of the next flush. */
  private seq = 1;
  /** Live keys as last persisted (the store keeps the running count). */
  readonly liveKeysAtOpen: number;

  private constructor(env: RootDatabase<Buffer, Buffer>, liveKeys: number) {
    this.db = env.openDB<Buffer, Buffer>({ name: 'index', keyEncoding: 'binary', encoding: 'binary' });
    this.aux = env.openDB<Buffer, Buffer>({ name: 'index-aux', keyEncoding: 'binary', encoding: 'binary' });
    const keyEncoder = {
      writeKey: (key: string, target: Uint8Array, start: number): number =>
        start + latin1Write.call(target, key, start),
      readKey: (target: Uint8Array, start: number, end: number): string =>
        latin1Slice.call(target, start, end),
    };
    const encoder = {
      decode: (b: Uint8Array, size: number): KeyIndex => decodeKeyIndex('', b, 0, size),
    };
    this.reader = env.openDB<KeyIndex, string>({ name: 'index', keyEncoder, encoder } as never);
    this.liveKeysAtOpen = liveKeys;
  }

  /**
   * Opens the persisted index of the store in `env`, building it first from the stored revisions
   * when the store has none (a store written before the index was persisted, or one imported
   * record by record): that one-time build costs what every open used to cost.
   */
  static open(env: RootDatabase<Buffer, Buffer>): { index: PersistedIndex; built: boolean; records: number } {
    const aux = env.openDB<Buffer, Buffer>({ name: 'index-aux', keyEncoding: 'binary', encoding: 'binary' });
    const version = aux.getBinary(AUX_VERSION);
    let built = false;
    let records = 0;
    if (version === undefined || version.readUInt32BE(0) !== INDEX_FORMAT_VERSION) {
      records = PersistedIndex.build(env, aux);
      built = true;
    }
    const live = aux.getBinary(AUX_LIVE);
    const index = new PersistedIndex(env, live === undefined ? 0 : Number(live.readBigUInt64BE(0)));
    index.loadLongKeys();
    return { index, built, records };
  }

  /** Writes the index of every stored revision (one scan, as etcd's restore), then the version. */
  private static build(env: RootDatabase<Buffer, Buffer>, aux: Database<Buffer, Buffer>): number {
    const db = env.openDB<Buffer, Buffer>({ name: 'index', keyEncoding: 'binary', encoding: 'binary' });
    const { index, records } = rebuildIndex(env);
    const all: KeyIndex[] = Array.from(index.values());
    let live = 0;
    const stale = [
      ...Array.from(db.getKeys({}), (k) => [db, k] as const),
      ...Array.from(aux.getKeys({}), (k) => [aux, k] as const),
    ];
    env.transactionSync(() => {
      for (const [d, k] of stale) d.removeSync(k as Buffer);
    });
    for (let i = 0; i < all.length; i += BUILD_ENTRIES_PER_TXN) {
      env.transactionSync(() => {
        for (const ki of all.slice(i, i + BUILD_ENTRIES_PER_TXN)) {
          if (ki.ver > 0) live++;
          const [d, k, v] = PersistedIndex.record(db, aux, ki);
          assert(v !== undefined, 'a rebuilt key index entry has revisions');
          d.putSync(k, v);
        }
      });
    }
    env.transactionSync(() => {
      aux.putSync(AUX_LIVE, u64(live));
      const v = Buffer.alloc(4);
      v.writeUInt32BE(INDEX_FORMAT_VERSION);
      aux.putSync(AUX_VERSION, v);
    });
    return records;
  }

  /** The lmdb write that persists `ki` (value undefined: remove it). */
  private static record(
    db: Database<Buffer, Buffer>,
    aux: Database<Buffer, Buffer>,
    ki: KeyIndex,
  ): [Database<Buffer, Buffer>, Buffer, Buffer | undefined] {
    const enc = ki.isEmpty() ? undefined : encodeKeyIndex(ki);
    if (ki.key.length <= INDEX_KEY_BYTES_MAX) return [db, Buffer.from(ki.key, 'latin1'), enc];
    if (enc === undefined) return [aux, longKeyHash(ki.key), undefined];
    const v = Buffer.allocUnsafe(4 + ki.key.length + enc.length);
    v.writeUInt32BE(ki.key.length, 0);
    v.write(ki.key, 4, 'latin1');
    enc.copy(v, 4 + ki.key.length);
    return [aux, longKeyHash(ki.key), v];
  }

  private loadLongKeys(): void {
    for (const { key, value } of this.aux.getRange({})) {
      if ((key as Buffer).length !== HASH_BYTES) continue;
      const v = value as Buffer;
      const n = v.readUInt32BE(0);
      const ki = decodeKeyIndex(v.toString('latin1', 4, 4 + n), v, 4 + n, v.length);
      this.mem.set(ki.key, ki);
      this.memTree.set(ki.key, ki);
    }
  }

  /** The lmdb name of `db`, one of the two handles whose writes takeDirty returns. */
  dbName(db: Database<Buffer, Buffer>): 'index' | 'index-aux' {
    assert(db === this.db || db === this.aux, 'not a key index database');
    return db === this.db ? 'index' : 'index-aux';
  }

  /** Entries held in memory (dirty and long keys); for tests and metrics. */
  get memSize(): number {
    return this.mem.size;
  }

  /**
   * The KeyIndex of `key` (latin1), or undefined. A fresh object when read from lmdb: read it, do
   * not change it (use `adopt` or `mutable` to change an entry).
   */
  get(key: string): KeyIndex | undefined {
    const m = this.mem.get(key);
    if (m !== undefined) return m.isEmpty() ? undefined : m;
    if (key.length > INDEX_KEY_BYTES_MAX) return undefined;
    const ki = this.reader.get(key);
    if (ki !== undefined) ki.key = key;
    return ki;
  }

  /** The entry of `key` to change, created if absent, and marked dirty (persisted with the next flush). */
  mutable(key: string): KeyIndex {
    let ki = this.mem.get(key);
    if (ki === undefined) {
      ki = (key.length <= INDEX_KEY_BYTES_MAX ? this.reader.get(key) : undefined) ?? new KeyIndex(key);
      ki.key = key;
      this.mem.set(key, ki);
      this.memTree.set(key, ki);
    }
    this.markDirty(ki);
    return ki;
  }

  /**
   * Takes `ki` (from get, visit or keysAfter, unchanged since) as the entry of its key to change:
   * the in-memory entry if there is one, else `ki` itself; marked dirty.
   */
  adopt(ki: KeyIndex): KeyIndex {
    const m = this.mem.get(ki.key);
    if (m !== undefined) {
      this.markDirty(m);
      return m;
    }
    this.mem.set(ki.key, ki);
    this.memTree.set(ki.key, ki);
    this.markDirty(ki);
    return ki;
  }

  private markDirty(ki: KeyIndex): void {
    if (ki.dirtySeq === this.seq) return;
    ki.dirtySeq = this.seq;
    this.dirty.push(ki);
  }

  /** Whether changes wait for a flush. */
  hasDirty(): boolean {
    return this.dirty.length > 0;
  }

  /**
   * Visits entries with key in [from, end) in key order until `fn` returns false; `end` undefined
   * means no upper bound. `fn` must not change the index.
   */
  visit(from: string, end: string | undefined, fn: (ki: KeyIndex) => boolean): void {
    const memKs: KeyIndex[] = [];
    this.memTree.visit(from, (k, ki) => {
      if (end !== undefined && k >= end) return false;
      memKs.push(ki);
      return true;
    });
    let mi = 0;
    // lmdb refuses bounds longer than its keys: scan from a prefix of `from` (which sorts at or
    // before it) and without an end, and filter here.
    const start =
      from === '' ? '\0' : from.length > INDEX_KEY_BYTES_MAX ? from.slice(0, INDEX_KEY_BYTES_MAX) : from;
    const lmdbEnd = end !== undefined && end.length <= INDEX_KEY_BYTES_MAX ? end : undefined;
    for (const { key, value } of this.reader.getRange({ start, end: lmdbEnd })) {
      if (key < from) continue;
      if (end !== undefined && key >= end) break;
      while (mi < memKs.length && memKs[mi]!.key < key) {
        const m = memKs[mi++]!;
        if (!m.isEmpty() && !fn(m)) return;
      }
      if (mi < memKs.length && memKs[mi]!.key === key) {
        const m = memKs[mi++]!;
        if (!m.isEmpty() && !fn(m)) return;
        continue;
      }
      value.key = key;
      if (!fn(value)) return;
    }
    while (mi < memKs.length) {
      const m = memKs[mi++]!;
      if (!m.isEmpty() && !fn(m)) return;
    }
  }

  /** Up to `limit` entries with key > `after` (all keys when undefined), in key order. */
  keysAfter(after: string | undefined, limit: number): KeyIndex[] {
    const out: KeyIndex[] = [];
    if (limit <= 0) return out;
    this.visit(after === undefined ? '' : `${after}\0`, undefined, (ki) => {
      out.push(ki);
      return out.length < limit;
    });
    return out;
  }

  /**
   * Every entry as of the lmdb read transaction `txn` (the in-memory layer is ignored), in key
   * order of the index then the long keys: for hashing against one lmdb snapshot.
   */
  forEachIn(txn: Transaction, fn: (ki: KeyIndex) => void): void {
    for (const { key, value } of this.reader.getRange({ start: '\0', transaction: txn })) {
      value.key = key;
      fn(value);
    }
    for (const { key, value } of this.aux.getRange({ transaction: txn })) {
      if ((key as Buffer).length !== HASH_BYTES) continue;
      const v = value as Buffer;
      const n = v.readUInt32BE(0);
      fn(decodeKeyIndex(v.toString('latin1', 4, 4 + n), v, 4 + n, v.length));
    }
  }

  /**
   * Takes every entry dirtied since the last call, encoded for lmdb, plus the live-key count:
   * the caller writes `writes` in its next lmdb batch and calls `committed` once it committed and
   * the lmdb read snapshot was renewed.
   */
  takeDirty(liveKeys: number): IndexFlush {
    const entries = this.dirty;
    this.dirty = [];
    const seq = this.seq++;
    const writes: IndexFlush['writes'] = entries.map((ki) => PersistedIndex.record(this.db, this.aux, ki));
    writes.push([this.aux, AUX_LIVE, u64(liveKeys)]);
    return { seq, entries, writes };
  }

  /** The flush `f` committed (and lmdb's read snapshot is renewed): evicts what lmdb now holds. */
  committed(f: IndexFlush): void {
    for (const ki of f.entries) {
      if (ki.dirtySeq !== f.seq) continue; // changed again since: a later flush carries it
      ki.dirtySeq = 0;
      if (ki.key.length > INDEX_KEY_BYTES_MAX && !ki.isEmpty()) continue; // long keys stay
      if (this.mem.get(ki.key) !== ki) continue;
      this.mem.delete(ki.key);
      const found = this.memTree.delete(ki.key);
      assert(found, 'key index map and tree disagree');
    }
  }
}
