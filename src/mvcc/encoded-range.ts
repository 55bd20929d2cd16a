/**
 * A range read answered as encoded bytes, produced piece by piece: for responses too large to build
 * in memory (etcd materialises every KeyValue of a range, and a range over millions of keys costs
 * it gigabytes and hits gRPC's 2 GiB message cap).
 *
 * Two passes over one consistent view. At creation (synchronously) the key index is walked once:
 * the revision visible at the read revision of every key in the range is noted (two numbers and a
 * size per key, about 20 bytes, not the KeyValue), its stored record's size is read, and an lmdb
 * read transaction is pinned. Then `next()` hands out the records as `kvs` fields of a
 * RangeResponse (tag 2, length, the stored mvccpb.KeyValue bytes, which are exactly the encoding a
 * decoded-and-re-encoded KeyValue would have, see kv-codec.ts), about `chunkBytes` at a time, read
 * from the pinned transaction: writes and compactions after creation cannot change what is sent.
 * Records not yet committed to lmdb (the store's overlay) are encoded at creation.
 *
 * The caller must call `release()` (it ends the read transaction); closing the store releases every
 * open EncodedRange, after which `next()` throws MvccError 'closed'.
 */
import type { Database, Transaction } from 'lmdb';
import { assert } from '../pkg/index.js';
import { errClosed } from './errors.js';
import { writeRevKey } from './revision.js';

/** Field tag of RangeResponse.kvs (field 2, length-delimited). */
const TAG_KVS = 0x12;
/** Default size of the pieces `next()` returns. */
export const ENCODED_RANGE_CHUNK_BYTES = 1 << 20;

/**
 * lmdb-js's getBinaryFast in a given read transaction (its typings omit the options argument).
 * The returned buffer is lmdb-js's scratch space: copy it out before the next get.
 */
export function getInTxn(db: Database<Buffer, Buffer>, key: Buffer, txn: Transaction): Buffer | undefined {
  return (db.getBinaryFast as (k: Buffer, o: { transaction: Transaction }) => Buffer | undefined).call(
    db,
    key,
    {
      transaction: txn,
    },
  );
}

function varintBytes(n: number): number {
  let b = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    b++;
  }
  return b;
}

/** See the file comment. Built by MvccStore.encodedRange. */
export class EncodedRange {
  /** Number of keys in the range at the read revision (all of them are sent). */
  readonly count: number;
  /** The store's revision when the read happened (RangeResponse.header.revision). */
  readonly rev: number;
  /** Bytes of all `kvs` fields together (tags and lengths included). */
  readonly kvsBytes: number;
  private readonly revs: Float64Array;
  private readonly sizes: Uint32Array;
  private readonly early: Map<number, Buffer>;
  private readonly db: Database<Buffer, Buffer>;
  private txn: Transaction | undefined;
  private readonly onRelease: (r: EncodedRange) => void;
  private readonly scratch = Buffer.alloc(17);
  private cursor = 0;

  /** @internal Used by MvccStore.encodedRange only. */
  constructor(p: {
    rev: number;
    revs: Float64Array;
    sizes: Uint32Array;
    count: number;
    early: Map<number, Buffer>;
    db: Database<Buffer, Buffer>;
    txn: Transaction;
    onRelease: (r: EncodedRange) => void;
  }) {
    this.rev = p.rev;
    this.revs = p.revs;
    this.sizes = p.sizes;
    this.count = p.count;
    this.early = p.early;
    this.db = p.db;
    this.txn = p.txn;
    this.onRelease = p.onRelease;
    let total = 0;
    for (let i = 0; i < p.count; i++) total += 1 + varintBytes(p.sizes[i]!) + p.sizes[i]!;
    this.kvsBytes = total;
  }

  /**
   * The next piece of the `kvs` fields (at least one record, about `chunkBytes`), or undefined once
   * every record was returned. Throws MvccError 'closed' after the store closed.
   */
  next(chunkBytes = ENCODED_RANGE_CHUNK_BYTES): Buffer | undefined {
    if (this.cursor >= this.count) return undefined;
    const txn = this.txn;
    if (txn === undefined) throw errClosed();
    let bytes = 0;
    let end = this.cursor;
    while (end < this.count && (end === this.cursor || bytes < chunkBytes)) {
      const n = this.sizes[end]!;
      bytes += 1 + varintBytes(n) + n;
      end++;
    }
    const out = Buffer.allocUnsafe(bytes);
    let off = 0;
    for (let i = this.cursor; i < end; i++) {
      const n = this.sizes[i]!;
      out[off++] = TAG_KVS;
      let v = n;
      while (v >= 0x80) {
        out[off++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      out[off++] = v;
      let rec: Uint8Array | undefined = this.early.get(i);
      if (rec === undefined) {
        writeRevKey(this.scratch, this.revs[i * 2]!, this.revs[i * 2 + 1]!);
        rec = getInTxn(this.db, this.scratch, txn);
        assert(rec !== undefined, 'a record of a pinned range read is missing');
      }
      assert(rec.length === n, 'a record of a pinned range read changed size');
      // lmdb-js's scratch buffer reports the record's length but is larger: copy a view of n bytes.
      out.set(rec.subarray(0, n), off);
      off += n;
    }
    assert(off === bytes, 'encoded range size mismatch');
    this.cursor = end;
    return out;
  }

  /** Ends the read transaction; idempotent. */
  release(): void {
    const txn = this.txn;
    if (txn === undefined) return;
    this.txn = undefined;
    txn.done();
    this.onRelease(this);
  }
}
