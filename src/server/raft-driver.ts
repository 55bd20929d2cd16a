/**
 * The Raft driver: owns a RawNode, its durable log (WAL + snapshot store) and the Ready loop, and
 * offers the member the `ConsensusLog` seam (proposals in, committed entries out, in order, once).
 *
 * The Ready loop, stated once (src/raft/README.md gives the core's side of the contract):
 *   1. persist hard state + new entries with ONE wal.save (one write, one fdatasync);
 *   2. then hand messages to the transport — never before step 1 is durable, except a leader's
 *      when the core marks the Ready `sendBeforePersist` (sent first, overlapping the fsyncs);
 *   3. apply committed entries in order (conf changes to the RawNode, the rest to the member) —
 *      those already durable here from an earlier Ready are applied before step 1's write;
 *   4. answer ReadIndex requests; 5. advance(); 6. maybe snapshot and release old WAL segments.
 * Steps run one Ready at a time; proposals arriving while an fsync is in flight gather in the core
 * and go out together in the next Ready (group commit).
 *
 * A snapshot is taken every `snapshotCount` applied entries: the member first makes its store durable
 * up to the snapshot index (`prepareSnapshot`), then the snapshot is saved, marked in the WAL, older
 * segments released and the in-memory log compacted (keeping `catchUpEntries` for slow followers).
 *
 * Two steps live in their own modules: persistence (raft-durable-log.ts: WAL, snapshot files and
 * the in-memory log, each step in its one safe order) and ReadIndex requests (read-index.ts).
 */
import { randomInt } from 'node:crypto';
import { type Clock, type Rng, realClock, SeededRng, type Timer } from '../pkg/index.js';
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type Message,
  NONE,
  RaftError,
  RawNode,
  type Snapshot,
  type Status,
} from '../raft/index.js';
import type { SnapshotSaveTimes, WalFs } from '../wal/index.js';
import { etcdError } from '../wire/errors.js';
import type { CommittedEntry, ConsensusLog } from './consensus.js';
import type { Logger } from './logger.js';
import { DurableLog } from './raft-durable-log.js';
import { ReadIndexQueue } from './read-index.js';

export interface RaftDriverOptions {
  dataDir: string;
  /** etcd --wal-dir; empty = <data-dir>/member/wal. */
  walDir?: string;
  /** The WAL's file-system seam (tests inject faults); default: the real one. */
  walFs?: WalFs;
  /** WAL segment size (default 64 MiB). */
  walSegmentBytes?: number;
  /** WalOptions.syncInlineEntriesMax (default WAL_SYNC_INLINE_ENTRIES_MAX). */
  walSyncInlineEntriesMax?: number;
  memberId: bigint;
  clusterId: bigint;
  /** Voters of a brand-new cluster (bootstrap); ignored when a WAL exists. */
  initialVoters: bigint[];
  /** etcd --heartbeat-interval, ms: one Raft tick. */
  heartbeatMs: number;
  /** etcd --election-timeout / --heartbeat-interval. */
  electionTicks: number;
  /** etcd --snapshot-count: applied entries between snapshots. */
  snapshotCount: number;
  maxSnapshots: number;
  maxWals: number;
  /** How long a linearizable read may wait for its read index before "request timed out". */
  readTimeoutMs: number;
  /** The index the member's store has already applied (its consistent index). */
  storeAppliedIndex: number;
  logger: Logger;
  onCommitted(entry: CommittedEntry): void;
  /** Empty entries (a new leader's) still advance the member's applied index. */
  onAppliedIndex(index: number, term: number): void;
  /** A committed conf change was applied to the Raft core; the member updates its member table. */
  onConfChange(cc: ConfChange, index: number, term: number): void;
  /**
   * A snapshot from the leader is to be installed: the member replaces its store with the database
   * that came with it (durably) before the driver records the snapshot in the log.
   */
  installSnapshot(snapshot: Snapshot): Promise<void>;
  /** Entries kept in memory after a snapshot for slow followers (default SNAPSHOT_CATCH_UP_ENTRIES). */
  snapshotCatchUpEntries?: number;
  /** Joining an existing cluster: start with an empty log, no bootstrap, and wait to be contacted. */
  join?: boolean;
  /** Resolves once the member's store is durable up to at least `index` (before WAL release). */
  prepareSnapshot(index: number): Promise<void>;
  /** Messages for other members (the transport); a single member has none. */
  send(messages: readonly Message[]): void;
  onLeaderChange?(leader: bigint, term: number): void;
  onFsync?(seconds: number): void;
  /** Each raft snapshot file saved: how long it took (for etcd's snap save metrics). */
  onSnapshotSave?(t: SnapshotSaveTimes): void;
  /** Called once when the log failed (fsync error): the member must stop. */
  onFatal(err: unknown): void;
  /** Ticks, deadlines and read retries run on this clock (default: the real one; tests: ManualClock). */
  clock?: Clock;
  /** The Raft core's election jitter (default: seeded from the OS's randomness). */
  rng?: Rng;
  /**
   * Named crash points of the Ready loop (see RAFT_FAILPOINTS), called as the loop passes them. A
   * no-op unless given; a test (the simulator) may throw from it to kill the member right there —
   * the driver then fails as on an fsync error and reports it to `onFatal`.
   */
  failpoint?(name: RaftFailpoint): void;
}

