/**
 * RawNode: the driver-facing API of the Raft core (as etcd's raft.RawNode). Feed it time
 * (`tick`), peer messages (`step`) and requests (`propose`, `readIndex`, ...); take work out with
 * `ready()`, handle it in the order documented on `Ready`, then call `advance()`.
 *
 * Contract: after `ready()`, call `advance()` before the next `ready()` (asserted). Input methods
 * may be called between the two; their effects appear in the next Ready.
 */
import { assert } from '../pkg/assert.js';
import { encodeConfChange } from './codec.js';
import { type Config, resolveConfig } from './config.js';
import { RaftError } from './errors.js';
import { RaftLog } from './log.js';
import {
  type ConfChange,
  ConfChangeType,
  isLocalMessage,
  type Message,
  MessageType,
  newMessage,
  type Ready,
  type SoftState,
  StateRole,
} from './message.js';
import { Raft } from './raft.js';
import type { ProgressState } from './tracker.js';
import { type ConfState, type Entry, EntryType, type HardState, NONE, type NodeId } from './types.js';

/** A snapshot of a member's state for diagnostics and tests. */
export interface Status {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  lastIndex: number;
  leadTransferee: NodeId;
  confState: ConfState;
  /** Only on the leader: each member's replication progress. */
  progress: Map<NodeId, { match: number; next: number; state: ProgressState }>;
}

interface Accepted {
  lastEntry: { index: number; term: number } | null;
  snapshotIndex: number;
  hardState: HardState | null;
  appliedIndex: number;
  appliedBytes: number;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** The driver-facing Raft member; see the file comment. */
const NO_MESSAGES: readonly Message[] = Object.freeze([]);

export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private accepted: Accepted | null = null;

