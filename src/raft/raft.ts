/**
 * The Raft state machine of one member: elections (with PreVote and CheckQuorum), replication
 * with per-follower flow control, commitment, ReadIndex, leadership transfer, snapshots and
 * single-member configuration changes. Pure and synchronous: inputs are ticks and messages,
 * outputs accumulate in `msgs` and `readStates` for `RawNode` to hand to the driver.
 *
 * Roles (Raft §5.2, thesis §9.6 for the pre-candidate):
 *
 *               timeout, preVote               pre-vote quorum
 *   follower ----------------> pre-candidate ------------------> candidate ---> leader
 *      ^  |                        |                              ^  |    vote quorum |
 *      |  +------ timeout, no preVote -----------------------------+  |               |
 *      +------------- higher term, or a leader of the current term ---+---------------+
 */
import { assert } from '../pkg/assert.js';
import type { Rng } from '../pkg/rng.js';
import type { ResolvedConfig } from './config.js';
import { RaftError } from './errors.js';
import { RaftLog } from './log.js';
import {
  type ConfChange,
  ConfChangeType,
  type Message,
  MessageType,
  newMessage,
  type ReadState,
  StateRole,
} from './message.js';
import { ReadOnly } from './read-only.js';
import { ProgressTracker } from './tracker.js';
import { type ConfState, type Entry, EntryType, type HardState, NONE, type NodeId } from './types.js';

const EMPTY = new Uint8Array(0);
/** Context marking a vote request caused by leadership transfer: it bypasses PreVote and leases. */
const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');
/** Heartbeat context of a removed leader: an ack proves the follower learned the commit. */
const STEP_DOWN = new TextEncoder().encode('StepDownAfterRemoval');

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isTransferContext(ctx: Uint8Array): boolean {
  return bytesEqual(ctx, CAMPAIGN_TRANSFER);
}