/**
 * The Ready loop's crash points, in the order one Ready passes them (etcd's gofail points of the
 * same names in etcdserver/raft.go, plus the apply-early and snapshot-install steps of this driver):
 * - `raftBeforeApplySnap`  a snapshot from the leader arrived; the store not yet replaced
 * - `raftAfterApplySnap`   the store holds the leader's database; no snapshot file or WAL marker yet
 * - `raftAfterSaveSnap`    snapshot file and WAL marker durable; the in-memory log not yet reset
 * - `raftBeforeLeaderSend` a leader is about to send before its own write (`sendBeforePersist`)
 * - `raftBeforeSave`       entries durable earlier are applied; this Ready's entries not yet written
 * - `raftAfterSave`        entries and hard state durable; nothing sent yet (a follower's acks)
 * - `raftBeforeApply`      messages sent; this Ready's remaining committed entries not yet applied
 * - `raftBeforeAdvance`    everything applied; `advance()` not yet called
 * - `raftAfterWALRelease`  a local snapshot is saved and older WAL segments released
 */
export const RAFT_FAILPOINTS = [
  'raftBeforeApplySnap',
  'raftAfterApplySnap',
  'raftAfterSaveSnap',
  'raftBeforeLeaderSend',
  'raftBeforeSave',
  'raftAfterSave',
  'raftBeforeApply',
  'raftBeforeAdvance',
  'raftAfterWALRelease',
] as const;
export type RaftFailpoint = (typeof RAFT_FAILPOINTS)[number];

/** Entries kept in memory after a snapshot so slow followers can catch up without one (etcd: 5000). */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5000;
/**
 * A Ready whose WAL batch holds at most this many entries is made durable with a synchronous
 * fdatasync on the event loop instead of through the thread pool (WalOptions.syncInlineEntriesMax):
 * a lightly loaded member (one client, or a follower appending one entry) has nothing else to do
 * meanwhile, and the hand-off cost it more CPU than the sync (issue 15: put at 1 client, single
 * member, about 730 -> 610 µs of server CPU). The WAL takes that path only after
 * SYNC_INLINE_STREAK such batches in a row; larger batches mean other requests are arriving, and
 * they keep the fsync off the event loop so it can take them in meanwhile.
 */
export const WAL_SYNC_INLINE_ENTRIES_MAX = 1;

export class RaftDriver implements ConsensusLog {
  private readonly node: RawNode;
  private leaderId: bigint = NONE;
  private currentTerm: number;
  private commitIndex: number;
  private appliedIndex: number;
  private confState: ConfState;
  private lastSnapshotIndex: number;
  private running = false;
  private kicked = false;
  private stopped = false;
  private failed: unknown;
  private readonly clock: Clock;
  private readonly ticker: Timer;
  private readonly reads: ReadIndexQueue;

