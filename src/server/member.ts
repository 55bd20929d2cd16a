/**
 * The member: what etcd calls the EtcdServer, as a facade over parts with one job each. It opens
 * the member's data, starts the wait for a quorum, and offers the API layer one surface.
 * README.md has the map of the parts and the write/read/apply ordering; member-parts.ts wires them.
 */
import type { MvccStore } from '../mvcc/index.js';
import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
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
import type { PeerStats } from '../transport/index.js';
import { etcdError } from '../wire/errors.js';
import { isTxnReadOnly } from './apply.js';
import { type AuthInfo, type AuthStore, BcryptPool, effectiveBcryptCost } from './auth/index.js';
import { BackendSlot } from './backend-slot.js';
import { type Identity, resolveIdentity } from './bootstrap.js';
import { type MemberConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { walInitialized } from './corrupt-check.js';
import type { Lessor } from './lessor.js';
import type { Logger } from './logger.js';
import type { MemberStatus } from './maintenance.js';
import {
  buildParts,
  driverCallbacks,
  listMembers,
  type MemberCore,
  type MemberParts,
  registerPartsMetrics,
  reportOpened,
  serveRange,
  serveRangeStreamed,
  serveReadTxn,
  startExpiryTicker,
  startQuorumWait,
} from './member-parts.js';
import { logMemberStop } from './member-removed.js';
import { openDriver } from './member-start.js';
import type { Membership } from './membership.js';
import { ServerMetrics } from './metrics.js';
import { PeerHttpClient } from './peer-http.js';
import type { RaftDriver } from './raft-driver.js';
import type { StreamedRangeResponse } from './range-stream.js';
import { Signal } from './signal.js';

export class Member {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** Password hashing off the event loop (issue 13), at `bcryptCost`. */
  readonly bcrypt = new BcryptPool();
  readonly bcryptCost: number;
  /** The Raft driver (the Ready loop); set once at open. Tests and diagnostics may read it. */
  driver!: RaftDriver;
  /** Notified at every leader change and every applied conf change (what waits wake on). */
  readonly leaderChanged: Signal;
  readonly confChanged: Signal;
  private readonly parts: MemberParts;
  private readonly core: MemberCore;
  private stopped = false;
  private closed = false;
  private fatal: unknown;
  private tick: { clear(): void } | undefined;
  private readyPromise: Promise<void> | undefined;
  /** Whether the member has had a leader and published itself (etcd's ReadyNotify fired). */
  private isReady = false;
  /** Called once when the log or the store fails (the CLI then exits, as etcd's zap Fatal does). */
  onFailed: ((err: unknown) => void) | undefined;

  private constructor(
    /** The configuration with every default resolved. */
    readonly cfg: ResolvedConfig,
    store: MvccStore,
    readonly logger: Logger,
    readonly identity: Identity,
    peerHttp: PeerHttpClient,
    readonly metrics: ServerMetrics,
  ) {
    this.bcryptCost = effectiveBcryptCost(cfg.bcryptCost);
    this.memberId = identity.memberId;
    this.clusterId = identity.clusterId;
    this.leaderChanged = new Signal(cfg.clock);
    this.confChanged = new Signal(cfg.clock);
    this.core = {
      cfg,
      logger,
      metrics: this.metrics,
      identity,
      memberId: this.memberId,
      clusterId: this.clusterId,
      peerHttp,
      leaderChanged: this.leaderChanged,
      confChanged: this.confChanged,
      driver: () => this.driver,
      stopped: () => this.stopped,
      fatal: () => this.fatal,
      fail: (err) => this.fail(err),
    };
    this.parts = buildParts(this.core, store);
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
    const peerHttp = new PeerHttpClient(cfg.requestTimeoutMs, cfg.peerFetch);
    const metrics = new ServerMetrics();
    const store = await BackendSlot.openStore(cfg, metrics, logger);
    let member: Member;
    try {
      const identity = await resolveIdentity(cfg, store, logger, (url) => peerHttp.members(url));
      member = new Member(cfg, store, logger, identity, peerHttp, metrics);
    } catch (err) {
      await store.close();
      throw err;
    }
    const { peers } = member.parts;
    try {
      await member.parts.corruption.start(walInitialized(cfg.layout.walDir)); // etcd: before serving peers
      if (cfg.listenPeer) await peers.listen(cfg.listenPeer);
      member.driver = await openDriver(cfg, logger, member, driverCallbacks(member.parts, member.core));
    } catch (err) {
      await peers.close();
      await store.close();
      throw err;
    }
    member.tick = startExpiryTicker(member.parts, member.core);
    reportOpened(member.core, store, cfg.clock.now() - started);
    registerPartsMetrics(member.parts, member.core);
    member.readyPromise = startQuorumWait(member.parts, member.core);
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

  /** The store; replaced as a whole by Defragment and snapshot installs. */
  get store(): MvccStore {
    return this.parts.backend.store;
  }
  get lessor(): Lessor {
    return this.parts.backend.lessor;
  }
  get membership(): Membership {
    return this.parts.backend.membership;
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

  /** Peer link statistics by member id (the transport's; empty without a peer listener). */
  peerStats(): Map<bigint, PeerStats> {
    return this.parts.peers.stats();
  }

  /** Members of the cluster as MemberList shows them. */
  members(): MemberInfo[] {
    return listMembers(this.parts, this.core);
  }

  // ---- KV ----

  range(r: RangeRequest): Promise<RangeResponse> {
    return serveRange(this.parts, r);
  }

  /** range(), but a big plain range comes back as its bytes, piece by piece (range-stream.ts). */
  rangeStreamed(r: RangeRequest): Promise<RangeResponse | StreamedRangeResponse> {
    return serveRangeStreamed(this.parts, r);
  }

  /** The store, once no swap (defrag, snapshot install) is in progress (see BackendSlot.ready). */
  storeReady(): Promise<MvccStore> {
    return this.parts.backend.ready();
  }

  /** Runs `fn` on the store and holds off swaps until it settles (see BackendSlot.withStore). */
  withStore<T>(fn: (store: MvccStore) => Promise<T>): Promise<T> {
    return this.parts.backend.withStore(fn);
  }

  put(r: PutRequest, ai?: AuthInfo): Promise<PutResponse> {
    return this.parts.proposer.propose({ put: r }, ai) as Promise<PutResponse>;
  }

  deleteRange(r: DeleteRangeRequest, ai?: AuthInfo): Promise<DeleteRangeResponse> {
    return this.parts.proposer.propose({ deleteRange: r }, ai) as Promise<DeleteRangeResponse>;
  }

  /** Read-only txns are applied here, unchecked: the API edge checks their permissions. */
  txn(r: TxnRequest, ai?: AuthInfo): Promise<TxnResponse> {
    if (isTxnReadOnly(r)) return serveReadTxn(this.parts, r);
    return this.parts.proposer.propose({ txn: r }, ai) as Promise<TxnResponse>;
  }

  async compact(r: CompactionRequest, ai?: AuthInfo): Promise<CompactionResponse> {
    const { response, done } = (await this.parts.proposer.propose({ compaction: r }, ai)) as {
      response: CompactionResponse;
      done: Promise<void>;
    };
    if (r.physical) await done;
    return response;
  }

  // ---- auth (issue 13): see auth/ and api/auth-service.ts ----

  /** Users, roles, permissions and tokens; replicated through the log, persisted in the store. */
  get auth(): AuthStore {
    return this.parts.auth;
  }

  /** Waits until this member applied everything committed when it was called (ReadIndex). */
  readBarrier(): Promise<void> {
    return this.parts.reads.wait();
  }

  /** Proposes an auth request as the user `ai`; resolves with the applied result. */
  proposeAuth(fields: Partial<InternalRaftRequest>, ai: AuthInfo | undefined): Promise<unknown> {
    return this.parts.proposer.propose(fields, ai);
  }

  /** Resolves true once raft index `index` is applied here, false after the request timeout. */
  waitApplied(index: number): Promise<boolean> {
    return this.parts.reads.waitApplied(index, this.cfg.requestTimeoutMs);
  }

  /**
   * Subscribes to committed changes: `listener` gets every event, in revision order, once the write
   * that made it is durable (so a watcher never sees a change a crash could take back).
   */
  onEvents(listener: (events: Event[]) => void): void {
    this.parts.applyLoop.onEvents(listener);
  }

  /**
   * Subscribes to history gaps: after a snapshot install whose store is compacted past what
   * `onEvents` listeners have seen, `listener` gets the new revision instead of the lost events.
   */
  onRestored(listener: (rev: number) => void): void {
    this.parts.applyLoop.onRestored(listener);
  }

  /** The newest revision whose events have been published to `onEvents` listeners. */
  get notifiedRevision(): number {
    return this.parts.applyLoop.notifiedRevision;
  }

  // ---- Cluster, Lease: see membership-service.ts and lease-service.ts ----

  memberAdd(peerUrls: string[], isLearner: boolean): Promise<MemberInfo> {
    return this.parts.membership.add(peerUrls, isLearner);
  }
  memberRemove(id: bigint): Promise<void> {
    return this.parts.membership.remove(id);
  }
  memberUpdate(id: bigint, peerUrls: string[]): Promise<void> {
    return this.parts.membership.update(id, peerUrls);
  }
  memberPromote(id: bigint): Promise<void> {
    return this.parts.membership.promote(id);
  }
  leaseGrant(r: LeaseGrantRequest, ai?: AuthInfo): Promise<LeaseGrantResponse> {
    return this.parts.leases.grant(r, ai);
  }
  leaseRevoke(id: bigint, ai?: AuthInfo): Promise<LeaseRevokeResponse> {
    return this.parts.leases.revoke(id, ai);
  }
  leaseRenew(id: bigint): Promise<number> {
    return this.parts.leases.renew(id);
  }
  leaseTimeToLive(id: bigint): Promise<{ ttl: number; granted: number }> {
    return this.parts.leases.timeToLive(id);
  }

  // ---- Maintenance: see maintenance.ts ----

  status(): MemberStatus {
    return this.parts.maintenance.status();
  }

  /** /health: ready (etcd serves no client before), a leader and no alarm, as etcd 3.4 judges it. */
  get healthy(): boolean {
    return this.isReady && !this.stopped && this.driver.leader !== 0n && this.alarms.list().length === 0;
  }

  get alarms() {
    return this.parts.backend.alarms;
  }

  /** Whether this member is a learner (it then serves only serializable reads, as etcd's). */
  get isLearner(): boolean {
    return this.membership.get(this.memberId)?.isLearner === true;
  }

  /** Maintenance.Alarm: every action goes through the log so all members agree (as etcd). */
  alarm(r: AlarmRequest): Promise<AlarmResponse> {
    return this.parts.proposer.propose({ alarm: r }) as Promise<AlarmResponse>;
  }
  checkQuota(costBytes: number): void {
    this.parts.maintenance.checkQuota(costBytes);
  }
  defragment(): Promise<void> {
    return this.parts.maintenance.defragment();
  }
  moveLeader(target: bigint): Promise<void> {
    return this.parts.maintenance.moveLeader(target);
  }

  /** Stops taking requests, waits for in-flight commits, and closes the store. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.tick?.clear();
    this.leaderChanged.failAll(etcdError('stopped'));
    this.confChanged.failAll(etcdError('stopped'));
    const { backend, proposer, peers, applyLoop } = this.parts;
    await this.driver?.stop();
    await peers.close();
    if (proposer.hasUnacked) applyLoop.flush();
    await backend.commitsSettled();
    await backend.store.commit().catch(() => {});
    await backend.compactionsSettled();
    proposer.failAll(false);
    await this.bcrypt.close();
    await backend.store.close();
  }

  /** The log or the store failed: nothing more is acknowledged and the member stops taking requests. */
  private fail(err: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.stopped = true;
    logMemberStop(this.logger, err); // a removal in etcd's words (member-removed.ts), else the disk failure
    this.parts.proposer.failAll(true);
    this.parts.reads.failAll();
    this.leaderChanged.notify();
    this.confChanged.notify();
    this.onFailed?.(err);
  }
}
