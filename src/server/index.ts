/**
 * The server layer's public surface: what src/api (and src/cli, and tests from outside) may use.
 * Everything else in src/server is internal; scripts/check-layers.mjs keeps src/api to this file.
 */
export { isTxnReadOnly } from './apply.js';
export type { AuthenticateResult, AuthInfo } from './auth/index.js';
export { ConcurrencyError, concurrencyOf, prefixEnd } from './concurrency/index.js';
export {
  CLUSTER_VERSION,
  DEFAULT_QUOTA_BYTES,
  type MemberConfig,
  minLeaseTtlSeconds,
  type PeerFetch,
  type ResolvedConfig,
  requestTimeoutMs,
  SERVER_VERSION,
} from './config.js';
export { type DataDirLayout, dataDirLayout } from './data-dir.js';
export { EtcdDirError, importEtcdBackend, importEtcdDataDir } from './etcd-dir/index.js';
export { etcdSnapshotPaths, writeEtcdSnapshot } from './etcd-snapshot.js';
export type { Logger, LogLevel } from './logger.js';
export { KV_OVERHEAD_BYTES, type MemberStatus, quotaCost } from './maintenance.js';
export { Member } from './member.js';
export { isMemberRemoved } from './member-removed.js';
export { registerWatchMetrics } from './metrics.js';
export { MAX_GAP_BETWEEN_APPLY_AND_COMMIT } from './proposer.js';
export { RANGE_STREAM_KEYS_MIN, StreamedRangeResponse } from './range-stream.js';
export { databaseSnapshot } from './snapshot-stream.js';
export { WatchHub, type WatchHubOptions } from './watch/index.js';
