/**
 * mvcc: the revisioned key-value store under etcd's KV API (see README.md). Other layers import
 * only from here.
 */

export { CLEAN_CLOSE_FILE } from './clean-close.js';
export { ENCODED_RANGE_CHUNK_BYTES, EncodedRange } from './encoded-range.js';
export { MvccError, type MvccErrorCode } from './errors.js';
export { openStoreCopy, type StoreCopy } from './export.js';
export { IMPORT_RECORDS_PER_TXN, importStore, type StoreImport, StoreImportError } from './import.js';
export {
  type HashKVResult,
  type MvccLogger,
  type MvccOpCounters,
  MvccStore,
  type MvccStoreOptions,
  type RangeOptions,
  type RangeResult,
  type WriteTxn,
} from './store.js';
export type { StoreFaults } from './store-faults.js';
export { type StoreFileCheck, StoreFileError, validateStoreFile } from './store-file.js';
