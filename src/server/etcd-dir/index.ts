/**
 * server/etcd-dir: etcd 3.4's data dir read by tsetcd — its WAL, raft snapshots and bbolt backend —
 * and made into a tsetcd member dir (README.md). The rest of the server imports only from here.
 */
export { type BackendImportResult, type ImportCluster, importEtcdBackend } from './backend-import.js';
export { EtcdDirError } from './errors.js';
export {
  dataDirKind,
  type EtcdDirImportOptions,
  type EtcdDirImportResult,
  importEtcdDataDir,
} from './import-data-dir.js';
