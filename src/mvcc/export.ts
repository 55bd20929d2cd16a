/**
 * Reading a store copy (`MvccStore.backupTo`) record by record, to write it in another format (an
 * etcd bbolt snapshot): the `key` records as stored (etcd's own encoding), the consistent index,
 * compaction marks and auxiliary records. The copy is opened read-only after validateStoreFile.
 */
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { readU64 } from './revision.js';
import { AUX_PREFIX } from './store.js';
import { validateStoreFile } from './store-file.js';

/** A read-only view of a store copy; close() when done. */
export interface StoreCopy {
  /**
   * Every `key` record (revision key, KeyValue bytes) in ascending order. With the `binary`
   * encodings lmdb-js returns each key and value as a fresh Buffer, so callers may keep them.
   */
  records(): Iterable<{ key: Buffer; value: Buffer }>;
  consistentIndex: number;
  scheduledCompactRev: number | undefined;
  finishedCompactRev: number | undefined;
  /** Auxiliary records under `prefix` (keys without AUX_PREFIX), as MvccStore.auxRecords. */
  auxRecords(prefix: Buffer): { key: Buffer; value: Buffer }[];
  close(): Promise<void>;
}

/** Opens the store copy `<dir>/data.mdb`. Throws StoreFileError for a file lmdb must not map. */
export function openStoreCopy(dir: string): StoreCopy {
  validateStoreFile(join(dir, 'data.mdb'));
  const env: RootDatabase<Buffer, Buffer> = open<Buffer, Buffer>({
    path: dir,
    readOnly: true,
    maxDbs: 4,
    keyEncoding: 'binary',
    encoding: 'binary',
  });
  const kv = env.openDB<Buffer, Buffer>({ name: 'key', keyEncoding: 'binary', encoding: 'binary' });
  const meta = env.openDB<Buffer, Buffer>({ name: 'meta', keyEncoding: 'binary', encoding: 'binary' });
  const u64 = (name: string) => {
    const v = meta.getBinary(Buffer.from(name));
    return v === undefined ? undefined : readU64(v, 0);
  };
  return {
    *records() {
      for (const { key, value } of kv.getRange({}))
        yield { key: Buffer.from(key as Buffer), value: Buffer.from(value as Buffer) };
    },
    consistentIndex: u64('consistent_index') ?? 0,
    scheduledCompactRev: u64('scheduledCompactRev'),
    finishedCompactRev: u64('finishedCompactRev'),
    auxRecords(prefix) {
      const start = Buffer.concat([AUX_PREFIX, prefix]);
      const out: { key: Buffer; value: Buffer }[] = [];
      for (const { key, value } of meta.getRange({ start })) {
        const k = key as Buffer;
        if (k.length < start.length || !k.subarray(0, start.length).equals(start)) break;
        out.push({ key: Buffer.from(k.subarray(AUX_PREFIX.length)), value: Buffer.from(value as Buffer) });
      }
      return out;
    },
    close: () => env.close(),
  };
}
