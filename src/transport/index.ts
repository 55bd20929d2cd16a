/**
 * The public surface of transport/: peer links carrying Raft messages and snapshots between
 * members (etcd's rafthttp), the peer port's server, fault hooks and the bounds. See README.md.
 */
export { TRANSPORT_ERROR_TEXTS, TransportError, type TransportErrorCode } from './errors.js';
export { FaultHooks, type LinkEnd, type LinkFaults } from './faults.js';
export * as limits from './limits.js';
export {
  type PeerAddress,
  type PeerHandler,
  type PeerRequest,
  type PeerResponse,
  PeerServer,
  replyError,
} from './peer-server.js';
export { Transport } from './transport.js';
export {
  idFromHex,
  idToHex,
  type PeerStats,
  type PeerTls,
  RAFT_PREFIX,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
  type RaftTransport,
  type SnapshotData,
  type TransportLogger,
  type TransportOptions,
} from './types.js';
