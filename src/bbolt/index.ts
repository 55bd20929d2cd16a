/**
 * bbolt: our own reader (and writer) of bbolt database files, the format of etcd's backend and of
 * its snapshots (see README.md). Other layers import only from here.
 */
export { BboltError } from './errors.js';
export {
  type EtcdAuth,
  type EtcdBackendSource,
  type EtcdLease,
  type EtcdMember,
  type EtcdMeta,
  type EtcdSnapshotStatus,
  etcdAuth,
  etcdLeases,
  etcdMeta,
  etcdSnapshotStatus,
  writeEtcdBackend,
} from './etcd-backend.js';
export { MAGIC as BBOLT_MAGIC } from './layout.js';
export { type BboltBucket, type BboltEntry, type BboltOpenOptions, BboltReader } from './reader.js';
export {
  type BboltWriteBucket,
  type BboltWriteEntry,
  type BboltWriteResult,
  PAGE_SIZE_DEFAULT,
  writeBbolt,
} from './writer.js';
