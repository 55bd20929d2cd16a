/**
 * Rebuilding the key index on open: one ordered pass over every stored revision.
 *
 * This is the cost of every restart (millions of records), so the scan avoids per-record
 * allocations: it reads lmdb through a dedicated handle whose key and value decoders parse the
 * revision key and the KeyValue head (key, create revision, version) straight out of lmdb's
 * shared buffers into reused state, instead of copying each key and value into fresh Buffers.
 * The only allocation per record is the key string (and a KeyIndex per new key).
 */
import type { RootDatabase } from 'lmdb';
import { assert } from '../pkg/index.js';
import { KeyIndex, TreeIndex } from './key-index.js';
import { REV_BYTES, REV_BYTES_TOMBSTONE, readU64 } from './revision.js';

/** Per-record state the decoders fill in (reused: valid only during one iteration step). */
interface ScanState {
  main: number;
  sub: number;
  tombstone: boolean;
  key: string;
  createRevision: number;
  version: number;
}

const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

function makeScanHandle(env: RootDatabase<Buffer, Buffer>, st: ScanState) {
  let p = 0;
  let bytes: Uint8Array;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = bytes[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    assert(false, 'varint too long for a revision or length');
  };
  const keyEncoder = {
    writeKey: (key: Uint8Array, target: Uint8Array, start: number): number => {
      target.set(key, start);
      return start + key.length;
    },
    readKey: (target: Uint8Array, start: number, end: number): ScanState => {
      const n = end - start;
      assert(n === REV_BYTES || n === REV_BYTES_TOMBSTONE, 'stored revision key has a bad length');
      st.main = readU64(target, start);
      st.sub = readU64(target, start + 9);
      st.tombstone = n === REV_BYTES_TOMBSTONE;
      return st;
    },
  };
  const decoder = {
    // Fields arrive in number order: key (1), create (2), mod (3), version (4), then value and
    // lease, which the index does not need: stop there.
    decode: (b: Uint8Array, size: number): ScanState => {
      bytes = b;
      p = 0;
      st.key = '';
      st.createRevision = 0;
      st.version = 0;
      while (p < size) {
        const tag = bytes[p++]!;
        if (tag === 0x0a) {
          const n = varint();
          st.key = latin1Slice.call(bytes, p, p + n);
          p += n;
        } else if (tag === 0x10) st.createRevision = varint();
        else if (tag === 0x18) varint();
        else if (tag === 0x20) st.version = varint();
        else break;
      }
      return st;
    },
  };
  return env.openDB<ScanState>({ name: 'key', keyEncoder, encoder: decoder } as never);
}

/** The rebuilt index, the highest main revision stored (0 if none) and the record count. */
export interface RestoreResult {
  index: TreeIndex;
  maxMain: number;
  records: number;
}

/** Scans every stored revision in order and rebuilds the key index (etcd's restore). */
export function rebuildIndex(env: RootDatabase<Buffer, Buffer>): RestoreResult {
  const st: ScanState = { main: 0, sub: 0, tombstone: false, key: '', createRevision: 0, version: 0 };
  const db = makeScanHandle(env, st);
  const byKey = new Map<string, KeyIndex>();
  let maxMain = 0;
  let records = 0;
  // An explicit start: with a custom key encoder lmdb-js needs one to position the cursor.
  for (const _ of db.getRange({ start: Buffer.alloc(1) })) {
    // `_` is `st` (key and value decoders both fill it); read the fields now.
    assert(st.main >= maxMain, 'lmdb returned revisions out of order');
    let ki = byKey.get(st.key);
    if (ki === undefined) {
      ki = new KeyIndex(st.key);
      byKey.set(st.key, ki);
    }
    if (st.tombstone) ki.restoreTombstone(st.main, st.sub);
    else ki.restorePut(st.main, st.sub, st.createRevision, st.version);
    maxMain = st.main;
    records++;
  }
  return { index: TreeIndex.fromMap(byKey), maxMain, records };
}
