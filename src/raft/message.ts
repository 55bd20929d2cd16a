/**
 * Messages exchanged between Raft members (and local messages the core sends itself), conf-change
 * requests, and the outputs of a `Ready` batch. Numbering follows etcd's raftpb so transcripts and
 * logs read the same way as etcd's.
 */
import type { Entry, HardState, NodeId, Snapshot } from './types.js';

/** Message kinds; numbered as etcd's raftpb.MessageType. */
export enum MessageType {
  /** Local: start an election (or a pre-election when PreVote is on). */
  Hup = 0,
  /** Local: the leader's heartbeat timer fired. */
  Beat = 1,
  /** A proposal: local, or forwarded by a follower to the leader. */
  Prop = 2,
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  Snap = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  /** Local: the caller reports that a peer could not be reached. */
  Unreachable = 10,
  /** Local: the caller reports the outcome of sending a snapshot. */
  SnapStatus = 11,
  /** Local: the leader checks it still hears from a quorum. */
  CheckQuorum = 12,
  /** Ask the leader to hand leadership to `from`. */
  TransferLeader = 13,
  /** The leader tells a caught-up follower to campaign at once. */
  TimeoutNow = 14,
  ReadIndex = 15,
  ReadIndexResp = 16,
  PreVote = 17,
  PreVoteResp = 18,
}

/** Message types that never leave the node that created them. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}

/** Responses: a node never needs to persist anything before handling one of these. */
export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.Unreachable ||
    t === MessageType.ReadIndexResp ||
    t === MessageType.PreVoteResp
  );
}

/**
 * One Raft message. Fields unused by a type are zero / empty. The meaning of `index`, `logTerm`
 * and `rejectHint` depends on the type (as in etcd):
 * - App: `index`/`logTerm` identify the entry preceding `entries`; `commit` is the leader's commit.
 * - AppResp: `index` is the last index the follower now matches, or on `reject` the rejected
 *   `index`, with `rejectHint`/`logTerm` the follower's hint (largest index with term <= logTerm).
 * - Vote/PreVote: `index`/`logTerm` are the candidate's last entry.
 * - ReadIndex/ReadIndexResp: the request context travels in `entries[0].data`; `index` is the
 *   read index in the response.
 * - Heartbeat/HeartbeatResp: `context` carries a ReadIndex request context being confirmed.
 */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** A message with every field zero except those given. */
export function newMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    to: 0n,
    from: 0n,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: EMPTY,
    ...fields,
  };
}

/** Numbered as etcd's raftpb.ConfChangeType. */
export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  UpdateNode = 2,
  AddLearnerNode = 3,
}

/**
 * A single-member configuration change (Raft thesis §4.1: one server at a time). AddNode on an
 * existing learner promotes it to voter. `context` is opaque to the core (etcd puts the member's
 * URLs there).
 */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
}

/** The role of a member. */
export enum StateRole {
  Follower = 'follower',
  Candidate = 'candidate',
  Leader = 'leader',
  PreCandidate = 'pre-candidate',
}

/** Volatile state, useful for logging and routing; never needs persisting. */
export interface SoftState {
  lead: NodeId;
  role: StateRole;
}

/**
 * The answer to a `readIndex(requestCtx)` call: once the local state machine has applied up to
 * `index`, a read issued at the time of the call can be served locally and is linearizable.
 */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * A batch of work for the driver. Handle it in this order, then call `advance()`:
 * 1. if `snapshot` is set, persist it (and install it in the state machine before applying
 *    `committedEntries`);
 * 2. persist `entries` and `hardState` (one fsync when `mustSync`);
 * 3. send `messages` — only after step 2 is durable, unless `sendBeforePersist` says the leader may
 *    send them while its own write is in flight (Raft thesis §10.2.1);
 * 4. apply `committedEntries` in order (calling `applyConfChange` for conf-change entries);
 * 5. answer `readStates` once applied >= their index.
 */
export interface Ready {
  /** Set only when it changed since the previous Ready. */
  softState: SoftState | null;
  /** Set only when it changed since the previous Ready. */
  hardState: HardState | null;
  readStates: ReadState[];
  /** Entries to append to stable storage (they may overwrite a suffix already there). */
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  /** Whether `hardState`/`entries` must be synced to disk (fsync) in step 2. */
  mustSync: boolean;
  /**
   * True when `messages` may go out before step 2 is durable, overlapping the leader's fsync with
   * the followers'. Set only for a leader whose messages reveal no commit index beyond the entries
   * already durable (so nothing becomes visible as committed that a crash could still lose) and
   * with no snapshot in the Ready. Persisting still precedes applying `committedEntries`.
   */
  sendBeforePersist: boolean;
}
