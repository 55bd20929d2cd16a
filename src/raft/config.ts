/**
 * Configuration of one Raft member. Defaults follow etcd's server (electionTick 10, heartbeatTick 1,
 * 1 MiB per message, 256 inflight messages).
 */
import { assert } from '../pkg/assert.js';
import type { Rng } from '../pkg/rng.js';
import type { Storage } from './storage.js';
import { NONE, type NodeId } from './types.js';

/** Settings of a RawNode; only `id`, `storage` and `rng` are required. */
export interface Config {
  /** This member's id; never NONE. */
  id: NodeId;
  /** The log this member restarts from and reads stable entries from. */
  storage: Storage;
  /**
   * Source of election-timeout jitter. Seeded in tests and simulation; production seeds it from a
   * real random source. Required: raft/ has no randomness of its own.
   */
  rng: Rng;
  /**
   * Ticks a follower waits without hearing from a leader before campaigning; the actual timeout is
   * drawn in [electionTick, 2*electionTick). Must exceed heartbeatTick. Default 10. Larger values
   * mean fewer spurious elections and slower failover.
   */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  heartbeatTick?: number;
  /**
   * The last applied index when restarting. Committed entries after it are handed out again.
   * Leave it at the snapshot index (the default, 0 = "from the start of the log") unless the
   * storage's ConfState reflects every conf change up to `applied`. Default 0.
   */
  applied?: number;
  /** Max payload bytes in one MsgApp (at least one entry is always sent). Default 1 MiB. */
  maxSizePerMsg?: number;
  /**
   * Max payload bytes of committed entries in one Ready (at least one entry is always handed
   * out). Default: maxSizePerMsg, as etcd. Bounds the memory of a restart that replays a long log.
   */
  maxCommittedSizePerReady?: number;
  /**
   * Max MsgApp messages in flight to one follower in replicate state (>= 1). Default 256. Bounds
   * the memory a slow follower costs the leader.
   */
  maxInflightMsgs?: number;
  /** Max payload bytes in flight to one follower; 0 = unbounded. Default 0. */
  maxInflightBytes?: number;
  /**
   * Max payload bytes of uncommitted entries a leader accepts before dropping proposals; 0 =
   * unbounded. Default 0. Protects the leader's memory when a quorum is unreachable.
   */
  maxUncommittedEntriesSize?: number;
  /**
   * A leader steps down when it has not heard from a quorum within an election timeout, and
   * followers ignore vote requests while they have a live leader (the lease). Default false.
   */
  checkQuorum?: boolean;
  /**
   * Run a pre-election (thesis §9.6) so a member that cannot win does not bump terms and disrupt
   * the cluster. Default false.
   */
  preVote?: boolean;
  /** Drop proposals on followers instead of forwarding them to the leader. Default false. */
  disableProposalForwarding?: boolean;
  /** Max ReadIndex requests a new leader queues until it commits an entry of its term. Default 1024. */
  maxPendingReadIndex?: number;
}

/** A Config with every optional field filled in. */
export type ResolvedConfig = Required<Config>;

/** Fills defaults and validates; throws AssertionError on an invalid config. */
export function resolveConfig(c: Config): ResolvedConfig {
  const r: ResolvedConfig = {
    electionTick: 10,
    heartbeatTick: 1,
    applied: 0,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    maxInflightBytes: 0,
    maxUncommittedEntriesSize: 0,
    checkQuorum: false,
    preVote: false,
    disableProposalForwarding: false,
    maxPendingReadIndex: 1024,
    maxCommittedSizePerReady: c.maxSizePerMsg ?? 1024 * 1024,
    ...c,
  };
  assert(r.id !== NONE, 'config: id must not be NONE');
  assert(r.heartbeatTick > 0, 'config: heartbeatTick must be > 0');
  assert(r.electionTick > r.heartbeatTick, 'config: electionTick must exceed heartbeatTick');
  assert(r.maxInflightMsgs > 0, 'config: maxInflightMsgs must be > 0');
  assert(r.maxSizePerMsg > 0, 'config: maxSizePerMsg must be > 0');
  return r;
}
