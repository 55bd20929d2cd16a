/**
 * The public surface of raft/: everything other layers may use. Internals (Raft, RaftLog,
 * ProgressTracker, ...) stay behind this file.
 */
export { decodeConfChange, decodeMessage, encodeConfChange, encodeMessage } from './codec.js';
export type { Config } from './config.js';
export { RaftError, type RaftErrorCode } from './errors.js';
export { emptySnapshot, isEmptySnapshot, MemoryStorage } from './memory-storage.js';
export {
  type ConfChange,
  ConfChangeType,
  isLocalMessage,
  isResponseMessage,
  type Message,
  MessageType,
  newMessage,
  type ReadState,
  type Ready,
  type SoftState,
  StateRole,
} from './message.js';
export { RawNode, type Status } from './raw-node.js';
export { type Storage, StorageError, type StorageErrorCode } from './storage.js';
export type { ProgressState } from './tracker.js';
export {
  type ConfState,
  type Entry,
  EntryType,
  emptyHardState,
  type HardState,
  isEmptyHardState,
  NONE,
  type NodeId,
  type Snapshot,
  type SnapshotMetadata,
} from './types.js';