  /** Starts (or restarts) a member from `config.storage`. Throws AssertionError on a bad config. */
  constructor(config: Config) {
    this.raft = new Raft(resolveConfig(config));
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  /**
   * Seeds a brand-new cluster: appends one committed AddNode entry per peer at term 1 and applies
   * them, as etcd's RawNode.Bootstrap. The next Ready carries them for persisting and applying
   * (applying AddNode for an existing voter is a no-op). Throws RaftError 'not-empty-storage'
   * when the storage already holds a log.
   */
  bootstrap(peers: NodeId[]): void {
    assert(peers.length > 0, 'bootstrap needs at least one peer');
    const st = this.raft.log.storage;
    if (st.lastIndex() !== 0 || this.raft.log.lastIndex() !== 0) throw new RaftError('not-empty-storage');
    this.raft.becomeFollower(1, NONE);
    const ents: Entry[] = peers.map((id, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: id, context: new Uint8Array(0) }),
    }));
    this.raft.bootstrapEntries(ents, peers);
  }

  /** Advances logical time by one tick (the driver's interval, e.g. 100 ms). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (no-op on a leader or a non-voter). */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.Hup }));
  }

  /**
   * Proposes `data` for the log. On a follower it is forwarded to the leader. Throws RaftError
   * 'proposal-dropped' when there is no known leader, a transfer is in progress or the
   * uncommitted bound is reached. Acceptance does not mean commitment: watch committed entries.
   */
  propose(data: Uint8Array): void {
    this.raft.step(
      newMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [this.entry(EntryType.Normal, data)],
      }),
    );
  }

  /**
   * Proposes several entries in one message (batching). Same errors as `propose`; all or none
   * are accepted.
   */
  proposeBatch(datas: Uint8Array[]): void {
    if (datas.length === 0) return;
    this.raft.step(
      newMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: datas.map((d) => this.entry(EntryType.Normal, d)),
      }),
    );
  }

  /**
   * Proposes a membership change. While another change is not yet applied, the leader turns this
   * one into an empty entry (it never takes effect; the caller retries). Errors as `propose`.
   */
  proposeConfChange(cc: ConfChange): void {
    this.raft.step(
      newMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [this.entry(EntryType.ConfChange, encodeConfChange(cc))],
      }),
    );
  }

  private entry(type: EntryType, data: Uint8Array): Entry {
    return { term: 0, index: 0, type, data };
  }

  /**
   * Handles a message from a peer. Local message types throw RaftError 'step-local-msg'.
   * Proposals and read requests forwarded by peers that this member cannot take are dropped
   * silently (the peer's caller times out and retries, as with etcd).
   */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new RaftError('step-local-msg');
    try {
      this.raft.step(m);
    } catch (e) {
      if (e instanceof RaftError && e.code === 'proposal-dropped') return;
      throw e;
    }
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState with the same
   * `requestCtx` (which must be unique among the cluster's outstanding requests: the leader
   * merges requests with equal contexts; etcd uses 8-byte request ids) in a later Ready; it may never
   * arrive (leader change, lost messages): time out and retry. Throws RaftError
   * 'proposal-dropped' when no leader is known.
   */
  readIndex(requestCtx: Uint8Array): void {
    this.raft.step(
      newMessage({ type: MessageType.ReadIndex, entries: [this.entry(EntryType.Normal, requestCtx)] }),
    );
  }

  /** Asks the leader to hand leadership to `to` (forwarded when called on a follower). */
  transferLeadership(to: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.TransferLeader, from: to }));
  }

  /**
   * Applies a committed conf change (call it when applying its entry, in log order) and returns
   * the resulting membership, to be stored with the next snapshot.
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Reports that a message to `id` could not be delivered: its progress goes back to probing. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.Unreachable, from: id }));
  }

  /** Reports whether the snapshot sent to `id` was delivered (`ok`) or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.state };
  }

  /**
   * Takes the proposals and read requests this member has queued for forwarding to the leader, so
   * the driver can send them at once rather than with the next Ready: they depend on nothing being
   * persisted here, and waiting for the Ready loop would delay them by this member's fsync.
   */
  takeForwarded(): readonly Message[] {
    const msgs = this.raft.msgs;
    let out: Message[] | undefined;
    let kept = 0;
    for (const m of msgs) {
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) msgs[kept++] = m;
      else if (out === undefined) out = [m];
      else out.push(m);
    }
    msgs.length = kept;
    return out ?? NO_MESSAGES;
  }

  /** Whether `ready()` would return anything. */
  hasReady(): boolean {
    const r = this.raft;
    // Hot path of every driver loop: compare fields without allocating.
    if (r.lead !== this.prevSoft.lead || r.state !== this.prevSoft.role) return true;
    const h = this.prevHard;
    if (r.term !== h.term || r.vote !== h.vote || r.log.committed !== h.commit) return true;
    if (r.log.hasPendingSnapshot()) return true;
    if (r.log.unstable.entries.length > 0) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    return r.log.hasNextCommittedEnts();
  }

  /** Takes the pending work; see `Ready` for the order to handle it in. */
  ready(): Ready {
    assert(this.accepted === null, 'ready() called again before advance()');
    const r = this.raft;
    const soft = this.softState();
    const hard = r.hardState();
    const softChanged = soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role;
    const hardChanged = !hardStateEqual(hard, this.prevHard);
    const entries = r.log.unstableEntries();
    const snapshot = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEnts();
    // The leader counts itself as holding an entry from the moment it appends it; that is sound
    // while no one learns of a commit covering entries this member has not yet made durable. Only
    // a lone voter (or a joint config where this member alone decides) can commit its own fresh
    // entries without a follower's ack, so compare the commit index with the durable log.
    const durableLast = entries.length > 0 ? entries[0]!.index - 1 : r.log.lastIndex();
    const sendBeforePersist = r.state === StateRole.Leader && snapshot === null && hard.commit <= durableLast;
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      mustSync: entries.length > 0 || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
      sendBeforePersist,
    };
    r.readStates = [];
    r.msgs = [];
    if (softChanged) this.prevSoft = soft;
    const last = entries[entries.length - 1];
    const lastApplied = committedEntries[committedEntries.length - 1];
    this.accepted = {
      lastEntry: last ? { index: last.index, term: last.term } : null,
      snapshotIndex: snapshot ? snapshot.metadata.index : 0,
      hardState: hardChanged ? hard : null,
      appliedIndex: lastApplied ? lastApplied.index : 0,
      appliedBytes: RaftLog.payloadSize(committedEntries),
    };
    return rd;
  }

  /** Tells the core the last Ready was handled: persisted, sent and applied. */
  advance(): void {
    const a = this.accepted;
    assert(a !== null, 'advance() without a ready()');
    this.accepted = null;
    const log = this.raft.log;
    if (a.hardState) this.prevHard = a.hardState;
    if (a.snapshotIndex > 0) {
      log.stableSnapTo(a.snapshotIndex);
      if (a.snapshotIndex > log.applied) log.appliedTo(a.snapshotIndex);
    }
    if (a.lastEntry) log.stableTo(a.lastEntry.index, a.lastEntry.term);
    if (a.appliedIndex > 0) {
      log.appliedTo(a.appliedIndex);
      this.raft.reduceUncommittedSize(a.appliedBytes);
    }
  }

  /** The member's current state, for diagnostics and tests. */
  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, { match: number; next: number; state: ProgressState }>();
    if (r.state === StateRole.Leader) {
      for (const [id, pr] of r.prs.progress)
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: this.softState(),
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      leadTransferee: r.leadTransferee,
      confState: r.prs.confState(),
      progress,
    };
  }

  /** Entries in [lo, hi) of this member's log (stable and unstable), for tests and diagnostics. */
  logSlice(lo: number, hi: number): Entry[] | null {
    return this.raft.log.slice(lo, hi, Number.MAX_SAFE_INTEGER);
  }

  /** The term of entry i, or undefined when compacted or absent (tests and diagnostics). */
  logTerm(i: number): number | undefined {
    return this.raft.log.term(i);
  }

  /**
   * The highest index known committed, as the core knows it now (it may run ahead of the last
   * Ready's hard state while the driver is busy, e.g. while entries wait to be applied).
   */
  get committed(): number {
    return this.raft.log.committed;
  }

  /** The first index still in this member's log. */
  firstIndex(): number {
    return this.raft.log.firstIndex();
  }
}
