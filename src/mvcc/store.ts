/**
 * The revisioned key-value store (etcd 3.4's mvcc `store`, `storeTxnWrite`, compaction and hash),
 * on lmdb.
 *
 * Data flow of a write:
 *
 *   write(ci) -> WriteTxn.put/deleteRange     key index updated at once; encoded records kept
 *            -> WriteTxn.end()                records move to `pending`; KeyValues stay in the
 *                                             `overlay` (revision -> KeyValue) so reads see them
 *            -> flush() (next event turn)     one lmdb batch: all pending records + consistent
 *                                             index (+ compaction marks), atomically
 *            -> batch committed               overlay entries up to that revision dropped
 *            -> commit()                      awaits the batch, then lmdb's fsync (group commit)
 *
 * Reads resolve revisions through the key index (persisted in lmdb with a small in-memory layer,
 * index-store.ts) and fetch values from the overlay or lmdb. Everything runs on the event loop; lmdb-js commits and fsyncs on its own writer thread.
 */
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase, type Transaction } from 'lmdb';
import { assert, crc32c } from '../pkg/index.js';
import { type Event, Event_EventType, type KeyValue } from '../proto/mvccpb/kv.js';
import { stampCleanClose, takeCleanCloseStamp } from './clean-close.js';
import { EncodedRange, getInTxn } from './encoded-range.js';
import { errClosed, errCompacted, errFutureRev } from './errors.js';
import { type IndexFlush, PersistedIndex } from './index-store.js';
import type { KeyIndex } from './key-index.js';
import { decodeKeyValue, encodeKeyValue, encodeKeyValueOf, makeKeyValue } from './kv-codec.js';
import { keyMain, keySub, readU64, revKey, writeRevKey, writeU64 } from './revision.js';
import type { StoreFaults } from './store-faults.js';
import { type StoreFileCheck, validateStoreFile } from './store-file.js';

/** Pending records that force a flush to lmdb right away instead of at the next event turn. */
export const FLUSH_RECORDS_MAX = 10_000;
/** Keys whose index entries one compaction step trims before yielding to the event loop. */
export const COMPACT_KEYS_PER_STEP = 5_000;
/** Revisions deleted from lmdb per compaction batch (etcd's compaction batch limit is 1000). */
export const COMPACT_DELETES_PER_BATCH = 5_000;
/** Revisions hashed per step of hash()/hashKV() before yielding to the event loop. */
export const HASH_RECORDS_PER_STEP = 10_000;
/**
 * Most bytes of lmdb writes a live copy (copyLive) records while it is made; past this the copy is
 * abandoned and the caller falls back to copying with writes stopped.
 */
export const LIVE_COPY_RECORDED_BYTES_MAX = 256 * 1024 * 1024;
/** Records a live copy rewrites per event-loop turn (copyLive). */
export const REWRITE_RECORDS_PER_STEP = 2_000;
/** Default lmdb map size: the most bytes the database file may grow to (virtual, not allocated). */
export const MAP_SIZE_BYTES_DEFAULT = 8 * 1024 * 1024 * 1024;

const META_CONSISTENT_INDEX = Buffer.from('consistent_index');
/** Namespace of auxiliary records in the meta database (see setAux). */
export const AUX_PREFIX = Buffer.from('aux/');
const META_SCHEDULED_COMPACT = Buffer.from('scheduledCompactRev');
const META_FINISHED_COMPACT = Buffer.from('finishedCompactRev');
/** etcd hashes the bucket name first; so do we, so hashes are comparable in spirit. */
const KEY_BUCKET_NAME = Buffer.from('key');
const EMPTY = Buffer.alloc(0);

/**
 * Opens the lmdb environment of a store in `dir` (created if missing; `noSync`: commits are not
 * fsynced, for a bulk import that fsyncs the file once at the end), after checking that an
 * existing `db/data.mdb` is an lmdb file lmdb can map safely (validateStoreFile): lmdb trusts its
 * file and a foreign or damaged one crashes the process. Throws StoreFileError naming the file.
 */
export function openStoreEnv(
  dir: string,
  mapSizeBytes?: number,
  opts: { noSync?: boolean; onChecked?: (how: StoreFileCheck) => void } = {},
): RootDatabase<Buffer, Buffer> {
  mkdirSync(dir, { recursive: true });
  // A file this software closed cleanly and nothing touched since gets the quick check.
  const checked = validateStoreFile(join(dir, 'db', 'data.mdb'), { quick: takeCleanCloseStamp(dir) });
  opts.onChecked?.(checked);
  return open<Buffer, Buffer>({
    // noSync: no fsync per commit; the caller fsyncs the file itself once done (bulk imports).
    noSync: opts.noSync === true,
    path: join(dir, 'db'),
    mapSize: mapSizeBytes ?? MAP_SIZE_BYTES_DEFAULT,
    maxDbs: 8,
    keyEncoding: 'binary',
    encoding: 'binary',
    compression: false,
    cache: false,
    overlappingSync: opts.noSync !== true,
    noMemInit: true,
  });
}

/** Options of a range read. */
export interface RangeOptions {
  /** Most KeyValues to return; 0 or undefined = no limit. `count` still counts all matches. */
  limit?: number;
  /** Store revision to read at; 0 or undefined = the current revision. */
  rev?: number;
  /** Return only the count (kvs empty). */
  countOnly?: boolean;
}

/** The result of a range read. */
export interface RangeResult {
  /** Matching KeyValues in key order (at most `limit`). Shared objects: do not mutate. */
  kvs: KeyValue[];
  /** Number of keys matching, before the limit. */
  count: number;
  /** The store's revision when the read happened (not the revision read at), as etcd returns. */
  rev: number;
}

/** Optional logger; pino-compatible. */
export interface MvccLogger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Options of MvccStore.open. */
export interface MvccStoreOptions {
  /** Directory holding the lmdb environment (`db/data.mdb`, `db/lock.mdb`); created if missing. */
  dir: string;
  /**
   * true (default): commit() resolves only after lmdb's fsync of everything written so far.
   * false: a WAL in front provides durability; commit() resolves once lmdb committed (visible,
   * survives a process crash) and the fsync happens in the background.
   */
  sync?: boolean;
  /**
   * 0 (default): ended writes go to lmdb in one batch per event-loop turn. > 0: one batch per
   * this many milliseconds (or sooner at FLUSH_RECORDS_MAX records), like etcd's
   * --backend-batch-interval. Each lmdb batch costs an fsync of the database file, so with a WAL
   * in front a longer interval keeps the disk for the WAL; reads see the writes meanwhile from
   * the in-memory overlay.
   */
  batchIntervalMs?: number;
  /** Called with the duration of every lmdb batch commit (etcd_disk_backend_commit_duration_seconds). */
  onBatchCommitted?: (seconds: number) => void;
  /** Most bytes the database may grow to; default MAP_SIZE_BYTES_DEFAULT. */
  mapSizeBytes?: number;
  /** Where open/compaction progress and failures are logged; default silent. */
  logger?: MvccLogger;
  /**
   * Counted into as etcd's mvcc metrics count (etcd_mvcc_{range,put,delete,txn}_total): every range,
   * put and delete of a txn, and a txn when it held more than one of them. Owned by the caller, so
   * the counts outlive a store replaced by defragment or a snapshot install.
   */
  opCounters?: MvccOpCounters;
  /** Test-only disk faults around each lmdb batch (store-faults.ts); absent in production. */
  faults?: StoreFaults;
}

