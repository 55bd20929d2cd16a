/**
 * Building a store from another database's records (an etcd bbolt snapshot's `key` bucket): the
 * records are stored byte for byte, because etcd's revision keys and mvccpb.KeyValue values are
 * exactly this store's encoding (README "On-disk layout"). Every record is checked first — a
 * revision key, a KeyValue this store's decoders read back identically, revisions that agree with
 * the key — so a damaged source is refused here with the record named, instead of tripping an
 * assertion (or worse) when the store is opened.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { encodeKeyValue } from './kv-codec.js';
import { REV_BYTES, REV_BYTES_TOMBSTONE, readU64 } from './revision.js';
import { openStoreEnv } from './store.js';

/** Records written per lmdb transaction while importing. */
export const IMPORT_RECORDS_PER_TXN = 10_000;

/** What an import writes. */
export interface StoreImport {
  /** The `key` records (revision key -> KeyValue bytes) in ascending key order. */
  records: Iterable<{ key: Buffer; value: Buffer }>;
  /** Raft index of the last entry the records reflect. */
  consistentIndex: number;
  /** Revision of the last compaction started (undefined: never compacted). */
  scheduledCompactRev?: number;
  /** Revision of the last compaction finished. */
  finishedCompactRev?: number;
}

/** An import refused: the source holds a record this store cannot take. */
export class StoreImportError extends Error {
  override name = 'StoreImportError';
}

/**
 * Writes `src` into a new store at `dir` (which must not hold one yet). Returns the number of
 * records and the highest main revision. Open the result with MvccStore.open.
 */
export function importStore(dir: string, src: StoreImport): { records: number; maxRev: number } {
  if (existsSync(join(dir, 'db', 'data.mdb'))) throw new StoreImportError(`${dir} already holds a store`);
  const env = openStoreEnv(dir);
  try {
    const kv = env.openDB<Buffer, Buffer>({ name: 'key', keyEncoding: 'binary', encoding: 'binary' });
    const meta = env.openDB<Buffer, Buffer>({ name: 'meta', keyEncoding: 'binary', encoding: 'binary' });
    let records = 0;
    let maxRev = 0;
    let last: Buffer | undefined;
    let batch: { key: Buffer; value: Buffer }[] = [];
    const flush = () => {
      const b = batch;
      batch = [];
      env.transactionSync(() => {
        for (const r of b) kv.putSync(r.key, r.value);
      });
    };
    for (const r of src.records) {
      checkRecord(r.key, r.value, records);
      if (last !== undefined && Buffer.compare(last, r.key) >= 0) {
        throw new StoreImportError(`record ${records}: revision keys out of order`);
      }
      last = r.key;
      maxRev = readU64(r.key, 0);
      batch.push(r);
      records++;
      if (batch.length >= IMPORT_RECORDS_PER_TXN) flush();
    }
    flush();
    const u64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(n));
      return b;
    };
    env.transactionSync(() => {
      meta.putSync(Buffer.from('consistent_index'), u64(src.consistentIndex));
      if (src.scheduledCompactRev !== undefined)
        meta.putSync(Buffer.from('scheduledCompactRev'), u64(src.scheduledCompactRev));
      if (src.finishedCompactRev !== undefined)
        meta.putSync(Buffer.from('finishedCompactRev'), u64(src.finishedCompactRev));
    });
    return { records, maxRev };
  } finally {
    env.close();
  }
}

/** Checks one record: a revision key, and a canonical KeyValue whose mod revision is the key's. */
function checkRecord(k: Buffer, v: Buffer, n: number): void {
  const fail = (what: string): never => {
    throw new StoreImportError(`record ${n}: ${what}`);
  };
  const tombstone = k.length === REV_BYTES_TOMBSTONE && k[REV_BYTES] === 0x74;
  if (!(k.length === REV_BYTES || tombstone) || k[8] !== 0x5f) fail('key is not a revision');
  const main = k.readBigUInt64BE(0);
  if (main > BigInt(Number.MAX_SAFE_INTEGER) || k.readBigUInt64BE(9) > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail('revision out of range');
  }
  const kv = parseKeyValue(v, fail);
  if (kv.key.length === 0) fail(`revision ${main}: KeyValue without a key`);
  if (tombstone) {
    if (kv.createRevision + kv.modRevision + kv.version !== 0 || kv.value.length > 0 || kv.lease !== 0n) {
      fail(`revision ${main}: a tombstone holds more than its key`);
    }
    return;
  }
  if (kv.modRevision !== Number(main)) fail(`revision ${main}: KeyValue has mod revision ${kv.modRevision}`);
  if (!(kv.createRevision >= 1 && kv.createRevision <= kv.modRevision))
    fail(`revision ${main}: create revision ${kv.createRevision}`);
  if (kv.version < 1) fail(`revision ${main}: version ${kv.version}`);
  // Our readers (the index rebuild's fast scanner included) assume the canonical encoding.
  const again = encodeKeyValue(kv.key, kv.createRevision, kv.modRevision, kv.version, kv.value, kv.lease);
  if (!again.equals(v)) fail(`revision ${main}: KeyValue is not canonically encoded`);
}

interface ParsedKeyValue {
  key: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Buffer;
  lease: bigint;
}

/** A bounds-checked mvccpb.KeyValue parser for untrusted bytes. */
function parseKeyValue(b: Buffer, fail: (what: string) => never): ParsedKeyValue {
  const kv: ParsedKeyValue = {
    key: b.subarray(0, 0),
    createRevision: 0,
    modRevision: 0,
    version: 0,
    value: b.subarray(0, 0),
    lease: 0n,
  };
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (i >= b.length) fail('truncated KeyValue');
      const x = b[i++]!;
      v |= BigInt(x & 0x7f) << shift;
      if ((x & 0x80) === 0) return v;
    }
    return fail('KeyValue varint too long');
  };
  const safe = (v: bigint): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('KeyValue number out of range');
    return Number(v);
  };
  const bytes = (): Buffer => {
    const n = safe(varint());
    if (i + n > b.length) fail('KeyValue field overruns the record');
    const out = b.subarray(i, i + n);
    i += n;
    return out;
  };
  while (i < b.length) {
    const tag = safe(varint());
    switch (tag) {
      case 0x0a:
        kv.key = bytes();
        break;
      case 0x10:
        kv.createRevision = safe(varint());
        break;
      case 0x18:
        kv.modRevision = safe(varint());
        break;
      case 0x20:
        kv.version = safe(varint());
        break;
      case 0x2a:
        kv.value = bytes();
        break;
      case 0x30:
        kv.lease = BigInt.asIntN(64, varint());
        break;
      default:
        fail(`KeyValue has unknown field tag ${tag}`);
    }
  }
  return kv;
}
