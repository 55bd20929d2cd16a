/**
 * The member: what etcd calls the EtcdServer, as a facade over parts with one job each (see
 * README.md for the map). It wires them together at start and offers the API layer one surface.
 *
 * Ordering, stated once:
 *   propose(request) -> encoded InternalRaftRequest (size-checked) -> RaftDriver orders it ->
 *   applyEntry(index, term, data) (one MVCC write txn, consistent index = entry index) ->
 *   end of the event-loop turn: events published, waiters answered (the entries are durable in the
 *   WAL), linearizable reads released, store committed lazily.
 * Linearizable reads wait until everything applied before them is durable, so a read never shows a
 * write that a crash could still take back. Serializable reads read the applied state at once.
 */
import type { MvccStore } from '../mvcc/index.js';
import { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import type {
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  Member as MemberInfo,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { Event } from '../proto/mvccpb/kv.js';
import { type ConfChange, ConfChangeType } from '../raft/index.js';
import type { PeerStats } from '../transport/index.js';
import { etcdError } from '../wire/errors.js';
import { Applier } from './applier.js';
import { applyRange, applyTxn, isTxnReadOnly } from './apply.js';
import { BackendSlot } from './backend-slot.js';
import { type Identity, resolveIdentity } from './bootstrap.js';
import { type MemberConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { LeasePrimary } from './lease-checkpoint.js';
import { LEASE_EXPIRY_CHECK_MS, LeaseService } from './lease-service.js';
import type { Logger } from './logger.js';
import { Maintenance, type MemberStatus } from './maintenance.js';
import { MemberPeers } from './member-peers.js';
import { openDriver, waitForQuorum } from './member-start.js';
import { MembershipService } from './membership-service.js';
import { ServerMetrics } from './metrics.js';
import { PeerHttpClient } from './peer-http.js';
import { Proposer } from './proposer.js';
import type { RaftDriver } from './raft-driver.js';
import { ReadBarrier } from './reads.js';
import { mapMvccErrors, toServerError } from './server-errors.js';
import { Signal } from './signal.js';
import { SnapshotTransfer } from './snapshot-transfer.js';

export class Member {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly metrics: ServerMetrics;
  /** The configuration with every default resolved. */
  readonly cfg: ResolvedConfig;
  /** The Raft driver (the Ready loop); set once at start. Tests and diagnostics may read it. */
  driver!: RaftDriver;
  private readonly backend: BackendSlot;
  private readonly proposer: Proposer;
  private readonly reads: ReadBarrier;
  private readonly applier: Applier;
  private readonly leasePrimary: LeasePrimary;
  private readonly leases: LeaseService;
  private readonly membershipService: MembershipService;
  private readonly maintenance: Maintenance;
  private readonly snapshots: SnapshotTransfer;
  /** Peer links and the member's own peer endpoints. */
  readonly peers: MemberPeers;
  readonly peerHttp: PeerHttpClient;
  /** Notified at every leader change and every applied conf change (what waits wake on). */
  readonly leaderChanged: Signal;
  readonly confChanged: Signal;
  private appliedIndex: number;
  private stopped = false;
  private closed = false;
  private fatal: unknown;
  private compactions: Promise<void>[] = [];
  /** Events of applied writes, published together at the end of the turn. */
  private pendingEvents: Event[] = [];
  private readonly eventListeners: ((events: Event[]) => void)[] = [];
  private notifiedRev: number;
  private tick: { clear(): void } | undefined;
  private readyPromise: Promise<void> | undefined;
  /** Whether the member has had a leader and published itself (etcd's ReadyNotify fired). */
  private isReady = false;

  private constructor(
    cfg: ResolvedConfig,
    store: MvccStore,
    readonly logger: Logger,
    readonly identity: Identity,
    metrics: ServerMetrics,
    peerHttp: PeerHttpClient,
  ) {
    this.cfg = cfg;
    this.metrics = metrics;
    this.peerHttp = peerHttp;
    this.memberId = identity.memberId;
    this.clusterId = identity.clusterId;
    this.leaderChanged = new Signal(cfg.clock);
    this.confChanged = new Signal(cfg.clock);
    const stopped = () => this.stopped;
    this.backend = new BackendSlot(
      {
        cfg,
        logger,
        metrics,
        identity,
        stopped,
        flushApplied: () => {
          if (this.proposer.hasUnacked) this.flush();
        },
        onCommitFailed: (err) => this.fail(err),
        onSwapped: () => {
          this.appliedIndex = this.backend.store.consistentIndex;
        },
      },
      store,
    );
    this.appliedIndex = store.consistentIndex;
    this.notifiedRev = store.rev;
    this.proposer = new Proposer({
      clock: cfg.clock,
      metrics,
      memberId: this.memberId,
      requestTimeoutMs: cfg.requestTimeoutMs,
      maxRequestBytes: cfg.maxRequestBytes,
      stopped,
      appliedIndex: () => this.appliedIndex,
      knownCommitIndex: () => this.driver.knownCommittedIndex,
      propose: (data) => this.driver.propose(data),
      proposeConfChange: (cc) => this.driver.proposeConfChange(cc),
      flush: () => this.flush(),
    });
    this.reads = new ReadBarrier({
      stopped,
      appliedIndex: () => this.appliedIndex,
      readIndex: () => this.driver.readIndex(),
    });
    this.leasePrimary = new LeasePrimary({
      lessor: () => this.backend.lessor,
      isLeader: () => this.driver?.leader === this.memberId,
      term: () => this.driver.term,
      stopped,
      proposeCheckpoint: (leaseCheckpoint) => this.proposer.propose({ leaseCheckpoint }),
      requestTimeoutMs: cfg.requestTimeoutMs,
      electionTimeoutMs: cfg.electionTimeoutMs,
      onError: (message, err) => this.logger.warn({ err: String(err) }, message),
    });
    this.applier = new Applier({
      store: () => this.backend.store,
      lessor: () => this.backend.lessor,
      alarms: () => this.backend.alarms,
      membership: () => this.backend.membership,
      leasePrimary: this.leasePrimary,
      logger,
      onEvents: (events) => {
        for (const e of events) this.pendingEvents.push(e);
      },
      onCompaction: (done) => this.trackCompaction(done),
    });
    this.leases = new LeaseService({
      stopped,
      isLeader: () => this.driver.leader === this.memberId,
      lessor: () => this.backend.lessor,
      primary: this.leasePrimary,
      propose: (fields) => this.proposer.propose(fields),
      nextId: () => this.proposer.nextId(),
      askLeader: (op, id) => this.peerHttp.lease(this.leaderPeerUrl(), op, id),
    });
    this.membershipService = new MembershipService({
      clock: cfg.clock,
      selfId: this.memberId,
      initialClusterToken: cfg.initialClusterToken,
      strictReconfigCheck: cfg.strictReconfigCheck,
      requestTimeoutMs: cfg.requestTimeoutMs,
      stopped,
      membership: () => this.backend.membership,
      link: (id) => this.peers.stats().get(id),
      isLeader: () => this.driver.leader === this.memberId,
      progress: () => this.driver.progress(),
      commitIndex: () => this.driver.committedIndex,
      proposeConfChange: (cc) => this.proposer.proposeConfChange(cc),
      askLeaderToPromote: (id) => this.peerHttp.promote(this.leaderPeerUrl(), id),
      confChanged: this.confChanged,
    });
    this.maintenance = new Maintenance({
      cfg,
      logger,
      memberId: this.memberId,
      backend: this.backend,
      stopped,
      fatal: () => this.fatal,
      leader: () => this.driver.leader,
      commitIndex: () => this.driver.committedIndex,
      appliedIndex: () => this.appliedIndex,
      alarm: (r) => this.alarm(r),
      exclusive: (fn) => this.driver.exclusive(fn),
      transferLeadership: (to) => this.driver.transferLeadership(to),
      leaderChanged: this.leaderChanged,
    });
    this.snapshots = new SnapshotTransfer({
      cfg,
      logger,
      metrics,
      identity,
      backend: this.backend,
      step: (m) => this.driver.step(m),
      reportSnapshot: (to, ok) => this.driver.reportSnapshot(to, ok),
      notifiedRevision: () => this.notifiedRev,
      publish: (events) => {
        for (const e of events) this.pendingEvents.push(e);
        this.proposer.scheduleFlush();
      },
      afterInstall: () => this.peers.syncPeers(),
    });
    this.peers = new MemberPeers({
      cfg,
      logger,
      metrics,
      memberId: this.memberId,
      clusterId: this.clusterId,
      membership: () => this.backend.membership,
      driver: () => this.driver as RaftDriver | undefined,
      stopped,
      snapshots: this.snapshots,
      leasePrimary: this.leasePrimary,
      promote: (id) => this.memberPromote(id),
    });
  }

  /**
   * Opens the member and waits until it has a leader and has published itself to the cluster (as
   * etcd's ReadyNotify); without a reachable quorum it keeps waiting, as etcd does. Fails only when
   * the peers belong to another cluster or the member stops.
   */
  static async start(cfg: MemberConfig, logger: Logger): Promise<Member> {
    const member = await Member.open(cfg, logger);
    try {
      await member.ready();
    } catch (err) {
      await member.stop();
      throw err;
    }
    return member;
  }

  /**
   * Opens (or creates) the member's data: the store, the WAL (replayed from the store's applied
   * index), the peer listener and the Raft driver, and starts looking for a leader in the background
   * (`ready()`). Until then /health is unhealthy, serializable reads answer from the local store and
   * everything else times out with etcd's errors.
   */
  static async open(input: MemberConfig, logger: Logger): Promise<Member> {
    const cfg = resolveConfig(input);
    const started = cfg.clock.now();
    const metrics = new ServerMetrics();
    const peerHttp = new PeerHttpClient(cfg.requestTimeoutMs);
    const store = await BackendSlot.openStore(cfg, metrics, logger);
    let member: Member;
    try {
      const identity = await resolveIdentity(cfg, store, logger, (url) => peerHttp.members(url));
      member = new Member(cfg, store, logger, identity, metrics, peerHttp);
    } catch (err) {
      await store.close();
      throw err;
    }
    try {
      if (cfg.listenPeer) await member.peers.listen(cfg.listenPeer);
      member.driver = await openDriver(cfg, logger, member, {
        applyEntry: (e) => member.applyEntry(e),
        advanceAppliedIndex: (index, term) => member.advanceAppliedIndex(index, term),
        applyConfChange: (cc, index) => member.applyConfChange(cc, index),
        installSnapshot: (snap) => member.snapshots.install(snap),
        prepareSnapshot: () => member.backend.store.syncAll(),
        send: (msgs) => member.peers.send(msgs),
        onLeaderChange: (leader) => member.onLeaderChange(leader),
        onFatal: (err) => member.fail(err),
      });
    } catch (err) {
      await member.peers.close();
      await store.close();
      throw err;
    }
    member.tick = cfg.clock.setInterval(() => {
      if (member.stopped) return;
      member.proposer.expire();
      member.leases.checkExpiry();
    }, LEASE_EXPIRY_CHECK_MS);
    logger.info(
      {
        'member-id': member.memberId.toString(16),
        'cluster-id': member.clusterId.toString(16),
        'consistent-index': store.consistentIndex,
        revision: store.rev,
        'took-ms': Math.round(cfg.clock.now() - started),
      },
      'opened backend',
    );
    metrics.dbTotalSize.set(store.dbSize());
    member.readyPromise = waitForQuorum({
      cfg,
      logger,
      memberId: member.memberId,
      clusterId: member.clusterId,
      isStopped: () => member.stopped,
      leader: () => member.driver.leader,
      membership: () => member.backend.membership,
      leaderChanged: member.leaderChanged,
      failure: () => member.fatal,
      refusingClusterId: () => member.peers.refusingClusterId(),
      connected: (id) => member.peers.stats().get(id)?.connected ?? false,
      propose: (fields) => member.proposer.propose(fields),
    });
    member.readyPromise.then(
      () => {
        member.isReady = true;
      },
      () => {}, // observed through ready()
    );
    return member;
  }

  /** Resolves once the member has a leader and published its attributes (etcd's ReadyNotify). */
  ready(): Promise<void> {
    return this.readyPromise ?? Promise.reject(etcdError('stopped'));
  }

  get store(): MvccStore {
    return this.backend.store;
  }
  get lessor() {
    return this.backend.lessor;
  }
  get membership() {
    return this.backend.membership;
  }
  get alarms() {
    return this.backend.alarms;
  }
  get term(): number {
    return this.driver.term;
  }
  get leader(): bigint {
    return this.driver.leader;
  }
  /** The commit index this member has persisted (Status's raftIndex). */
  get commitIndex(): number {
    return this.driver.committedIndex;
  }
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Peer link statistics by member id (transport's; empty without a peer listener). */
  peerStats(): Map<bigint, PeerStats> {
    return this.peers.stats();
  }

  /** Members of the cluster as MemberList shows them. */
  members(): MemberInfo[] {
    return this.backend.membership.list().map((m) => ({
      ID: m.id,
      // This member's own facts are known first-hand, even before its attributes are published.
      name: m.id === this.memberId ? this.cfg.name : m.name,
      peerURLs: m.peerUrls,
      clientURLs: m.id === this.memberId ? this.cfg.clientUrls : m.clientUrls,
      isLearner: m.isLearner,
    }));
  }

  // ---- KV ----

  async range(r: RangeRequest): Promise<RangeResponse> {
    if (!r.serializable) await this.reads.wait();
    if (this.backend.isSwapping) await this.backend.ready();
    return mapMvccErrors(() => applyRange(this.backend.store, r));
  }

  /** The store, once no swap (defrag, snapshot install) is in progress (see BackendSlot.ready). */
  storeReady(): Promise<MvccStore> {
    return this.backend.ready();
  }

  /** Runs `fn` on the store and holds off swaps until it settles (see BackendSlot.withStore). */
  withStore<T>(fn: (store: MvccStore) => Promise<T>): Promise<T> {
    return this.backend.withStore(fn);
  }

  put(r: PutRequest): Promise<PutResponse> {
    return this.proposer.propose({ put: r }) as Promise<PutResponse>;
  }

  deleteRange(r: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.proposer.propose({ deleteRange: r }) as Promise<DeleteRangeResponse>;
  }

  async txn(r: TxnRequest): Promise<TxnResponse> {
    if (!isTxnReadOnly(r)) return this.proposer.propose({ txn: r }) as Promise<TxnResponse>;
    if (!txnIsSerializable(r)) await this.reads.wait();
    if (this.backend.isSwapping) await this.backend.ready();
    const { applier, backend } = this;
    return mapMvccErrors(() =>
      applyTxn(backend.store, r, applier.hooks, () => backend.store.write(this.appliedIndex)),
    );
  }

  async compact(r: CompactionRequest): Promise<CompactionResponse> {
    const { response, done } = (await this.proposer.propose({ compaction: r })) as {
      response: CompactionResponse;
      done: Promise<void>;
    };
    if (r.physical) await done;
    return response;
  }

  /** Waits for every compaction started so far (tests, shutdown). */
  async compactionsSettled(): Promise<void> {
    await Promise.allSettled(this.compactions);
  }

  /**
   * Subscribes to committed changes: `listener` gets every event, in revision order, once the write
   * that made it is durable (so a watcher never sees a change a crash could take back).
   */
  onEvents(listener: (events: Event[]) => void): void {
    this.eventListeners.push(listener);
  }

  /** The newest revision whose events have been published to `onEvents` listeners. */
  get notifiedRevision(): number {
    return this.notifiedRev;
  }

  // ---- Cluster ----

  memberAdd(peerUrls: string[], isLearner: boolean): Promise<MemberInfo> {
    return this.membershipService.add(peerUrls, isLearner);
  }
  memberRemove(id: bigint): Promise<void> {
    return this.membershipService.remove(id);
  }
  memberUpdate(id: bigint, peerUrls: string[]): Promise<void> {
    return this.membershipService.update(id, peerUrls);
  }
  memberPromote(id: bigint): Promise<void> {
    return this.membershipService.promote(id);
  }

  // ---- Lease ----

  leaseGrant(r: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    return this.leases.grant(r);
  }
  leaseRevoke(id: bigint): Promise<LeaseRevokeResponse> {
    return this.leases.revoke(id);
  }
  leaseRenew(id: bigint): Promise<number> {
    return this.leases.renew(id);
  }
  leaseTimeToLive(id: bigint): Promise<{ ttl: number; granted: number }> {
    return this.leases.timeToLive(id);
  }

  // ---- Maintenance ----

  status(): MemberStatus {
    return this.maintenance.status();
  }

  /**
   * /health: ready (etcd serves no client request before), a leader and no alarm, as etcd 3.4
   * judges it.
   */
  get healthy(): boolean {
    return (
      this.isReady && !this.stopped && this.driver.leader !== 0n && this.backend.alarms.list().length === 0
    );
  }

  /** Whether this member is a learner (it then serves only serializable reads, as etcd's). */
  get isLearner(): boolean {
    return this.backend.membership.get(this.memberId)?.isLearner === true;
  }

  /** Maintenance.Alarm: every action goes through the log so all members agree (as etcd). */
  alarm(r: AlarmRequest): Promise<AlarmResponse> {
    return this.proposer.propose({ alarm: r }) as Promise<AlarmResponse>;
  }

  checkQuota(costBytes: number): void {
    this.maintenance.checkQuota(costBytes);
  }
  defragment(): Promise<void> {
    return this.maintenance.defragment();
  }
  moveLeader(target: bigint): Promise<void> {
    return this.maintenance.moveLeader(target);
  }

  /** Stops taking requests, waits for in-flight commits, and closes the store. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.tick?.clear();
    this.leaderChanged.failAll(etcdError('stopped'));
    this.confChanged.failAll(etcdError('stopped'));
    await this.driver?.stop();
    await this.peers.close();
    if (this.proposer.hasUnacked) this.flush();
    await this.backend.commitsSettled();
    await this.backend.store.commit().catch(() => {});
    await this.compactionsSettled();
    this.proposer.failAll(false);
    await this.backend.store.close();
  }

  // ---- the apply side, called by the driver ----

  /** Applies one committed entry. Runs for every entry exactly once, in index order. */
  private applyEntry(entry: { index: number; data: Uint8Array }): void {
    if (entry.index <= this.appliedIndex) return; // already in the store (replay after restart)
    const request = InternalRaftRequest.decode(entry.data);
    let result: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: this.applier.apply(request, entry.index) };
    } catch (error) {
      result = { ok: false, error: toServerError(error) };
    }
    this.appliedIndex = entry.index;
    this.metrics.proposalsCommitted.inc();
    this.metrics.proposalsApplied.inc();
    this.proposer.settle(request.header?.ID ?? 0n, result);
  }

  /** An entry with nothing for the store (empty or a conf change) was applied: reads may proceed. */
  private advanceAppliedIndex(index: number, term: number): void {
    if (index <= this.appliedIndex) return;
    this.leasePrimary.onEmptyEntryApplied(term);
    this.appliedIndex = index;
    this.proposer.scheduleFlush();
  }

  /**
   * A committed membership change, applied in index order: the member table changes in the entry's
   * write txn, the transport follows, and a waiting MemberAdd/Remove/Update/Promote is answered.
   */
  private applyConfChange(cc: ConfChange, index: number): void {
    if (index <= this.appliedIndex) return; // already in the store (replay after restart)
    this.applier.applyConfChange(cc, index);
    this.appliedIndex = index;
    this.peers.onConfChange(cc);
    this.proposer.settleConfChange(cc);
    this.confChanged.notify();
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.memberId) {
      // As etcd: a removed member stops serving ("the member has been permanently removed").
      this.logger.warn(
        { 'member-id': this.memberId.toString(16) },
        'the member has been permanently removed from the cluster',
      );
      setImmediate(() => this.fail(new Error('the member has been permanently removed from the cluster')));
    }
    this.proposer.scheduleFlush();
  }

  /**
   * End of a turn's applying: publish the events, acknowledge the requests (their entries are durable
   * in the WAL), release reads, and let the store commit to lmdb in the background.
   */
  private flush(): void {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    this.notifiedRev = this.backend.store.rev;
    if (events.length > 0) {
      for (const l of this.eventListeners) {
        try {
          l(events);
        } catch (err) {
          this.logger.error({ err: String(err) }, 'event listener failed');
        }
      }
    }
    this.proposer.acknowledge();
    this.reads.release();
    this.backend.commitLazily();
  }

  /** The log or the store failed: nothing more is acknowledged and the member stops taking requests. */
  private fail(err: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.stopped = true;
    this.logger.error({ err: String(err) }, 'the member failed (disk); it stops serving');
    this.proposer.failAll(true);
    this.reads.failAll();
    this.leaderChanged.notify();
    this.confChanged.notify();
  }

  private onLeaderChange(leader: bigint): void {
    this.metrics.hasLeader.set(leader !== 0n ? 1 : 0);
    this.metrics.isLeader.set(leader === this.memberId ? 1 : 0);
    if (leader !== 0n) this.metrics.leaderChanges.inc();
    // A member that stops leading stops keeping lease time; a new leader starts once it applied its
    // term's first entry (LeasePrimary.onEmptyEntryApplied), as etcd's lessor Promote does.
    this.leasePrimary.onLeaderChange();
    this.leaderChanged.notify();
  }

  private trackCompaction(done: Promise<void>): Promise<void> {
    const tracked = done.then(
      () => {
        this.metrics.dbTotalSize.set(this.backend.store.dbSize());
      },
      (err: unknown) => {
        this.logger.error({ err: String(err) }, 'compaction failed');
      },
    );
    this.compactions.push(tracked);
    if (this.compactions.length > 16) this.compactions = this.compactions.slice(-16);
    return tracked;
  }

  /** The leader's first peer URL, for requests only the leader answers. */
  private leaderPeerUrl(): string {
    const url = this.backend.membership.get(this.driver.leader)?.peerUrls[0];
    if (!url) throw etcdError('noLeader');
    return url;
  }
}

function txnIsSerializable(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestRange && !op.requestRange.serializable) return false;
    if (op.requestTxn && !txnIsSerializable(op.requestTxn)) return false;
  }
  return true;
}