/** etcd's mvcc operation counts (see MvccStoreOptions.opCounters). */
export interface MvccOpCounters {
  ranges: number;
  puts: number;
  deletes: number;
  txns: number;
  /** Bytes of keys and values put (etcd_debugging_mvcc_total_put_size_in_bytes). */
  putBytes: number;
}

/** A write transaction: one per applied raft entry; see MvccStore.write. */
export interface WriteTxn {
  /** Reads at this txn's view (its own writes included). Throws MvccError like MvccStore.range. */
  range(key: Buffer, end: Buffer | undefined, opts?: RangeOptions): RangeResult;
  /** Puts `value` at `key` with `lease` (0n = none). Key must be non-empty. */
  put(key: Buffer, value: Buffer, lease: bigint): void;
  /**
   * Deletes the live keys in [key, end) (end undefined = just `key`; empty or [0] = to the end).
   * Returns how many were deleted and, unless `wantPrevKvs` is false, their KeyValues before.
   */
  deleteRange(
    key: Buffer,
    end: Buffer | undefined,
    wantPrevKvs?: boolean,
  ): { deleted: number; prevKvs: KeyValue[] };
  /** The revision this txn's writes get: the current revision, plus 1 once it has written. */
  readonly rev: number;
  /**
   * Ends the txn: bumps the store revision if it changed anything and returns the events (PUT /
   * DELETE, in sub-revision order; fresh objects the caller owns, their kvs shared and read-only)
   * and the store revision after.
   */
  end(): { rev: number; events: Event[] };
}

/** Result of hashKV. */
export interface HashKVResult {
  /** CRC-32C over the revision keys and values up to `revision`, compacted-away data excluded. */
  hash: number;
  /** The compact revision the hash was taken under. */
  compactRevision: number;
  /** The revision hashed up to (the requested one, or the current revision for 0). */
  revision: number;
}

interface Backend {
  env: RootDatabase<Buffer, Buffer>;
  kv: Database<Buffer, Buffer>;
  meta: Database<Buffer, Buffer>;
}

function u64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64(b, 0, v);
  return b;
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `end` as etcd's "to the end of the keyspace" (empty, or a single zero byte)? */
function isOpenEnd(end: Buffer): boolean {
  return end.length === 0 || (end.length === 1 && end[0] === 0);
}

/**
 * The mvcc store. One per member. Not thread-safe (single event loop); at most one WriteTxn open.
 * See README.md for invariants and the on-disk layout.
 */
export class MvccStore {
  private readonly be: Backend;
  private readonly sync: boolean;
  private readonly batchIntervalMs: number;
  private readonly onBatchCommitted: ((seconds: number) => void) | undefined;
  /** Callers of committedLazily() waiting for the next batch to be handed to lmdb. */
  private flushWaiters: (() => void)[] = [];
  private readonly log: MvccLogger | undefined;
  private readonly index: PersistedIndex;
  /** Revision keys to delete from lmdb with the next batch (compaction), with the index trims. */
  private pendingDeletes: Buffer[] = [];
  private currentRev: number;
  private compactMainRev: number;
  private ci: number;
  /** Revisions whose records are not yet committed to lmdb: main -> KeyValues by sub. */
  private readonly overlay = new Map<number, KeyValue[]>();
  private pendingKeys: Buffer[] = [];
  private pendingVals: Buffer[] = [];
  /** Meta values for the next batch; an undefined value deletes the key. */
  private pendingMeta: [Buffer, Buffer | undefined][] = [];
  private ciDirty = false;
  private flushScheduled = false;
  private lastBatch: Promise<void> = Promise.resolve();
  private openTxn: WriteTxnImpl | undefined;
  private compactChain: Promise<void> = Promise.resolve();
  private compactionsRunning = 0;
  private closed = false;
  private fatal: Error | undefined;
  /** The store's directory (opts.dir). */
  private readonly dir: string;
  private readonly faults: StoreFaults | undefined;
  /** dbSize() between commits; see there. */
  private dbSizeCached: number | undefined;
  private readonly scratchKey = Buffer.alloc(17);

  private constructor(
    be: Backend,
    opts: MvccStoreOptions,
    index: PersistedIndex,
    rev: number,
    compactRev: number,
    ci: number,
  ) {
    this.be = be;
    this.dir = opts.dir;
    this.sync = opts.sync !== false;
    this.batchIntervalMs = opts.batchIntervalMs ?? 0;
    this.onBatchCommitted = opts.onBatchCommitted;
    this.log = opts.logger;
    this.ops = opts.opCounters;
    this.faults = opts.faults;
    this.index = index;
    this.liveKeys = index.liveKeysAtOpen;
    this.currentRev = rev;
    this.compactMainRev = compactRev;
    this.ci = ci;
  }