  private constructor(
    private readonly opts: RaftDriverOptions,
    private readonly log: DurableLog,
    fresh: boolean,
  ) {
    this.clock = opts.clock ?? realClock;
    this.reads = new ReadIndexQueue({
      memberId: opts.memberId,
      clock: this.clock,
      readTimeoutMs: opts.readTimeoutMs,
      usable: () => !this.stopped && this.failed === undefined,
      requestReadIndex: (ctx) => {
        this.node.readIndex(ctx);
        this.sendForwarded();
      },
      kick: () => this.kick(),
    });
    const { storage } = log;
    const { hardState, confState } = storage.initialState();
    this.currentTerm = hardState.term;
    this.commitIndex = hardState.commit;
    this.confState = confState;
    this.lastSnapshotIndex = storage.firstIndex() - 1;
    this.appliedIndex = this.lastSnapshotIndex;
    this.node = new RawNode({
      id: opts.memberId,
      storage,
      rng: opts.rng ?? new SeededRng(randomInt(0, 2 ** 31)),
      electionTick: opts.electionTicks,
      heartbeatTick: 1,
      checkQuorum: true,
      preVote: true,
    });
    if (fresh) this.node.bootstrap(opts.initialVoters);
    const voters = fresh ? opts.initialVoters : confState.voters;
    if (opts.join && !fresh && voters.length === 0) {
      // A joining member learns the configuration from the leader; it does not campaign.
    } else if (voters.length === 1 && voters[0] === opts.memberId) {
      // Alone: no one to wait for (etcd fast-forwards a single member's election ticks too).
      this.node.campaign();
    } else {
      // etcd's --initial-election-tick-advance: leave one tick before the first election timeout.
      for (let i = 0; i < opts.electionTicks - 1; i++) this.node.tick();
    }
    this.ticker = this.clock.setInterval(() => {
      this.node.tick();
      this.reads.retry();
      this.kick();
    }, opts.heartbeatMs);
    this.kick();
  }

  /**
   * Opens the member's log: replays an existing WAL (and its newest snapshot), or creates a new one
   * and bootstraps the cluster. Refuses a data dir whose store has data but whose WAL is missing.
   */
  static async open(opts: RaftDriverOptions): Promise<RaftDriver> {
    const { log, bootstrap } = await DurableLog.open({
      ...opts,
      walSyncInlineEntriesMax: opts.walSyncInlineEntriesMax ?? WAL_SYNC_INLINE_ENTRIES_MAX,
    });
    return new RaftDriver(opts, log, bootstrap);
  }

  get term(): number {
    return this.currentTerm;
  }

  get leader(): bigint {
    return this.leaderId;
  }

  get committedIndex(): number {
    return this.commitIndex;
  }

  /** The commit index the Raft core knows now, ahead of `committedIndex` while a Ready is in progress. */
  get knownCommittedIndex(): number {
    return this.node.committed;
  }

  get isLeader(): boolean {
    return this.leaderId === this.opts.memberId && this.leaderId !== NONE;
  }

