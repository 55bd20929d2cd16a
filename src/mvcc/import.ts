/**
 * Building a store from another database's records (an etcd bbolt snapshot's `key` bucket): the
 * records are stored byte for byte, because etcd's revision keys and mvccpb.KeyValue values are
 * exactly this store's encoding (README "On-disk layout"). Every record is checked first — a
 * revision key, a KeyValue this store's decoders read back identically, revisions that agree with
 * the key — so a damaged source is refused here with the record named, instead of tripping an
 * assertion (or worse) when the store is opened.
 */
import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { REV_BYTES, REV_BYTES_TOMBSTONE, readU64 } from './revision.js';
import { AUX_PREFIX, openStoreEnv } from './store.js';

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
  /** Auxiliary records (keys without AUX_PREFIX), as MvccStore.setAux would write them. */
  aux?: { key: Buffer; value: Buffer }[];
}

/** An import refused: the source holds a record this store cannot take. */
export class StoreImportError extends Error {
  override name = 'StoreImportError';
}

/**
 * Writes `src` into a new store at `dir` (which must not hold one yet). Returns the number of
 * records and the highest main revision. Open the result with MvccStore.open.
 */
export async function importStore(
  dir: string,
  src: StoreImport,
): Promise<{ records: number; maxRev: number }> {
  if (existsSync(join(dir, 'db', 'data.mdb'))) throw new StoreImportError(`${dir} already holds a store`);
  // One fsync of the whole file at the end instead of one per IMPORT_RECORDS_PER_TXN records: a
  // half-imported store is worthless anyway (the caller builds it in a temporary place).
  const env = openStoreEnv(dir, undefined, { noSync: true });
  let ok = false;
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
      for (const a of src.aux ?? []) meta.putSync(Buffer.concat([AUX_PREFIX, a.key]), a.value);
    });
    ok = true;
    return { records, maxRev };
  } finally {
    await env.close();
    if (ok) {
      const fd = openSync(join(dir, 'db', 'data.mdb'), 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
}

/** Checks one record: a revision key, and a canonical KeyValue whose mod revision is the key's. */
function checkRecord(k: Buffer, v: Buffer, n: number): void {
  const fail = (what: string): never => {
    throw new StoreImportError(`record ${n}: ${what}`);
  };
  const tombstone = k.length === REV_BYTES_TOMBSTONE && k[REV_BYTES] === 0x74;
  if (!(k.length === REV_BYTES || tombstone) || k[8] !== 0x5f) fail('key is not a revision');
  if (k.readUInt32BE(0) > 0x1fffff || k.readUInt32BE(9) > 0x1fffff) fail('revision out of range');
  const main = readU64(k, 0);
  const kv = parseKeyValue(v, fail);
  if (kv.keyBytes === 0) fail(`revision ${main}: KeyValue without a key`);
  if (tombstone) {
    if (kv.createRevision + kv.modRevision + kv.version !== 0 || kv.valueBytes > 0 || kv.hasLease) {
      fail(`revision ${main}: a tombstone holds more than its key`);
    }
    return;
  }
  if (kv.modRevision !== main) fail(`revision ${main}: KeyValue has mod revision ${kv.modRevision}`);
  if (!(kv.createRevision >= 1 && kv.createRevision <= kv.modRevision))
    fail(`revision ${main}: create revision ${kv.createRevision}`);
  if (kv.version < 1) fail(`revision ${main}: version ${kv.version}`);
}

/** What the checks need of a KeyValue (reused: valid until the next parse). */
interface ParsedKeyValue {
  keyBytes: number;
  createRevision: number;
  modRevision: number;
  version: number;
  valueBytes: number;
  hasLease: boolean;
}

const parsed: ParsedKeyValue = {
  keyBytes: 0,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  valueBytes: 0,
  hasLease: false,
};

/**
 * A bounds-checked mvccpb.KeyValue parser for untrusted bytes that also insists on the canonical
 * encoding our own readers assume (the index rebuild's fast scanner included): fields in ascending
 * order, each at most once, none at its zero value, varints minimal, no unknown fields — exactly what
 * etcd's (gogoproto) and our encoders write.
 */
function parseKeyValue(b: Buffer, fail: (what: string) => never): ParsedKeyValue {
  const kv = parsed;
  kv.keyBytes = kv.createRevision = kv.modRevision = kv.version = kv.valueBytes = 0;
  kv.hasLease = false;
  let i = 0;
  let lastTag = 0;
  // A minimal varint of at most `maxBytes` bytes; numbers stay exact below 2^53 (7 bytes hold 2^49).
  const varint = (maxBytes: number): number => {
    let v = 0;
    let mul = 1;
    for (let n = 0; n < maxBytes; n++) {
      if (i >= b.length) fail('truncated KeyValue');
      const x = b[i++]!;
      v += (x & 0x7f) * mul;
      if ((x & 0x80) === 0) {
        if (x === 0 && n > 0) fail('KeyValue varint not minimal');
        return v;
      }
      mul *= 128;
    }
    return fail('KeyValue varint too long');
  };
  const bytes = (): number => {
    const len = varint(5);
    if (len === 0) fail('KeyValue has an empty bytes field');
    if (i + len > b.length) fail('KeyValue field overruns the record');
    i += len;
    return len;
  };
  const positive = (): number => {
    const v = varint(7);
    if (v === 0) fail('KeyValue has a zero number field');
    return v;
  };
  while (i < b.length) {
    const tag = b[i++]!;
    if (tag <= lastTag) fail(`KeyValue field tag ${tag} out of order`);
    lastTag = tag;
    switch (tag) {
      case 0x0a:
        kv.keyBytes = bytes();
        break;
      case 0x10:
        kv.createRevision = positive();
        break;
      case 0x18:
        kv.modRevision = positive();
        break;
      case 0x20:
        kv.version = positive();
        break;
      case 0x2a:
        kv.valueBytes = bytes();
        break;
      case 0x30:
        // An int64 lease id: up to 10 bytes (negative ids); only its presence matters here.
        if (varint(10) === 0) fail('KeyValue has a zero number field');
        kv.hasLease = true;
        break;
      default:
        fail(`KeyValue has unknown field tag ${tag}`);
    }
  }
  return kv;
}