  /**
   * Opens (or creates) the store in `opts.dir`. The key index is persisted (index-store.ts), so
   * nothing is rebuilt, except once for a store written without it. If a compaction was scheduled but not finished before a crash, it is restarted in
   * the background (reads already see the scheduled compact revision).
   */
  static async open(opts: MvccStoreOptions): Promise<MvccStore> {
    const checkStarted = performance.now();
    let checked: StoreFileCheck = 'new';
    const env = openStoreEnv(opts.dir, opts.mapSizeBytes, { onChecked: (how) => (checked = how) });
    const checkMs = Math.round(performance.now() - checkStarted);
    const kv = env.openDB<Buffer, Buffer>({ name: 'key', keyEncoding: 'binary', encoding: 'binary' });
    const meta = env.openDB<Buffer, Buffer>({ name: 'meta', keyEncoding: 'binary', encoding: 'binary' });
    const started = performance.now();

    // The key index is persisted with the records (index-store.ts): nothing to rebuild, unless
    // the store predates it. The current revision is the last stored record's.
    const { index, built, records } = PersistedIndex.open(env);
    let maxMain = 0;
    for (const k of kv.getKeys({ reverse: true, limit: 1 })) maxMain = keyMain(k as Buffer);

    const readMeta = (k: Buffer): number | undefined => {
      const b = meta.getBinary(k);
      return b === undefined ? undefined : readU64(b, 0);
    };
    const ci = readMeta(META_CONSISTENT_INDEX) ?? 0;
    const scheduled = readMeta(META_SCHEDULED_COMPACT);
    const finished = readMeta(META_FINISHED_COMPACT);
    // An empty store is at revision 1 (etcd): the first write gets revision 2. A compaction may
    // have removed every record at the compact revision (tombstones), hence the max.
    const rev = Math.max(1, maxMain, scheduled ?? 0);
    const compactRev = scheduled ?? -1;
    const store = new MvccStore({ env, kv, meta }, opts, index, rev, compactRev, ci);
    store.log?.info(
      {
        indexBuilt: built,
        records,
        rev,
        compactRev,
        consistentIndex: ci,
        fileCheck: checked,
        fileCheckMs: checkMs,
        ms: Math.round(performance.now() - started),
      },
      'mvcc: opened store',
    );
    if (scheduled !== undefined && scheduled !== finished) {
      store.log?.info({ scheduled, finished }, 'mvcc: resuming interrupted compaction');
      store.startCompaction(scheduled);
    }
    return store;
  }

  /** The current revision: that of the last write txn that changed something (1 when empty). */
  get rev(): number {
    return this.currentRev;
  }

  /**
   * Live keys (etcd's keys_total gauge: a key counts from the put that starts its generation to
   * its delete). Counted once on first use, then kept up to date by puts and deletes.
   */
  get keysTotal(): number {
    return this.liveKeys;
  }
  /** Live keys; persisted with every batch (index-store.ts). */
  private liveKeys: number;

  /**
   * Key index entries held in memory: those changed since their lmdb batch committed, plus keys
   * longer than lmdb's longest key (index-store.ts). The rest of the index lives in lmdb.
   */
  get indexEntriesInMemory(): number {
    return this.index.memSize;
  }

  /** The compact revision: reads below it fail with ErrCompacted; -1 if never compacted. */
  get compactRev(): number {
    return this.compactMainRev;
  }

  /** The raft index of the last applied entry (from the last ended write txn, or from disk). */
  get consistentIndex(): number {
    return this.ci;
  }

  /**
   * Reads keys [key, end) at `opts.rev` (default current). `end` undefined = the single key;
   * empty or [0] = every key >= key. Throws MvccError 'future-rev' for rev > current,
   * 'compacted' for rev < compact revision, 'closed' after close().
   */
  range(key: Buffer, end: Buffer | undefined, opts?: RangeOptions): RangeResult {
    this.checkUsable();
    if (this.ops) this.ops.ranges++;
    return this.rangeAt(key, end, opts, this.currentRev);
  }

  /** Where operations are counted (MvccStoreOptions.opCounters), if anywhere. */
  readonly ops: MvccOpCounters | undefined;

  /**
   * Starts a write txn for the raft entry at `consistentIndex` (non-decreasing). Only one txn may
   * be open at a time (it may stay open across awaits; reads of the store do not see it until it
   * ends). The consistent index is recorded at end() even if the txn changes nothing.
   */
  write(consistentIndex: number): WriteTxn {
    this.checkUsable();
    assert(this.openTxn === undefined, 'a write txn is already open');
    assert(
      Number.isSafeInteger(consistentIndex) && consistentIndex >= 0,
      'consistent index is a safe integer',
    );
    assert(consistentIndex >= this.ci, 'consistent index must not go backwards');
    const txn = new WriteTxnImpl(this, this.currentRev, consistentIndex);
    this.openTxn = txn;
    return txn;
  }

  /**
   * Auxiliary records of the layers above (e.g. the lease table), kept in the meta database under
   * AUX_PREFIX and written in the same lmdb batch as the consistent index: set one inside the write
   * txn of the entry that changes it (before `end()`), and a restart sees both or neither.
   * `value` undefined deletes the record.
   */
  setAux(key: Buffer, value: Buffer | undefined): void {
    this.checkUsable();
    assert(this.openTxn !== undefined, 'setAux must be called inside a write txn');
    this.pendingMeta.push([Buffer.concat([AUX_PREFIX, key]), value]);
  }

  /** Every auxiliary record whose key starts with `prefix`, as last committed (keys without AUX_PREFIX). */
  auxRecords(prefix: Buffer): { key: Buffer; value: Buffer }[] {
    this.checkUsable();
    const start = Buffer.concat([AUX_PREFIX, prefix]);
    const out: { key: Buffer; value: Buffer }[] = [];
    for (const { key, value } of this.be.meta.getRange({ start })) {
      const k = key as Buffer;
      if (k.length < start.length || !k.subarray(0, start.length).equals(start)) break;
      out.push({ key: Buffer.from(k.subarray(AUX_PREFIX.length)), value: value as Buffer });
    }
    return out;
  }

  /**
   * A consistent copy of the committed database as `<dir>/data.mdb` (lmdb's own copy), for sending
   * to a member that needs a snapshot, or compacted (free pages dropped) for defragmenting.
   * Everything ended so far is committed first.
   */
  async backupTo(dir: string, compact = false): Promise<string> {
    this.checkUsable();
    await this.commit();
    mkdirSync(dir, { recursive: true });
    await this.be.env.backup(dir, compact);
    return join(dir, 'data.mdb');
  }