  /** Resolves once a leader is known; rejects with "etcdserver: no leader" after `timeoutMs`. */
  waitForLeader(timeoutMs: number): Promise<void> {
    if (this.leaderId !== NONE) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const deadline = this.clock.now() + timeoutMs;
      const poll = this.clock.setInterval(() => {
        if (this.leaderId !== NONE) {
          poll.clear();
          resolve();
        } else if (this.clock.now() > deadline || this.stopped || this.failed !== undefined) {
          poll.clear();
          reject(this.failed ?? etcdError('noLeader'));
        }
      }, 5);
    });
  }

  /** Proposes an encoded request; throws etcd's errors when it cannot be accepted here. */
  propose(data: Uint8Array): void {
    this.submit(() => this.node.propose(data));
  }

  /**
   * Hands a proposal to the core, forwards it at once when this member is a follower, and maps a
   * dropped proposal to etcd's error ("no leader" during an election, else "request timed out").
   */
  private submit(hand: () => void): void {
    this.checkUsable();
    try {
      hand();
      this.sendForwarded();
    } catch (err) {
      if (err instanceof RaftError && err.code === 'proposal-dropped') {
        throw etcdError(this.leaderId === NONE ? 'noLeader' : 'timeout');
      }
      throw err;
    }
    this.kick();
  }

  /**
   * ReadIndex: resolves with a commit index that every read issued after this call may wait for.
   * Reads issued in the same turn share one request (see read-index.ts).
   */
  readIndex(): Promise<number> {
    this.checkUsable();
    return this.reads.readIndex();
  }

  /** A follower's proposals and read requests go to the leader now, not after its next fsync. */
  private sendForwarded(): void {
    const fwd = this.node.takeForwarded();
    if (fwd.length > 0) this.opts.send(fwd);
  }

  /** Proposes a membership change; throws etcd's errors when it cannot be accepted here. */
  proposeConfChange(cc: ConfChange): void {
    this.submit(() => this.node.proposeConfChange(cc));
  }

  /** The Raft core's status (role, hard state, last index, progress): for status reports and tests. */
  status(): Status {
    return this.node.status();
  }

  /** The term of the entry at `index` in the in-memory log; undefined when compacted or beyond it. */
  termAt(index: number): number | undefined {
    return this.node.logTerm(index);
  }

  /**
   * No Ready is being handled or scheduled and no read batch is waiting for its turn: what the
   * simulator waits for between steps.
   */
  get idle(): boolean {
    return !this.running && !this.kicked && this.reads.idle;
  }

  /** On the leader: each member's replication progress (match index); empty elsewhere. */
  progress(): Map<bigint, number> {
    const out = new Map<bigint, number>();
    for (const [id, p] of this.node.status().progress) out.set(id, p.match);
    return out;
  }

  /** The current voters and learners. */
  get configuration(): ConfState {
    return this.confState;
  }

  /** Asks the core to hand leadership to `to` (catch it up, then MsgTimeoutNow). */
  transferLeadership(to: bigint): void {
    this.checkUsable();
    this.node.transferLeadership(to);
    this.kick();
  }

  /** Runs `fn` while no Ready is being handled (nothing is applied meanwhile); proposals wait. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await new Promise((r) => setImmediate(r));
    this.running = true;
    try {
      return await fn();
    } finally {
      this.running = false;
      this.kick();
    }
  }

  /** The transport delivered (or failed to deliver) a snapshot to `id`. */
  reportSnapshot(id: bigint, ok: boolean): void {
    if (this.stopped) return;
    this.node.reportSnapshot(id, ok);
    this.kick();
  }

  /** The transport could not reach `id`: the core slows down replication to it. */
  reportUnreachable(id: bigint): void {
    if (this.stopped) return;
    this.node.reportUnreachable(id);
    this.kick();
  }

  /** A message from a peer (the transport calls this). */
  step(m: Message): void {
    if (this.stopped) return;
    this.node.step(m);
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticker.clear();
    this.reads.failAll('stopped');
    while (this.running) await new Promise((r) => setImmediate(r));
    // A clean stop snapshots at the applied index, so the next start replays only the WAL after it.
    if (this.failed === undefined && this.appliedIndex > this.lastSnapshotIndex)
      await this.snapshot().catch(() => {});
    await this.log.close();
  }

  private checkUsable(): void {
    if (this.failed !== undefined || this.stopped) throw etcdError('stopped');
  }

  private kick(): void {
    if (this.kicked || this.stopped) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      void this.runReady();
    });
  }

  private async runReady(): Promise<void> {
    if (this.running || this.failed !== undefined) return;
    this.running = true;
    try {
      while (!this.stopped && this.node.hasReady()) {
        const rd = this.node.ready();
        if (rd.softState && rd.softState.lead !== this.leaderId) {
          this.leaderId = rd.softState.lead;
          // As etcd 3.4: reads waiting for their index fail with "leader changed" (which clients
          // retry) once a new leader is known; while there is none they keep asking until their
          // deadline ("request timed out").
          if (this.leaderId !== NONE) this.reads.failAll('leaderChanged');
        }
        if (rd.hardState) {
          this.currentTerm = rd.hardState.term;
          this.commitIndex = rd.hardState.commit;
        }
        if (rd.softState) this.opts.onLeaderChange?.(this.leaderId, this.currentTerm);
        if (rd.snapshot) {
          // The store first (a crash after it is harmless: the leader sends the snapshot again),
          // then the snapshot file and its WAL marker, then the in-memory log.
          const snap = rd.snapshot;
          this.failpoint('raftBeforeApplySnap');
          await this.opts.installSnapshot(snap);
          this.failpoint('raftAfterApplySnap');
          await this.log.saveSnapshot(snap);
          this.failpoint('raftAfterSaveSnap');
          this.log.applySnapshot(snap);
          this.confState = snap.metadata.confState;
          this.appliedIndex = snap.metadata.index;
          this.lastSnapshotIndex = snap.metadata.index;
          this.opts.logger.info(
            { index: snap.metadata.index, term: snap.metadata.term },
            'installed a snapshot from the leader',
          );
        }
        // A leader's messages may overlap its own fsync with the followers' (the core says when).
        const sentEarly = rd.sendBeforePersist && rd.messages.length > 0;
        if (sentEarly) {
          this.failpoint('raftBeforeLeaderSend');
          this.opts.send(rd.messages);
        }
        // Committed entries that were made durable here by an earlier Ready are applied (and their
        // requests answered) while this Ready's new entries are being written, instead of waiting
        // for that fsync. Committed means durable on a quorum; the earlier Ready made it durable
        // here too, which matters for a leader that counted itself before its own write finished.
        let appliedEarly = 0;
        if (!rd.snapshot) {
          const firstNew = rd.entries.length > 0 ? rd.entries[0]!.index : Number.POSITIVE_INFINITY;
          const ce = rd.committedEntries;
          while (appliedEarly < ce.length && ce[appliedEarly]!.index < firstNew)
            this.applyCommitted(ce[appliedEarly++]!);
          if (appliedEarly > 0) this.reads.answer(rd.readStates);
        }
        this.failpoint('raftBeforeSave');
        await this.log.persist(rd.hardState ?? undefined, rd.entries, rd.mustSync);
        this.failpoint('raftAfterSave');
        if (!sentEarly && rd.messages.length > 0) this.opts.send(rd.messages);
        this.failpoint('raftBeforeApply');
        for (let i = appliedEarly; i < rd.committedEntries.length; i++)
          this.applyCommitted(rd.committedEntries[i]!);
        this.reads.answer(rd.readStates);
        this.failpoint('raftBeforeAdvance');
        this.node.advance();
        // A lone voter has no one to wait for; the core ignores a campaign while conf changes are
        // committed but unapplied (the bootstrap ones at first), so ask again once they are applied.
        if (this.leaderId === NONE && this.isLoneVoter()) this.node.campaign();
        if (this.appliedIndex - this.lastSnapshotIndex >= this.opts.snapshotCount) await this.snapshot();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
    }
    if (!this.stopped && this.failed === undefined && this.node.hasReady()) this.kick();
  }

  private failpoint(name: RaftFailpoint): void {
    this.opts.failpoint?.(name);
  }

  private isLoneVoter(): boolean {
    const v = this.confState.voters;
    return v.length === 1 && v[0] === this.opts.memberId;
  }

  private applyCommitted(e: Entry): void {
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      this.confState = this.node.applyConfChange(cc);
      this.opts.onConfChange(cc, e.index, e.term);
    } else if (e.data.byteLength > 0) {
      this.opts.onCommitted({ index: e.index, term: e.term, data: e.data });
    } else {
      // An empty entry is the one a new leader appends to commit its term; nothing to apply.
      this.opts.onAppliedIndex(e.index, e.term);
    }
    this.appliedIndex = e.index;
  }

  private async snapshot(): Promise<void> {
    const index = this.appliedIndex;
    await this.opts.prepareSnapshot(index);
    const catchUp = this.opts.snapshotCatchUpEntries ?? SNAPSHOT_CATCH_UP_ENTRIES;
    await this.log.snapshot(index, this.confState, catchUp, () => this.failpoint('raftAfterWALRelease'));
    this.lastSnapshotIndex = index;
  }

  private fail(err: unknown): void {
    if (this.failed !== undefined) return;
    this.failed = err;
    this.ticker.clear();
    this.opts.logger.error({ err: String(err) }, 'raft log failed; stopping the member');
    this.reads.failAll('stopped');
    this.opts.onFatal(err);
  }
}
