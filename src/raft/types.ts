/**
 * The data types the Raft core exchanges with its caller and with durable storage. Shared with
 * `wal/` (which persists them) and `transport/` (which carries messages); owned by `raft/`.
 *
 * Units and encodings:
 * - `term` and `index` are plain numbers: Raft log positions stay far below 2^53 in any real
 *   deployment; code that builds them asserts `Number.isSafeInteger`.
 * - Node ids are 64-bit member ids and therefore `bigint`. `NONE` (0n) means "no node".
 */

/** A 64-bit member id; 0n is reserved for "none". */
export type NodeId = bigint;

/** No node: an empty vote, an unknown leader. */
export const NONE: NodeId = 0n;

/** Numbered as etcd's raftpb.EntryType so logs are comparable. */
export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

/** One log entry. `data` is opaque to the core (an encoded request or conf change). */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** The state that must be durable before any message depending on it is sent. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`, or NONE. */
  vote: NodeId;
  commit: number;
}

/** The membership a snapshot captures. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers. */
  index: number;
  /** The term of the entry at `index`. */
  term: number;
  confState: ConfState;
}

/** A point-in-time image of the applied state machine; `data` is opaque to the core. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: NONE, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}
