/**
 * The recorded history of a Jepsen-style run: every client operation with its invocation and
 * completion time (the runner's monotonic clock, ms), its outcome and what the server answered;
 * the events each watcher received; the lease operations; the faults injected; and the ground truth
 * read from the cluster at the end. Checkers take a History and nothing else, so they can be fed
 * hand-built histories in unit tests.
 */

import type { ListTxn } from './checkers/elle.js';
import type { LeaderObservation, RemovedMemberRecord } from './checkers/membership.js';

/**
 * ok: the server answered. fail: definitely not applied (a read that failed, or a write refused
 * before it was proposed). unknown: may or may not have been applied (timeout, connection lost,
 * leader change...); checkers treat it as taking effect at any time after its invocation, or never.
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** The single-key KV operations of the workload. */
export type KvOpType = 'put' | 'get' | 'delete' | 'cas';

/** A key's observed state: absent, or a value with its revisions. */
export interface KeyState {
  value: string;
  modRevision: number;
  createRevision: number;
  version: number;
}

export interface KvOp {
  id: number;
  client: number;
  /** Index of the member the client talks to. */
  member: number;
  /** Incremented each time that member restarts: serializable reads may restart from an older state. */
  memberIncarnation: number;
  type: KvOpType;
  key: string;
  /** put / cas: the (unique) value written. */
  value?: string;
  /** cas: the value compared against (the swap happens iff the key holds exactly this). */
  expect?: string;
  /** get: serializable (served from the member's local state) instead of linearizable. */
  serializable?: boolean;
  invoke: number;
  /** Completion time; undefined for unknown outcomes (the op may take effect at any later time). */
  complete?: number;
  outcome: Outcome;
  /** ok: the response header's revision. */
  revision?: number;
  /** ok get: what was read (null = key absent). */
  read?: KeyState | null;
  /** ok cas: whether the compare succeeded. */
  succeeded?: boolean;
  /** ok delete: how many keys were deleted (0 or 1). */
  deleted?: number;
  error?: string;
}

/** One event delivered on a watch stream. */
export interface WatchEventRecord {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRevision: number;
  /** When the watcher received it (runner clock, ms). */
  at: number;
}

/** One watcher: the revision it asked to start from first, and every event it received in order. */
export interface WatcherRecord {
  id: number;
  startRevision: number;
  events: WatchEventRecord[];
  /** Times it reconnected (possibly to another member), resuming from last revision + 1. */
  reconnects: number;
  /** Compaction or cancellation: the stream could not resume; events after it are not expected. */
  aborted?: string;
  /** Set when, after healing, the watcher never got to the end of the history (a stuck stream). */
  lagging?: string;
}

/** A lease op: grant or one keep-alive; ok means the server answered with ttl > 0. */
export interface LeaseOp {
  lease: string;
  type: 'grant' | 'keepalive';
  invoke: number;
  complete?: number;
  outcome: Outcome;
  /** The TTL the server granted/renewed (seconds). */
  ttl?: number;
}

/** A key attached to a lease: written (value = the lease id in hex) with a put carrying the lease. */
export interface LeaseKey {
  lease: string;
  key: string;
  /** Revision of the put that attached it; undefined when the put's outcome is unknown. */
  putRevision?: number;
}

/** One injected fault. */
export interface FaultRecord {
  kind: string;
  detail: string;
  start: number;
  end?: number;
  /**
   * Members that exited on their own (not killed by the nemesis) during this fault's round, with
   * their last log line; faults injected together share `start` and the list (checkers/exits.ts).
   */
  exits?: string[];
}

/** The final state of the cluster, read after healing every fault. */
export interface GroundTruth {
  /** The revision every member had applied when it was read. */
  revision: number;
  /** Every event (a watch from revision 1 on the workload's prefix), in revision order. */
  events: { type: 'put' | 'delete'; key: string; value: string; modRevision: number }[];
  /** The final state of every key (a linearizable range of the prefix). */
  final: Map<string, KeyState>;
  /**
   * Per member: a digest of its event stream and its hashKV at `revision` (replicas must agree); for
   * a member that never reached `revision` (healed and serving, yet behind), the revision it stayed
   * at and the end of its log instead.
   */
  replicas: { member: number; eventsDigest: string; hashKv: string; stuckAt?: number; log?: string }[];
}

export interface History {
  seed: number;
  ops: KvOp[];
  watchers: WatcherRecord[];
  leaseOps: LeaseOp[];
  leaseKeys: LeaseKey[];
  faults: FaultRecord[];
  truth: GroundTruth;
  /** Wall length of the workload, ms. */
  durationMs: number;
  /** The multi-key list-append transactions (checked by checkers/elle.ts); absent in old histories. */
  listTxns?: ListTxn[];
  /** Revisions compacted to during the workload, in order (absent or empty: none). */
  compactions?: number[];
  /** Every member's Status (term, leader) polled during the run (checkers/membership.ts). */
  leaderObservations?: LeaderObservation[];
  /** Membership changes the nemesis made (type, member id), in order. */
  membershipChanges?: { type: string; id: string; name: string; at: number }[];
  /** Removed members restarted on their old data, and what they did. */
  removedMembers?: RemovedMemberRecord[];
}

/** A checker's finding. `kind` names the property; `detail` says what broke with the ops involved. */
export interface Violation {
  checker: string;
  kind: string;
  detail: string;
}

export interface CheckResult {
  checker: string;
  violations: Violation[];
  /** Anything the checker could not decide (e.g. search budget exceeded) — never counted as a pass. */
  undecided: string[];
  /** Counts of what was checked, so a run that checked nothing is visible. */
  checked: number;
}

export const describeOp = (o: KvOp): string =>
  `#${o.id} c${o.client}@m${o.member} ${o.type}(${o.key}${o.value !== undefined ? `, ${o.value}` : ''}${
    o.expect !== undefined ? `, expect ${o.expect}` : ''
  }${o.serializable ? ', serializable' : ''}) ${o.outcome}${o.revision !== undefined ? ` rev ${o.revision}` : ''}${
    o.read !== undefined
      ? ` read ${o.read === null ? 'absent' : `${o.read.value}@${o.read.modRevision}`}`
      : ''
  }${o.succeeded !== undefined ? ` succeeded=${o.succeeded}` : ''}${o.deleted !== undefined ? ` deleted=${o.deleted}` : ''} [${o.invoke.toFixed(
    1,
  )}, ${o.complete === undefined ? '∞' : o.complete.toFixed(1)}]`;
