/**
 * wal/: the durable home of the Raft log and hard state (etcd's member/wal) and the snapshot store
 * (etcd's member/snap). Other layers import only from here. See README.md for the contract.
 */
export { WalError, type WalErrorCode } from './errors.js';
export { failpoint, setFailpoint } from './failpoint.js';
export { nodeWalFs, type WalFile, type WalFs } from './fs.js';
export { type SimFaults, SimFs } from './fs-faulty.js';
export { WrappingWalFs } from './fs-wrapping.js';
export { memberSnapDir, memberWalDir } from './paths.js';
export { RaftLogStorage } from './raft-log-storage.js';
export { RECORD_BYTES_MAX, type WalMetadata } from './record.js';
export {
  MAX_SNAPSHOTS_DEFAULT,
  type SnapshotSaveTimes,
  Snapshotter,
  type SnapshotterOptions,
} from './snapshotter.js';
export {
  MAX_WALS_DEFAULT,
  SEGMENT_BYTES_DEFAULT,
  SLOW_FSYNC_SECONDS_DEFAULT,
  Wal,
  type WalLogger,
  type WalOptions,
  type WalRepair,
  type WalReplay,
} from './wal.js';