  /**
   * A compacted copy of the database (for defragmenting) made while writes go on: one lmdb read
   * snapshot rewritten record by record into full pages (rewriteTo), in steps on the event loop;
   * every lmdb batch flushed from the start of the copy is also recorded. The
   * caller calls `finish()` once no write txn is open and none will be until the copy has replaced
   * the store: it commits what is pending, replays the recorded batches into the copy in order (a
   * batch the copy already holds is written again with the same bytes, which changes nothing:
   * batches flushed before recording began were committed before the copy started) and resolves
   * with the copy's path (`<dir>/data.mdb`), or with undefined when more than
   * LIVE_COPY_RECORDED_BYTES_MAX bytes were written meanwhile (then copy with writes stopped).
   * `catchUp()`, while writes still go on, replays what was recorded so far and fsyncs the copy,
   * leaving finish() only the tail. `abort()` stops recording. One live copy at a time.
   */
  async copyLive(
    dir: string,
  ): Promise<{ catchUp(): Promise<void>; finish(): Promise<string | undefined>; abort(): void }> {
    this.checkUsable();
    assert(this.recording === undefined, 'one live copy at a time');
    const rec: LiveCopyRecording = { ops: [], bytes: 0, overflow: false };
    this.recording = rec;
    try {
      await this.commit(); // batches flushed before recording began are in lmdb before the copy starts
      mkdirSync(dir, { recursive: true });
      await this.rewriteTo(dir);
    } catch (err) {
      this.recording = undefined;
      throw err;
    }
    const abort = (): void => {
      if (this.recording === rec) this.recording = undefined;
    };
    // Writes the batches recorded so far into the copy (in order) and fsyncs it.
    const replay = async (): Promise<void> => {
      const ops = rec.ops;
      rec.ops = [];
      rec.bytes = 0;
      const env = open<Buffer, Buffer>({ path: dir, maxDbs: 8, keyEncoding: 'binary', encoding: 'binary' });
      try {
        const dbs = new Map<string, Database<Buffer, Buffer>>();
        for (const name of ['key', 'meta', 'index', 'index-aux']) {
          dbs.set(name, env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
        }
        await env.transaction(() => {
          for (const [name, k, v] of ops) {
            const db = dbs.get(name)!;
            if (v === undefined) db.remove(k);
            else db.put(k, v);
          }
        });
      } finally {
        await env.close();
      }
      // The rewrite was not synced (noSync) and the replay may have written nothing: sync the
      // whole file ourselves before anyone swaps it in.
      const fd = openSync(join(dir, 'data.mdb'), 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    };
    // While writes go on: most of the catching up (and the fsync of the whole copy) happens here,
    // so that finish() has only the tail left.
    const catchUp = async (): Promise<void> => {
      if (rec.overflow || this.recording !== rec) return;
      await replay();
    };
    const finish = async (): Promise<string | undefined> => {
      assert(this.openTxn === undefined, 'finish a live copy with a write txn open');
      try {
        await this.commit();
      } finally {
        abort();
      }
      if (rec.overflow) return undefined;
      await replay();
      return join(dir, 'data.mdb');
    };
    return { catchUp, finish, abort };
  }

  /**
   * Writes every record of one lmdb read snapshot into a new environment at `dir`, in key order
   * with lmdb's append mode, so its pages are full (lmdb's own compacting copy only drops free
   * pages: leaves half emptied by deletes stay half empty; etcd's defragment rewrites every key
   * the same way). REWRITE_RECORDS_PER_STEP records per event-loop turn; not fsynced (copyLive's
   * finish() syncs the file).
   */
  private async rewriteTo(dir: string): Promise<void> {
    this.be.env.resetReadTxn();
    const txn = this.be.env.useReadTransaction();
    const target = open<Buffer, Buffer>({
      path: dir,
      maxDbs: 8,
      keyEncoding: 'binary',
      encoding: 'binary',
      compression: false,
      cache: false,
      noSync: true,
      overlappingSync: false,
    });
    try {
      for (const name of ['key', 'meta', 'index', 'index-aux']) {
        const src = this.be.env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' });
        const dst = target.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' });
        let start: Buffer | undefined;
        for (;;) {
          const chunk: [Buffer, Buffer][] = [];
          for (const { key, value } of src.getRange({
            start,
            transaction: txn,
            limit: REWRITE_RECORDS_PER_STEP,
          })) {
            chunk.push([Buffer.from(key as Buffer), Buffer.from(value as Buffer)]);
          }
          if (chunk.length > 0) {
            target.transactionSync(() => {
              for (const [k, v] of chunk) dst.putSync(k, v, { append: true });
            });
          }
          if (chunk.length < REWRITE_RECORDS_PER_STEP) break;
          start = Buffer.concat([chunk[chunk.length - 1]![0], Buffer.from([0])]);
          await yieldTurn();
          this.checkUsable();
        }
      }
    } finally {
      txn.done();
      await target.close();
    }
  }

  /** Set while copyLive records lmdb batches. */
  private recording: LiveCopyRecording | undefined;

  /** Resolves once everything ended so far is in lmdb and fsynced, whatever the `sync` option. */
  async syncAll(): Promise<void> {
    await this.commit();
    await this.be.env.flushed;
  }

  /** Resolves when every ended write txn (and compaction mark) is in lmdb, and synced if `sync`. */
  async commit(): Promise<void> {
    this.checkUsable();
    this.flush();
    await this.lastBatch;
    if (this.fatal !== undefined) throw this.fatal;
    if (this.sync) await this.be.env.flushed;
  }

  /**
   * Like commit(), but waits for the batch timer (batchIntervalMs) instead of forcing a batch
   * now: the member's background commit, which must not turn every write into an lmdb batch.
   */
  async committedLazily(): Promise<void> {
    this.checkUsable();
    if (this.flushScheduled) await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
    await this.lastBatch;
    if (this.fatal !== undefined) throw this.fatal;
  }

  /**
   * Compacts at `rev`: afterwards reads below `rev` fail, and for each key only its latest
   * revision <= rev (unless a tombstone) and later ones remain. The compact revision changes at
   * once; the physical removal runs in steps on the event loop. Throws MvccError 'compacted' for
   * rev <= compact revision and 'future-rev' for rev > current revision. `done` resolves when the
   * removal is finished and durable.
   */
  compact(rev: number): { done: Promise<void> } {
    this.checkUsable();
    assert(this.openTxn === undefined, 'compact inside an open write txn');
    if (rev <= this.compactMainRev) throw errCompacted();
    if (rev > this.currentRev) throw errFutureRev();
    return { done: this.startCompaction(rev) };
  }

  private startCompaction(rev: number): Promise<void> {
    this.compactMainRev = rev;
    this.pendingMeta.push([META_SCHEDULED_COMPACT, u64(rev)]);
    this.flush();
    this.compactionsRunning++;
    const done = this.compactChain
      .then(() => this.runCompaction(rev))
      .finally(() => {
        this.compactionsRunning--;
      });
    const settled = done.catch((err: unknown) => {
      if (this.closed) this.log?.info({ rev }, 'mvcc: compaction interrupted by close');
      else this.log?.error({ err, rev }, 'mvcc: compaction failed');
    });
    this.compactChain = settled;
    return done;
  }

  /**
   * Walks the key index in key order, COMPACT_KEYS_PER_STEP keys per event-loop turn. Each trimmed
   * index entry and the deletion of the revisions it dropped go to lmdb in the same batch, so a
   * crash never leaves records the index no longer names (the resumed compaction could not find
   * them) nor an index naming deleted records.
   */
  private async runCompaction(rev: number): Promise<void> {
    const started = performance.now();
    const removed: number[] = [];
    let deleted = 0;
    let after: string | undefined;
    for (;;) {
      const chunk = this.index.keysAfter(after, COMPACT_KEYS_PER_STEP);
      for (const ki of chunk) {
        ki.compact(rev, removed);
        if (removed.length === 0) continue;
        this.index.adopt(ki);
        for (let j = 0; j < removed.length; j += 2) {
          const tagged = removed[j + 1]!;
          this.pendingDeletes.push(revKey(removed[j]!, tagged < 0 ? -tagged - 1 : tagged, tagged < 0));
        }
        deleted += removed.length / 2;
        removed.length = 0;
      }
      const more = chunk.length === COMPACT_KEYS_PER_STEP;
      if (more) after = chunk[chunk.length - 1]!.key;
      if (this.pendingDeletes.length >= COMPACT_DELETES_PER_BATCH || !more) {
        this.flush();
        await this.lastBatch;
        if (this.fatal !== undefined) throw this.fatal;
      } else {
        await yieldTurn();
      }
      if (this.closed) throw errClosed(); // resumed on the next open
      if (!more) break;
    }
    this.pendingMeta.push([META_FINISHED_COMPACT, u64(rev)]);
    this.flush();
    await this.lastBatch;
    if (this.fatal !== undefined) throw this.fatal;
    if (this.sync) await this.be.env.flushed;
    this.log?.info(
      { rev, deleted, ms: Math.round(performance.now() - started) },
      'mvcc: finished compaction',
    );
  }

  /** CRC-32C over every stored revision up to the current one; see hashKV for the rules. */
  async hash(): Promise<{ hash: number; revision: number }> {
    this.checkUsable();
    const r = await this.hashUpTo(0);
    return { hash: r.hash, revision: r.revision };
  }

  /**
   * CRC-32C over the bucket name, then each stored (revision key, KeyValue bytes) with main
   * revision <= rev (0 = current), in revision order, excluding what compaction removes. Waits
   * for running compactions to finish, so equal histories give equal hashes whatever each member's
   * physical compaction progress. Throws MvccError like etcd's HashByRev: 'compacted' for
   * 0 < rev <= compact revision, 'future-rev' for rev > current.
   */
  async hashKV(rev: number): Promise<HashKVResult> {
    this.checkUsable();
    return this.hashUpTo(rev);
  }

  private checkHashRev(rev: number): void {
    if (rev > 0 && rev <= this.compactMainRev) throw errCompacted();
    if (rev > 0 && rev > this.currentRev) throw errFutureRev();
  }

  private async hashUpTo(rev: number): Promise<HashKVResult> {
    this.checkHashRev(rev);
    const target = rev === 0 ? this.currentRev : rev;
    // Wait until lmdb alone holds every revision <= target and no compaction is half-done, then
    // take an lmdb read snapshot synchronously.
    for (;;) {
      await this.compactChain;
      this.flush();
      await this.lastBatch;
      this.checkUsable();
      if (this.compactionsRunning === 0 && !this.overlayHasAtOrBelow(target)) break;
    }
    this.checkHashRev(rev);
    const compactRevision = this.compactMainRev;
    this.be.env.resetReadTxn();
    const txn: Transaction = this.be.env.useReadTransaction();
    try {
      // etcd skips revisions at or below the compact revision unless they are still each key's
      // visible revision at `target` (its Keep(target)); anything compacted away is gone anyway.
      // Computed now, before the first yield, so it matches the snapshot.
      const keep = new Set<string>();
      let keepAny = false;
      if (compactRevision > 0) {
        // lmdb's index in this snapshot describes exactly its records (same batches).
        this.index.forEachIn(txn, (ki) => {
          const slot = ki.findAt(target);
          if (slot < 0) return;
          keepAny = true;
          const main = ki.revs[slot]!;
          if (main <= compactRevision) keep.add(`${main}:${ki.revs[slot + 1]}`);
        });
      }
      let h = crc32c(KEY_BUCKET_NAME, 0);
      const end = revKey(target + 1, 0, false);
      let start: Buffer | undefined;
      for (;;) {
        let n = 0;
        let last: Buffer | undefined;
        for (const { key, value } of this.be.kv.getRange({
          start,
          end,
          transaction: txn,
          limit: HASH_RECORDS_PER_STEP,
        })) {
          last = key;
          if (keepAny) {
            const main = keyMain(key);
            if (main <= compactRevision && !keep.has(`${main}:${keySub(key)}`)) {
              n++;
              continue;
            }
          }
          h = crc32c(key, h);
          h = crc32c(value, h);
          n++;
        }
        if (n < HASH_RECORDS_PER_STEP || last === undefined) break;
        start = Buffer.concat([last, Buffer.from([0])]);
        await yieldTurn();
        if (this.closed) throw errClosed();
      }
      return { hash: h >>> 0, compactRevision, revision: target };
    } finally {
      txn.done();
    }
  }

  private overlayHasAtOrBelow(rev: number): boolean {
    for (const main of this.overlay.keys()) return main <= rev; // ascending: the first is the least
    return false;
  }

  /**
   * Historical events with main revision in [fromRev, toRev] for keys in [key, end) (`end` as in
   * range), in revision order: for the watch hub to catch up a watcher. DELETE events carry only
   * key and mod revision, as etcd's; prevKv is never set. Throws MvccError 'compacted' if
   * fromRev < compact revision (as etcd's watch), 'future-rev' if toRev > current revision.
   * Cost is proportional to all revisions in the window, whatever the key filter.
   */
  rangeEvents(fromRev: number, toRev: number, key: Buffer, end: Buffer | undefined): Event[] {
    this.checkUsable();
    if (fromRev < this.compactMainRev) throw errCompacted();
    if (toRev > this.currentRev) throw errFutureRev();
    const kstr = key.toString('latin1');
    const endStr = end === undefined ? undefined : isOpenEnd(end) ? null : end.toString('latin1');
    const matches = (k: Buffer): boolean => {
      const s = k.toString('latin1');
      if (endStr === undefined) return s === kstr;
      return s >= kstr && (endStr === null || s < endStr);
    };
    const events: Event[] = [];
    const from = Math.max(fromRev, 1);
    // The overlay holds a contiguous tail of revisions; everything below its first is in lmdb.
    let overlayFirst = Number.POSITIVE_INFINITY;
    for (const main of this.overlay.keys()) {
      overlayFirst = main;
      break;
    }
    const lmdbTo = Math.min(toRev, overlayFirst - 1);
    if (from <= lmdbTo) {
      for (const { key: rk, value } of this.be.kv.getRange({
        start: revKey(from, 0, false),
        end: revKey(lmdbTo + 1, 0, false),
      })) {
        const kv = decodeKeyValue(value, true);
        if (!matches(kv.key)) continue;
        events.push(toEvent(kv, keyMain(rk)));
      }
    }
    for (const [main, kvs] of this.overlay) {
      if (main < from) continue;
      if (main > toRev) break;
      for (const kv of kvs) if (matches(kv.key)) events.push(toEvent(kv, main));
    }
    return events;
  }

  /** Size of the lmdb file in bytes (pages allocated so far). */
  dbSize(): number {
    // Asked on every write (the quota check); lmdb's stats call is not free, and the file only
    // grows when a batch commits, so the value is kept until the next batch has committed.
    if (this.dbSizeCached === undefined) {
      const s = this.be.env.getStats() as { pageSize: number; lastPageNumber: number };
      this.dbSizeCached = (s.lastPageNumber + 1) * s.pageSize;
    }
    return this.dbSizeCached;
  }

  /**
   * Bytes of the lmdb file in use: pages of the key and meta trees, lmdb's catalog and free-list
   * trees and its two meta pages. The rest of dbSize is free pages lmdb reuses before growing
   * the file (etcd's dbSizeInUse).
   */
  dbSizeInUse(): number {
    interface TreeStats {
      pageSize: number;
      treeBranchPageCount: number;
      treeLeafPageCount: number;
      overflowPages: number;
      root?: TreeStats;
      free?: TreeStats;
    }
    const pages = (t: TreeStats | undefined): number =>
      t === undefined ? 0 : t.treeBranchPageCount + t.treeLeafPageCount + t.overflowPages;
    const env = this.be.env.getStats() as TreeStats;
    const used =
      2 +
      pages(env.root) +
      pages(env.free) +
      pages(this.be.kv.getStats() as TreeStats) +
      pages(this.be.meta.getStats() as TreeStats);
    return Math.min(used * env.pageSize, this.dbSize());
  }

  /**
   * Flushes, waits for running compaction steps to stop, and closes lmdb. Later calls throw
   * MvccError 'closed'. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    assert(this.openTxn === undefined, 'close with an open write txn');
    this.flush();
    this.releaseFlushWaiters();
    await this.lastBatch;
    this.closed = true;
    for (const r of [...this.encodedRanges]) r.release();
    await this.compactChain;
    await this.lastBatch;
    await this.be.env.close();
    // Closed whole: the next open may take the quick file check (clean-close.ts).
    if (this.fatal === undefined) stampCleanClose(this.dir);
  }

  // ---- internals used by WriteTxnImpl ----

  private checkUsable(): void {
    if (this.closed) throw errClosed();
    if (this.fatal !== undefined) throw this.fatal;
  }

  /** Range at view revision `viewRev` (the store's or a txn's). */
  rangeAt(
    key: Buffer,
    end: Buffer | undefined,
    opts: RangeOptions | undefined,
    viewRev: number,
  ): RangeResult {
    let rev = opts?.rev ?? 0;
    if (rev > viewRev) throw errFutureRev();
    if (rev <= 0) rev = viewRev;
    if (rev < this.compactMainRev) throw errCompacted();
    const limit = opts?.limit !== undefined && opts.limit > 0 ? opts.limit : Number.POSITIVE_INFINITY;
    const countOnly = opts?.countOnly === true;
    const kstr = key.toString('latin1');
    if (end === undefined) {
      const ki = this.index.get(kstr);
      const slot = ki === undefined ? -1 : ki.findAt(rev);
      if (ki === undefined || slot < 0) return { kvs: [], count: 0, rev: viewRev };
      return { kvs: countOnly ? [] : [this.kvAt(ki, slot, key)], count: 1, rev: viewRev };
    }
    const endStr = isOpenEnd(end) ? undefined : end.toString('latin1');
    if (endStr !== undefined && endStr <= kstr) return { kvs: [], count: 0, rev: viewRev };
    const kvs: KeyValue[] = [];
    let count = 0;
    this.index.visit(kstr, endStr, (ki) => {
      const slot = ki.findAt(rev);
      if (slot >= 0) {
        count++;
        if (!countOnly && kvs.length < limit) kvs.push(this.kvAt(ki, slot));
      }
      return true;
    });
    return { kvs, count, rev: viewRev };
  }

  /**
   * Reads keys [key, end) at `rev` (0 = current) as encoded RangeResponse `kvs` fields handed out
   * piece by piece (encoded-range.ts): the whole range, for responses too large to build in
   * memory. `end` empty or [0] = every key >= key. Throws MvccError as range(). The caller must
   * release() the result; close() releases every open one. Not counted in `opCounters` (the
   * caller counts the range it answers).
   */
  encodedRange(key: Buffer, end: Buffer, rev = 0): EncodedRange {
    this.checkUsable();
    const viewRev = this.currentRev;
    if (rev > viewRev) throw errFutureRev();
    if (rev <= 0) rev = viewRev;
    if (rev < this.compactMainRev) throw errCompacted();
    const kstr = key.toString('latin1');
    const endStr = isOpenEnd(end) ? undefined : end.toString('latin1');
    // Everything not in the overlay is in lmdb as of a read transaction started now.
    this.be.env.resetReadTxn();
    const txn = this.be.env.useReadTransaction();
    let revs = new Float64Array(1024);
    let sizes = new Uint32Array(512);
    const early = new Map<number, Buffer>();
    let count = 0;
    try {
      if (endStr === undefined || endStr > kstr) {
        this.index.visit(kstr, endStr, (ki) => {
          const slot = ki.findAt(rev);
          if (slot < 0) return true;
          const main = ki.revs[slot]!;
          const sub = ki.revs[slot + 1]!;
          if (count === sizes.length) {
            const r2 = new Float64Array(revs.length * 2);
            r2.set(revs);
            revs = r2;
            const s2 = new Uint32Array(sizes.length * 2);
            s2.set(sizes);
            sizes = s2;
          }
          let size: number;
          const o = this.overlay.get(main);
          if (o !== undefined) {
            const kv = o[sub];
            assert(kv !== undefined, 'overlay lacks a sub revision the index names');
            const bytes = encodeKeyValueOf(kv);
            early.set(count, bytes);
            size = bytes.length;
          } else {
            writeRevKey(this.scratchKey, main, sub);
            const buf = getInTxn(this.be.kv, this.scratchKey, txn);
            assert(buf !== undefined, `key index names revision ${main}_${sub} missing from lmdb`);
            size = buf.length;
          }
          revs[count * 2] = main;
          revs[count * 2 + 1] = sub;
          sizes[count] = size;
          count++;
          return true;
        });
      }
    } catch (err) {
      txn.done();
      throw err;
    }
    const r = new EncodedRange({
      rev: viewRev,
      revs,
      sizes,
      count,
      early,
      db: this.be.kv,
      txn,
      onRelease: (x) => this.encodedRanges.delete(x),
    });
    this.encodedRanges.add(r);
    return r;
  }

  /** EncodedRanges not yet released (close() releases them). */
  private readonly encodedRanges = new Set<EncodedRange>();

  /**
   * The KeyValue stored at revision slot `slot` of `ki`. `knownKey` (the key's bytes, when the
   * caller has them) saves copying the key out of lmdb.
   */
  kvAt(ki: KeyIndex, slot: number, knownKey?: Buffer): KeyValue {
    const main = ki.revs[slot]!;
    const sub = ki.revs[slot + 1]!;
    const o = this.overlay.get(main);
    if (o !== undefined) {
      const kv = o[sub];
      assert(kv !== undefined, 'overlay lacks a sub revision the index names');
      return kv;
    }
    writeRevKey(this.scratchKey, main, sub);
    // getBinaryFast returns lmdb-js's scratch buffer: decode copies value (and key) out at once.
    const buf = this.be.kv.getBinaryFast(this.scratchKey);
    assert(buf !== undefined, `key index names revision ${main}_${sub} missing from lmdb`);
    return decodeKeyValue(buf, true, knownKey);
  }

  /** Keys visible at `rev` in [key, end), with their revision slots (for deleteRange). */
  liveIn(key: Buffer, end: Buffer | undefined, rev: number): { kis: KeyIndex[]; slots: number[] } {
    const kis: KeyIndex[] = [];
    const slots: number[] = [];
    const kstr = key.toString('latin1');
    if (end === undefined) {
      const ki = this.index.get(kstr);
      const slot = ki === undefined ? -1 : ki.findAt(rev);
      if (ki !== undefined && slot >= 0) {
        kis.push(ki);
        slots.push(slot);
      }
      return { kis, slots };
    }
    const endStr = isOpenEnd(end) ? undefined : end.toString('latin1');
    if (endStr !== undefined && endStr <= kstr) return { kis, slots };
    this.index.visit(kstr, endStr, (ki) => {
      const slot = ki.findAt(rev);
      if (slot >= 0) {
        kis.push(ki);
        slots.push(slot);
      }
      return true;
    });
    return { kis, slots };
  }

  /** A put inside `txn`; returns the stored KeyValue. */
  txnPut(txn: WriteTxnImpl, key: Buffer, value: Buffer, lease: bigint): void {
    assert(key.length > 0, 'empty key');
    const main = txn.beginRev + 1;
    const sub = txn.kvs.length;
    const ki = this.index.mutable(key.toString('latin1'));
    const created = ki.ver === 0 ? main : ki.createdMain;
    const ver = ki.ver + 1;
    txn.mainBig ??= BigInt(main);
    const { kv, bytes } = makeKeyValue(key, created, main, ver, value, lease, txn.mainBig);
    if (ki.ver === 0) this.liveKeys++;
    ki.put(main, sub);
    this.txnAppend(txn, main, revKey(main, sub, false), bytes, kv);
  }

  /** A delete of a live key inside `txn`. */
  txnDelete(txn: WriteTxnImpl, found: KeyIndex): void {
    const main = txn.beginRev + 1;
    const sub = txn.kvs.length;
    const ki = this.index.adopt(found);
    const key = Buffer.from(ki.key, 'latin1');
    ki.tombstone(main, sub);
    this.liveKeys--;
    // Stored as etcd stores it: KeyValue{key} only; the revision is in the lmdb key.
    const bytes = encodeKeyValue(key, 0, 0, 0, EMPTY, 0n);
    const kv: KeyValue = { key, createRevision: 0n, modRevision: 0n, version: 0n, value: EMPTY, lease: 0n };
    this.txnAppend(txn, main, revKey(main, sub, true), bytes, kv);
  }

  private txnAppend(txn: WriteTxnImpl, main: number, k: Buffer, v: Buffer, kv: KeyValue): void {
    if (txn.kvs.length === 0) this.overlay.set(main, txn.kvs);
    txn.kvs.push(kv);
    txn.recKeys.push(k);
    txn.recVals.push(v);
  }

  /** Ends `txn` (see WriteTxn.end). */
  txnEnd(txn: WriteTxnImpl): { rev: number; events: Event[] } {
    assert(this.openTxn === txn, 'ending a txn that is not the open one');
    this.openTxn = undefined;
    const events: Event[] = [];
    if (txn.kvs.length > 0) {
      const main = txn.beginRev + 1;
      this.currentRev = main;
      for (const kv of txn.kvs) events.push(toEvent(kv, main));
      for (let i = 0; i < txn.recKeys.length; i++) {
        this.pendingKeys.push(txn.recKeys[i]!);
        this.pendingVals.push(txn.recVals[i]!);
      }
    }
    if (txn.consistentIndex !== this.ci) {
      this.ci = txn.consistentIndex;
      this.ciDirty = true;
    }
    this.scheduleFlush();
    return { rev: this.currentRev, events };
  }

  private scheduleFlush(): void {
    if (this.pendingKeys.length >= FLUSH_RECORDS_MAX) {
      this.flush();
      return;
    }
    if (this.flushScheduled) return;
    if (this.pendingKeys.length === 0 && !this.ciDirty && !this.index.hasDirty()) return;
    this.flushScheduled = true;
    const run = (): void => {
      this.flushScheduled = false;
      if (!this.closed) this.flush();
      this.releaseFlushWaiters();
    };
    if (this.batchIntervalMs > 0) setTimeout(run, this.batchIntervalMs);
    else setImmediate(run);
  }

  private releaseFlushWaiters(): void {
    if (this.flushWaiters.length === 0) return;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  /** Hands every pending record and meta value to lmdb as one atomic batch. */
  private flush(): void {
    if (this.fatal !== undefined) return;
    if (
      this.pendingKeys.length === 0 &&
      !this.ciDirty &&
      this.pendingMeta.length === 0 &&
      this.pendingDeletes.length === 0 &&
      !this.index.hasDirty()
    ) {
      return;
    }
    const keys = this.pendingKeys;
    const vals = this.pendingVals;
    const meta = this.pendingMeta;
    const deletes = this.pendingDeletes;
    this.pendingKeys = [];
    this.pendingVals = [];
    this.pendingMeta = [];
    this.pendingDeletes = [];
    // The index entries of these records (and of the compaction deletes) ride in the same batch.
    const ix = this.index.takeDirty(this.liveKeys);
    this.ciDirty = false;
    const ciBytes = u64(this.ci);
    const upTo = this.currentRev;
    const kvDb = this.be.kv;
    const metaDb = this.be.meta;
    const started = this.onBatchCommitted ? performance.now() : 0;
    const rec = this.recording;
    if (rec !== undefined && !rec.overflow) {
      // The same writes in the same order as the batch below, for copyLive's replay.
      const ops = rec.ops;
      const from = ops.length;
      for (let i = 0; i < keys.length; i++) ops.push(['key', keys[i]!, vals[i]!]);
      for (const k of deletes) ops.push(['key', k, undefined]);
      for (const [db, k, v] of ix.writes) ops.push([this.index.dbName(db), k, v]);
      ops.push(['meta', META_CONSISTENT_INDEX, ciBytes]);
      for (const [k, v] of meta) ops.push(['meta', k, v]);
      for (let i = from; i < ops.length; i++) {
        const [, k, v] = ops[i]!;
        rec.bytes += k.length + (v?.length ?? 0);
      }
      if (rec.bytes > LIVE_COPY_RECORDED_BYTES_MAX) {
        rec.overflow = true;
        rec.ops = [];
      }
    }
    const p = this.batch(() => {
      for (let i = 0; i < keys.length; i++) kvDb.put(keys[i]!, vals[i]!);
      for (const k of deletes) kvDb.remove(k);
      for (const [db, k, v] of ix.writes) {
        if (v === undefined) db.remove(k);
        else db.put(k, v);
      }
      metaDb.put(META_CONSISTENT_INDEX, ciBytes);
      for (const [k, v] of meta) {
        if (v === undefined) metaDb.remove(k);
        else metaDb.put(k, v);
      }
    });
    this.lastBatch = p.then(
      () => {
        this.onBatchCommitted?.((performance.now() - started) / 1000);
        this.afterCommit(upTo, ix);
      },
      (err: unknown) => this.fail(err),
    );
  }

  /**
   * One lmdb batch; with test faults (opts.faults) it goes through their hooks, each batch after the
   * one before it so that delays never reorder batches (store-faults.ts).
   */
  private batch(fn: () => void): Promise<unknown> {
    const faults = this.faults;
    if (faults === undefined) return this.be.env.batch(fn);
    const p = (faults.unordered ? Promise.resolve() : this.faultChain)
      .then(() => faults.beforeBatch())
      .then(() => this.be.env.batch(fn))
      .then(() => faults.afterBatch());
    this.faultChain = p.catch(() => {});
    return p;
  }
  private faultChain: Promise<unknown> = Promise.resolve();

  private afterCommit(upTo: number, ix: IndexFlush): void {
    // lmdb now holds every revision <= upTo: renew the read snapshot, then drop the overlay and
    // the index entries lmdb now has.
    this.be.env.resetReadTxn();
    this.index.committed(ix);
    this.dbSizeCached = undefined;
    for (const main of this.overlay.keys()) {
      if (main > upTo) break;
      this.overlay.delete(main);
    }
  }

  private fail(err: unknown): void {
    this.fatal = err instanceof Error ? err : new Error(String(err));
    this.log?.error({ err: this.fatal }, 'mvcc: lmdb write failed; store is unusable');
  }
}

/** What copyLive records: lmdb writes by database name (value undefined = remove), in order. */
interface LiveCopyRecording {
  ops: [string, Buffer, Buffer | undefined][];
  bytes: number;
  overflow: boolean;
}

function toEvent(kv: KeyValue, main: number): Event {
  if (kv.version === 0n) {
    // a tombstone: etcd's DELETE event carries the key and the delete's revision
    return {
      type: Event_EventType.DELETE,
      kv: {
        key: kv.key,
        createRevision: 0n,
        modRevision: BigInt(main),
        version: 0n,
        value: EMPTY,
        lease: 0n,
      },
      prevKv: undefined,
    };
  }
  return { type: Event_EventType.PUT, kv, prevKv: undefined };
}

class WriteTxnImpl implements WriteTxn {
  readonly beginRev: number;
  readonly consistentIndex: number;
  /** KeyValues written, by sub revision (also the overlay entry for beginRev + 1). */
  readonly kvs: KeyValue[] = [];
  readonly recKeys: Buffer[] = [];
  readonly recVals: Buffer[] = [];
  /** BigInt(beginRev + 1), made once per txn for the KeyValues' mod revision. */
  mainBig: bigint | undefined;
  private readonly store: MvccStore;
  private ended = false;

  constructor(store: MvccStore, beginRev: number, consistentIndex: number) {
    this.store = store;
    this.beginRev = beginRev;
    this.consistentIndex = consistentIndex;
  }

  get rev(): number {
    return this.kvs.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  range(key: Buffer, end: Buffer | undefined, opts?: RangeOptions): RangeResult {
    assert(!this.ended, 'txn already ended');
    this.ranges++;
    return this.store.rangeAt(key, end, opts, this.rev);
  }

  put(key: Buffer, value: Buffer, lease: bigint): void {
    assert(!this.ended, 'txn already ended');
    this.puts++;
    this.putBytes += key.length + value.length;
    this.store.txnPut(this, key, value, lease);
  }

  deleteRange(
    key: Buffer,
    end: Buffer | undefined,
    wantPrevKvs = true,
  ): { deleted: number; prevKvs: KeyValue[] } {
    assert(!this.ended, 'txn already ended');
    this.deletes++;
    const { kis, slots } = this.store.liveIn(key, end, this.rev);
    const prevKvs: KeyValue[] = [];
    if (wantPrevKvs) for (let i = 0; i < kis.length; i++) prevKvs.push(this.store.kvAt(kis[i]!, slots[i]!));
    for (const ki of kis) this.store.txnDelete(this, ki);
    return { deleted: kis.length, prevKvs };
  }

  end(): { rev: number; events: Event[] } {
    assert(!this.ended, 'txn already ended');
    this.ended = true;
    const ops = this.store.ops;
    if (ops) {
      ops.ranges += this.ranges;
      ops.puts += this.puts;
      ops.deletes += this.deletes;
      ops.putBytes += this.putBytes;
      if (this.ranges + this.puts + this.deletes > 1) ops.txns++;
    }
    return this.store.txnEnd(this);
  }

  // etcd's per-txn operation counts (MvccStoreOptions.opCounters)
  private ranges = 0;
  private puts = 0;
  private deletes = 0;
  private putBytes = 0;
}
