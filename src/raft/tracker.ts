/**
 * The leader's view of each member: per-follower replication progress with its flow-control state,
 * the membership (voters and learners), and the votes of the current election.
 *
 * Progress state machine (etcd's tracker, thesis §4.2.1 and §5.3):
 *
 *            rejection / unreachable                   snapshot needed
 *   +-------+ <------------------- +-----------+      +----------+
 *   | probe |                      | replicate |      | snapshot |
 *   +-------+ -------------------> +-----------+      +----------+
 *     ^  |       append accepted                           |
 *     |  +------------------ snapshot needed ------------->|
 *     +-------- snapshot reported (ok or failed) ----------+
 *
 * - probe: at most one MsgApp per heartbeat interval until the follower's match is found.
 * - replicate: optimistic pipelining, bounded by `Inflights` (count and bytes).
 * - snapshot: nothing is sent until the caller reports the snapshot's fate.
 */
import { assert } from '../pkg/assert.js';
import { committedIndex, type VoteResult, voteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/**
 * A sliding window of in-flight MsgApp messages (by last index), bounded by a count and a byte
 * total. The leader stops sending to a follower in replicate state while the window is full.
 */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(
    /** Max messages in flight (>= 1). */
    readonly maxCount: number,
    /** Max payload bytes in flight; 0 means unbounded. */
    readonly maxBytes: number,
  ) {
    assert(maxCount >= 1, 'Inflights: maxCount must be >= 1');
  }

  /** Records a message whose last entry is `index` (increasing) with `bytes` of payload. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'Inflights.add on a full window');
    const last = this.indexes[this.indexes.length - 1];
    assert(last === undefined || index > last, 'Inflights.add: indexes must increase');
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (acknowledged). */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.indexes.length && this.indexes[n]! <= to) {
      this.bytes -= this.sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.indexes.splice(0, n);
      this.sizes.splice(0, n);
    }
  }

  /** Frees the oldest message (used when a heartbeat proves the follower alive). */
  freeFirstOne(): void {
    if (this.indexes.length > 0) this.freeLE(this.indexes[0]!);
  }

  full(): boolean {
    return this.indexes.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  count(): number {
    return this.indexes.length;
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}

/** Replication state of one follower; see the file comment. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's replication progress for one member. */
export class Progress {
  /** Highest index known to be replicated on the member. */
  match = 0;
  /** Index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Whether we heard from the member during the current CheckQuorum interval. */
  recentActive = false;
  /** In probe state: a probe is outstanding, wait for a response or a heartbeat. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflight: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** The member acknowledged up to n. Returns whether match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * The member rejected a MsgApp at index `rejected`, hinting its log matches at most up to
   * `matchHint`. Returns false when the rejection is stale (ignored).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Records that a MsgApp with `entries` entries ending at `lastIndex` was sent. */
  sentEntries(entries: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      if (entries > 0) this.msgAppFlowPaused = true;
    } else {
      assert(false, `sending entries in state ${this.state}`);
    }
  }

  /** Whether sending MsgApp to this member is on hold. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}

/** Membership plus per-member progress and the votes of the current election. */
export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  /** The membership as a ConfState (sorted, so equal configs compare equal). */
  confState(): ConfState {
    const sort = (s: Set<NodeId>) => [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { voters: sort(this.voters), learners: sort(this.learners) };
  }

  /** Adds (or converts) a member with fresh progress starting at `next`. */
  setMember(id: NodeId, learner: boolean, next: number): void {
    if (learner) {
      this.voters.delete(id);
      this.learners.add(id);
    } else {
      this.learners.delete(id);
      this.voters.add(id);
    }
    const pr = this.progress.get(id);
    if (pr) pr.isLearner = learner;
    else this.progress.set(id, new Progress(next, this.maxInflight, this.maxInflightBytes, learner));
  }

  removeMember(id: NodeId): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
  }

  /** Replaces the whole membership (restart or snapshot restore). */
  reset(cs: ConfState, next: number): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    this.votes.clear();
    for (const id of cs.voters) this.setMember(id, false, next);
    for (const id of cs.learners) this.setMember(id, true, next);
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  /** The highest index replicated on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote; the first one from each member counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }

  /** The result of an arbitrary yes/no poll among the voters (e.g. ReadIndex heartbeat acks). */
  tallyVotesOf(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    return voteResult(this.voters, votes);
  }

  /** Whether a majority of voters (counting `self`) was recently active. */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      votes.set(id, id === self || pr.recentActive);
    }
    return voteResult(this.voters, votes) === 'won';
  }
}