function voteRespType(t: MessageType): MessageType {
  return t === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

/** The core state machine; see the file comment. Driven through RawNode. */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  readonly log: RaftLog;
  readonly prs: ProgressTracker;
  state: StateRole = StateRole.Follower;
  /** The leader of the current term as far as we know, or NONE. */
  lead: NodeId = NONE;
  isLearner = false;
  /** Outgoing messages, taken by RawNode.ready(). */
  msgs: Message[] = [];
  /** Answered ReadIndex requests, taken by RawNode.ready(). */
  readStates: ReadState[] = [];
  /** The member leadership is being handed to, or NONE. */
  leadTransferee: NodeId = NONE;
  /**
   * Index of the latest conf-change entry the leader appended; no other conf change is accepted
   * until it is applied (one change at a time, thesis §4.1).
   */
  pendingConfIndex = 0;
  /**
   * Set when this leader applied its own removal: it keeps heartbeating until a quorum of the new
   * voters acknowledged a commit index >= this, then steps down (see applyConfChange). 0 = not.
   */
  stepDownIndex = 0;
  private readonly stepDownAcks = new Set<NodeId>();
  /** Payload bytes of uncommitted entries appended by this leader (for the proposal bound). */
  uncommittedSize = 0;
  readonly readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndex: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  private readonly cfg: ResolvedConfig;
  private readonly rng: Rng;

  constructor(cfg: ResolvedConfig) {
    this.cfg = cfg;
    this.id = cfg.id;
    this.rng = cfg.rng;
    this.log = new RaftLog(cfg.storage, cfg.maxCommittedSizePerReady);
    this.prs = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    const { hardState, confState } = cfg.storage.initialState();
    this.prs.reset(confState, this.log.lastIndex() + 1);
    this.isLearner = this.prs.learners.has(this.id);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (cfg.applied > 0) this.log.appliedTo(Math.max(cfg.applied, this.log.applied));
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    // A commit below the snapshot is stale but harmless (a snapshot only covers committed
    // entries); a commit beyond the durable log would mean the driver broke the persist order.
    assert(
      hs.commit <= this.log.lastIndex(),
      `hard state commit ${hs.commit} beyond the last index ${this.log.lastIndex()}`,
    );
    this.log.committed = Math.max(hs.commit, this.log.committed);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp
    ) {
      // Votes carry the term they are for (the next term, for pre-votes).
      assert(m.term !== 0, `term must be set when sending ${MessageType[m.type]}`);
    } else {
      assert(m.term === 0, `term must not be set when sending ${MessageType[m.type]}`);
      // Proposals and read requests are forwarded as local messages with no term (as etcd).
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends a MsgApp (or a snapshot when the needed entries are compacted) to `to`, unless its flow
   * is paused or there is nothing to send and `sendIfEmpty` is false. Returns whether it sent.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? null : this.log.entriesFrom(pr.next, this.cfg.maxSizePerMsg);
    if (ents !== null && ents.length === 0 && !sendIfEmpty) return false;
    if (prevTerm === undefined || ents === null) {
      // The follower needs entries we compacted: send the snapshot instead.
      if (!pr.recentActive) return false;
      let snap: ReturnType<RaftLog['snapshot']>;
      try {
        snap = this.log.snapshot();
      } catch (e) {
        if (e instanceof Error && 'code' in e && e.code === 'snapshot-temporarily-unavailable') return false;
        throw e;
      }
      assert(snap.metadata.index > 0, 'need a non-empty snapshot to send');
      pr.becomeSnapshot(snap.metadata.index);
      this.send(newMessage({ type: MessageType.Snap, to, snapshot: snap }));
      return true;
    }
    this.send(
      newMessage({
        type: MessageType.App,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    if (ents.length > 0) pr.sentEntries(ents.length, ents[ents.length - 1]!.index, RaftLog.payloadSize(ents));
    return true;
  }

  private sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    const pr = this.prs.progress.get(to)!;
    // Never tell a follower to commit beyond what it is known to hold: its log past `match` may
    // still diverge from ours.
    const commit = Math.min(pr.match, this.log.committed);
    this.send(newMessage({ type: MessageType.Heartbeat, to, commit, context: ctx }));
  }

  private bcastAppend(): void {
    for (const id of this.prs.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(ctx: Uint8Array | null = this.readOnly.lastPendingRequestCtx()): void {
    for (const [id, pr] of this.prs.progress) {
      if (id === this.id) continue;
      if (this.stepDownIndex > 0) {
        // Only a heartbeat that carries a commit >= stepDownIndex (see sendHeartbeat) is marked.
        this.sendHeartbeat(id, pr.match >= this.stepDownIndex ? STEP_DOWN : EMPTY);
      } else {
        this.sendHeartbeat(id, ctx ?? EMPTY);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.prs.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      pr.match = 0;
      pr.next = last + 1;
      pr.state = 'probe';
      pr.pendingSnapshot = 0;
      pr.msgAppFlowPaused = false;
      pr.recentActive = false;
      pr.inflights.reset();
      if (id === this.id) pr.match = last;
    }
    this.pendingConfIndex = 0;
    this.stepDownIndex = 0;
    this.stepDownAcks.clear();
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReadIndex = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.rng.int(this.cfg.electionTick);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateRole.Follower;
  }

  becomeCandidate(): void {
    assert(this.state !== StateRole.Leader, 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateRole.Candidate;
  }

  becomePreCandidate(): void {
    assert(this.state !== StateRole.Leader, 'invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote: it only asks whether it could win.
    this.prs.resetVotes();
    this.lead = NONE;
    this.state = StateRole.PreCandidate;
  }

  becomeLeader(): void {
    assert(this.state !== StateRole.Follower, 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateRole.Leader;
    this.prs.progress.get(this.id)!.becomeReplicate();
    // No conf change until everything up to here is applied: the log may hold one we have not
    // applied yet (thesis §4.1; etcd's pendingConfIndex).
    this.pendingConfIndex = this.log.lastIndex();
    // An entry of the new term: committing it commits everything before (Figure 8) and tells the
    // leader its commit index is current (needed by ReadIndex, thesis §6.4).
    const ok = this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    assert(ok, 'an empty entry is never refused');
  }

  /** Whether this member may become leader: a voter with no snapshot pending. */
  promotable(): boolean {
    return this.prs.voters.has(this.id) && !this.log.hasPendingSnapshot();
  }

  private hup(transfer: boolean): void {
    if (this.state === StateRole.Leader) return;
    if (!this.promotable()) return;
    // A conf change committed but not applied may change who may vote: wait until it is applied.
    if (this.hasUnappliedConfChange()) return;
    if (this.cfg.preVote && !transfer) this.campaign(MessageType.PreVote, false);
    else this.campaign(MessageType.Vote, transfer);
  }

  private hasUnappliedConfChange(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    const ents = this.log.slice(lo, this.log.committed + 1, Number.MAX_SAFE_INTEGER) ?? [];
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  private campaign(kind: MessageType.Vote | MessageType.PreVote, transfer: boolean): void {
    let term: number;
    if (kind === MessageType.PreVote) {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    this.prs.recordVote(this.id, true);
    if (this.prs.tallyVotes().result === 'won') {
      // A single-voter cluster wins at once.
      if (kind === MessageType.PreVote) this.campaign(MessageType.Vote, transfer);
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of [...this.prs.voters].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (id === this.id) continue;
      this.send(
        newMessage({
          type: kind,
          to: id,
          term,
          index,
          logTerm,
          context: transfer ? CAMPAIGN_TRANSFER : EMPTY,
        }),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.state === StateRole.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(newMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateRole.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.state !== StateRole.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Input

  /**
   * Handles one message. Throws RaftError 'proposal-dropped' when a proposal (local or forwarded)
   * cannot be accepted; every other outcome is reflected in state and outgoing messages.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message (or a forwarded proposal / read request, which carry no term).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferContext(m.context);
        const inLease =
          this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
        // Thesis §4.2.3: while we hear from a leader, a disruptive candidate (e.g. a removed member)
        // does not make us bump our term or vote.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The term in a granted pre-vote is the one we will campaign in; keep ours until we win.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A stale leader (e.g. back from a partition during which we moved on) would otherwise
        // never learn our term when we stopped voting for higher-term candidates: tell it.
        this.send(newMessage({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(newMessage({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // Granted: answer with the term of the request (for a pre-vote, the future term).
          this.send(newMessage({ type: voteRespType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(newMessage({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        break;
    }
    switch (this.state) {
      case StateRole.Leader:
        this.stepLeader(m);
        return;
      case StateRole.Candidate:
      case StateRole.PreCandidate:
        this.stepCandidate(m);
        return;
      case StateRole.Follower:
        this.stepFollower(m);
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.prs.quorumActive(this.id)) this.becomeFollower(this.term, NONE);
        for (const [id, pr] of this.prs.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.Prop:
        this.handlePropose(m);
        return;
      case MessageType.ReadIndex:
        this.handleReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.prs.progress.get(m.from);
    if (!pr) return; // not a member (e.g. removed): ignore
    switch (m.type) {
      case MessageType.AppResp: {
        pr.recentActive = true;
        if (m.reject) {
          let nextProbe = m.rejectHint;
          if (m.logTerm > 0) [nextProbe] = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
          if (pr.maybeDecrTo(m.index, nextProbe)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const wasPaused = pr.isPaused();
        if (pr.maybeUpdate(m.index)) {
          if (pr.state === 'probe') pr.becomeReplicate();
          else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
            // The follower caught up past our compaction point: the log can serve it again.
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

          if (this.maybeCommit()) {
            this.releasePendingReadIndex();
            this.bcastAppend();
          } else if (wasPaused) {
            this.sendAppend(m.from);
          }
          // Fill the window: keep sending while flow control allows.
          while (this.maybeSendAppend(m.from, false)) {}
          if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
            this.send(newMessage({ type: MessageType.TimeoutNow, to: m.from }));
          }
        }
        return;
      }
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        // A lost MsgApp would otherwise keep a full window closed forever: the follower is alive,
        // so free one slot; the next MsgApp is rejected if there is a gap, and probing resumes.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
        if (m.context.byteLength === 0) return;
        if (this.stepDownIndex > 0) {
          if (!bytesEqual(m.context, STEP_DOWN)) return;
          this.stepDownAcks.add(m.from);
          const votes = new Map<NodeId, boolean>();
          for (const id of this.stepDownAcks) votes.set(id, true);
          if (this.prs.tallyVotesOf(votes) === 'won') this.becomeFollower(this.term, NONE);
          return;
        }
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks) return;
        const votes = new Map<NodeId, boolean>();
        for (const id of acks) votes.set(id, true);
        if (this.prs.tallyVotesOf(votes) !== 'won') return;
        for (const rs of this.readOnly.advance(m.context)) this.respondReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.SnapStatus:
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the follower's answer (or a heartbeat) before probing again.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === transferee) return;
          this.leadTransferee = NONE;
        }
        if (transferee === this.id) return;
        this.electionElapsed = 0; // the transfer must finish within one election timeout
        this.leadTransferee = transferee;
        if (pr.match === this.log.lastIndex()) {
          this.send(newMessage({ type: MessageType.TimeoutNow, to: transferee }));
        } else {
          this.sendAppend(transferee);
        }
        return;
      }
      default:
        return;
    }
  }

  private handlePropose(m: Message): void {
    assert(m.entries.length > 0, 'stepped empty MsgProp');
    if (!this.prs.progress.has(this.id)) throw new RaftError('proposal-dropped', 'leader is not a member');
    if (this.leadTransferee !== NONE)
      throw new RaftError('proposal-dropped', 'leadership transfer in progress');
    const ents: Entry[] = m.entries.map((e) => ({ ...e }));
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      if (e.type !== EntryType.ConfChange) continue;
      if (this.pendingConfIndex > this.log.applied) {
        // One change at a time: turn it into a no-op (as etcd does) so batch indexes stay intact.
        ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: EMPTY };
      } else {
        this.pendingConfIndex = this.log.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(ents)) throw new RaftError('proposal-dropped', 'too many uncommitted bytes');
    this.bcastAppend();
  }

  private handleReadIndex(m: Message): void {
    if (this.stepDownIndex > 0) {
      if (m.from === NONE || m.from === this.id)
        throw new RaftError('proposal-dropped', 'leader was removed');
      return;
    }
    if (this.prs.voters.size <= 1) {
      // A single voter is its own quorum.
      if (this.prs.voters.has(this.id)) this.respondReadIndex(m, this.log.committed);
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may lag the previous leader's until our first entry commits (§6.4).
      if (this.pendingReadIndex.length >= this.cfg.maxPendingReadIndex) {
        if (m.from === NONE || m.from === this.id)
          throw new RaftError('proposal-dropped', 'read index queue full');
        return;
      }
      this.pendingReadIndex.push(m);
      return;
    }
    this.readOnly.addRequest(this.log.committed, m);
    this.readOnly.recvAck(this.id, m.entries[0]!.data);
    this.bcastHeartbeat(m.entries[0]!.data);
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const m of pending) this.handleReadIndex(m);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private respondReadIndex(req: Message, index: number): void {
    const ctx = req.entries[0]!.data;
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: ctx });
    } else {
      this.send(
        newMessage({
          type: MessageType.ReadIndexResp,
          to: req.from,
          index,
          entries: req.entries,
        }),
      );
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.state === StateRole.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new RaftError('proposal-dropped', 'no leader');
      case MessageType.App:
        this.becomeFollower(m.term, m.from); // a leader of our term exists
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.ReadIndex:
        if (m.from === NONE || m.from === this.id) throw new RaftError('proposal-dropped', 'no leader');
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    this.prs.recordVote(m.from, !m.reject);
    const { result } = this.prs.tallyVotes();
    if (result === 'won') {
      if (this.state === StateRole.PreCandidate) {
        this.campaign(MessageType.Vote, false);
      } else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === 'lost') {
      // A pre-candidate that lost keeps its term; a candidate stays in its new term.
      this.becomeFollower(this.term, NONE);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) throw new RaftError('proposal-dropped', 'no leader');
        if (this.cfg.disableProposalForwarding)
          throw new RaftError('proposal-dropped', 'forwarding disabled');
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.TimeoutNow:
        this.hup(true);
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) {
          if (m.from === NONE || m.from === this.id) throw new RaftError('proposal-dropped', 'no leader');
          return;
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.ReadIndexResp:
        if (m.entries.length !== 1) return;
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit is known to match the leader's log.
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Mismatch: hint the largest index whose term is <= the leader's term at m.index, so the
    // leader can skip a whole conflicting term per round trip.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    );
    this.send(
      newMessage({
        type: MessageType.AppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: hintTerm,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(newMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    assert(s !== null, 'MsgSnap without snapshot');
    if (this.restore(s)) {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
    }
  }

  /** Installs a snapshot from the leader; returns false when it is stale or already covered. */
  private restore(s: NonNullable<Message['snapshot']>): boolean {
    const meta = s.metadata;
    if (meta.index <= this.log.committed) return false;
    const cs = meta.confState;
    // The snapshot may predate our own addition (we then learn it from the entries that follow,
    // as etcd 3.4 does); but a voter must never be turned into a learner by a snapshot.
    if (!this.isLearner && this.prs.voters.has(this.id) && cs.learners.includes(this.id)) return false;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the entries: just learn that they are committed.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(s);
    this.prs.reset(cs, this.log.lastIndex() + 1);
    this.isLearner = this.prs.learners.has(this.id);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Log

  /** Appends entries at the end of the leader's log; false when the uncommitted bound refuses them. */
  private appendEntry(ents: Entry[]): boolean {
    let li = this.log.lastIndex();
    let size = 0;
    for (const e of ents) {
      e.term = this.term;
      e.index = ++li;
      size += e.data.byteLength;
    }
    const max = this.cfg.maxUncommittedEntriesSize;
    if (max > 0 && this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > max) return false;
    this.uncommittedSize += size;
    li = this.log.append(ents);
    // The leader counts itself as holding its entries: the driver persists them before sending
    // the messages that let followers acknowledge them, so commit never outruns the leader's disk.
    this.prs.progress.get(this.id)?.maybeUpdate(li);
    this.maybeCommit();
    return true;
  }

  /** Advances commit to the quorum's match if it is an entry of our term; true if it moved. */
  maybeCommit(): boolean {
    return this.log.maybeCommit(this.prs.committed(), this.term);
  }

  /** Called when committed entries of `bytes` payload were handed to the application. */
  reduceUncommittedSize(bytes: number): void {
    this.uncommittedSize = Math.max(0, this.uncommittedSize - bytes);
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  /**
   * Applies a committed single-member change and returns the new membership. Changes that make no
   * sense (demoting a voter, removing the last voter) are ignored, identically on every member.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = this.log.lastIndex() + 1;
    switch (cc.type) {
      case ConfChangeType.AddNode:
        if (!this.prs.voters.has(cc.nodeId)) this.prs.setMember(cc.nodeId, false, next);
        break;
      case ConfChangeType.AddLearnerNode:
        if (!this.prs.voters.has(cc.nodeId) && !this.prs.learners.has(cc.nodeId)) {
          this.prs.setMember(cc.nodeId, true, next);
        }
        break;
      case ConfChangeType.RemoveNode:
        if (this.prs.voters.has(cc.nodeId) && this.prs.voters.size === 1) break;
        this.prs.removeMember(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode:
        break;
    }
    const added = this.prs.progress.get(cc.nodeId);
    if (added && added.match === 0 && cc.type !== ConfChangeType.UpdateNode && cc.nodeId !== this.id) {
      // A new member counts as active so that CheckQuorum and snapshot sending give it a chance.
      added.recentActive = true;
    }
    this.isLearner = this.prs.learners.has(this.id);
    if (this.state !== StateRole.Leader) return this.prs.confState();
    if (!this.prs.voters.has(this.id)) {
      // The leader was removed. Stepping down at once could strand the others: if the message
      // carrying the commit of the removal was lost, they still run the old configuration, which
      // needs our vote. So keep heartbeating (refusing proposals and reads) until a quorum of the
      // new voters acknowledged a heartbeat carrying that commit, then step down (etcd's server
      // similarly waits before stopping a removed member). CheckQuorum still applies meanwhile.
      if (this.stepDownIndex === 0) {
        this.stepDownIndex = this.log.committed;
        this.stepDownAcks.clear();
        this.electionElapsed = 0;
      }
      if (this.maybeCommit()) this.bcastAppend();
      this.bcastHeartbeat();
      return this.prs.confState();
    }
    if (this.leadTransferee !== NONE && !this.prs.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
    // A smaller quorum may commit more right away.
    if (this.maybeCommit()) {
      this.releasePendingReadIndex();
      this.bcastAppend();
    } else if (added && cc.nodeId !== this.id) {
      this.sendAppend(cc.nodeId);
    }
    return this.prs.confState();
  }

  /** Appends the bootstrap conf changes for a brand-new cluster (see RawNode.bootstrap). */
  bootstrapEntries(ents: Entry[], voters: NodeId[]): void {
    this.log.append(ents);
    this.log.committed = ents.length;
    for (const id of voters) this.prs.setMember(id, false, this.log.lastIndex() + 1);
    this.isLearner = false;
  }
}
