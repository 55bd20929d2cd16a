/**
 * The member: what etcd calls the EtcdServer. It owns the MVCC store, orders writes through a
 * `ConsensusLog`, applies committed entries in index order with the applied index stored atomically
 * with the data, and acknowledges a write only once it is durable.
 *
 * Ordering, stated once:
 *   propose(request) -> encoded InternalRaftRequest (size-checked) -> ConsensusLog orders it ->
 *   applyEntry(index, term, data) (one MVCC write txn, consistent index = entry index) ->
 *   store.commit() for the whole batch of this event-loop turn (one fsync) -> waiters resolved.
 * Linearizable reads wait until everything applied before them is durable, so a read never shows a
 * write that a crash could still take back. Serializable reads read the applied state at once.
 */
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  MvccError,
  MvccStore,
  type MvccStoreOptions,
  validateStoreFile,
  type WriteTxn,
} from '../mvcc/index.js';
import { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import {
  type AlarmRequest,
  AlarmRequest_AlarmAction,
  type AlarmResponse,
  AlarmType,
  type CompactionRequest,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
  type Member as MemberInfo,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { Event } from '../proto/mvccpb/kv.js';
import { type ConfChange, ConfChangeType, type Message, MessageType } from '../raft/index.js';
import { type FaultHooks, Transport } from '../transport/index.js';
import type { WalFs } from '../wal/index.js';
import { etcdError } from '../wire/errors.js';
import { GrpcError, Status } from '../wire/status.js';
import { Alarms, alarmText } from './alarms.js';
import {
  type ApplyHooks,
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
  compactionResponse,
  header,
  isTxnReadOnly,
} from './apply.js';
import type { CommittedEntry } from './consensus.js';
import { computeClusterId, computeMemberId } from './ids.js';
import { LeasePrimary, openLessor } from './lease-checkpoint.js';
import type { Lessor } from './lessor.js';
import type { Logger } from './logger.js';
import { decodeMemberContext, encodeMemberContext, Membership } from './membership.js';
import { ServerMetrics } from './metrics.js';
import { RaftDriver } from './raft-driver.js';

/** The member's configuration, from etcd's flags (see cli/flags.ts for meanings and defaults). */
export interface MemberConfig {
  name: string;
  dataDir: string;
  clientUrls: string[];
  peerUrls: string[];
  initialCluster: { name: string; peerUrls: string[] }[];
  initialClusterToken: string;
  /** Largest accepted proposal, in bytes (etcd --max-request-bytes, default 1.5 MiB). */
  maxRequestBytes: number;
  /** Most operations in one txn (etcd --max-txn-ops, default 128). */
  maxTxnOps: number;
  /** Backend size that raises the NOSPACE alarm, in bytes (0 = etcd's default of 2 GiB). */
  quotaBackendBytes: number;
  /** etcd --election-timeout in ms (default 1000); also sets the minimum lease TTL. */
  electionTimeoutMs?: number;
  /** etcd --heartbeat-interval in ms (default 100): one Raft tick. */
  heartbeatMs?: number;
  /** etcd --snapshot-count (default 100000). */
  snapshotCount?: number;
  /** etcd --max-snapshots / --max-wals (default 5 each). */
  maxSnapshots?: number;
  maxWals?: number;
  /** etcd --wal-dir; empty = <data-dir>/member/wal. */
  walDir?: string;
  /** The WAL's file system; tests pass one that can hold or fail fdatasync. Default: the real one. */
  walFs?: WalFs;
  /** WAL segment size in bytes (default 64 MiB, etcd's); tests use small ones to exercise cuts. */
  walSegmentBytes?: number;
  /** etcd --experimental-watch-progress-notify-interval in ms (default 10 minutes). */
  watchProgressNotifyIntervalMs?: number;
  /** etcd's --backend-batch-interval: how often applied writes go to lmdb; 0/absent = 100 ms. */
  backendBatchIntervalMs?: number;
  /** Where to listen for peers (etcd --listen-peer-urls); unset = no peer listener (in-process tests). */
  listenPeer?: { host: string; port: number };
  /** etcd --initial-cluster-state: 'existing' joins a running cluster (after `member add`). */
  initialClusterState?: 'new' | 'existing';
  /** etcd --strict-reconfig-check (default true): refuse changes that would cost the quorum. */
  strictReconfigCheck?: boolean;
  /** Fault injection on the peer links (tests and the fault suite): partitions, drops, delays. */
  transportFaults?: FaultHooks;
  /** Entries kept after a snapshot for slow followers (default 5000, etcd's); tests use few. */
  snapshotCatchUpEntries?: number;
  /** etcd --experimental-enable-lease-checkpoint; on unless false (etcd's default is off). */
  leaseCheckpoint?: boolean;
  /** How often the leader checkpoints remaining lease TTLs (default 5 minutes, etcd's); tests use less. */
  leaseCheckpointIntervalMs?: number;
}

/** Who this member is: fixed at its first start, then read back from its data dir. */
interface Identity {
  memberId: bigint;
  clusterId: bigint;
  members: { id: bigint; name: string; peerUrls: string[]; clientUrls?: string[]; isLearner?: boolean }[];
}

/** How long a proposal may wait to be applied before "request timed out" (etcd: 5 s + 2 elections). */
export function requestTimeoutMs(cfg: MemberConfig): number {
  return 5000 + 2 * (cfg.electionTimeoutMs ?? 1000);
}

/** The cluster's API version clients see (etcd's cluster version is major.minor.0). */
export const SERVER_VERSION = '3.4.0';
export const CLUSTER_VERSION = '3.4.0';

type Result = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** performance.now() after which it fails with "request timed out". */
  deadline: number;
}

/** etcd's default --backend-batch-interval. */
const BACKEND_BATCH_INTERVAL_MS_DEFAULT = 100;

/**
 * The member's store: the WAL makes every applied entry durable and the store is replayed from its
 * applied index after a crash, so it need not fsync per write; it commits to lmdb once per batch
 * interval, as etcd's backend does, leaving the disk's fsyncs to the WAL.
 */
function storeOptions(
  dir: string,
  cfg: MemberConfig,
  metrics: () => ServerMetrics | undefined,
  logger: Logger,
): MvccStoreOptions {
  return {
    dir,
    sync: false,
    batchIntervalMs: cfg.backendBatchIntervalMs || BACKEND_BATCH_INTERVAL_MS_DEFAULT,
    onBatchCommitted: (seconds) => metrics()?.backendCommitSeconds.observe(seconds),
    logger,
  };
}

export class Member {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly metrics = new ServerMetrics();
  private log!: RaftDriver;
  private readonly waiters = new Map<bigint, Waiter>();
  /** MemberAdd/Remove/Update/Promote waiting for their conf change, by "type:nodeId". */
  private readonly confWaiters = new Map<string, Waiter>();
  /** Results applied (durable in the WAL) and acknowledged together at the end of the turn. */
  private unacked: { waiter: Waiter | undefined; result: Result }[] = [];
  private flushScheduled = false;
  /** At most one lazy store commit runs at a time. */
  private commitInFlight = false;
  private appliedIndex: number;
  private readonly readWaiters: { index: number; resolve(): void; reject(e: unknown): void }[] = [];
  private nextRequestId: bigint;
  private stopped = false;
  private closed = false;
  /** The database file of a snapshot received and not yet installed. */
  private incomingSnapshotDb: string | undefined;
  private fatal: unknown;
  private compactions: Promise<void>[] = [];
  /** The store; replaced as a whole when a snapshot from the leader is installed. */
  store: MvccStore;
  lessor: Lessor;
  /** The leader's side of leases: promotion, keep-alives, checkpoints (see lease-checkpoint.ts). */
  private readonly leasePrimary: LeasePrimary;
  membership: Membership;
  alarms: Alarms;
  private transport: Transport | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly hooks: ApplyHooks;
  /** Events of applied writes, published together at the end of the turn. */
  private pendingEvents: Event[] = [];
  private readonly eventListeners: ((events: Event[]) => void)[] = [];
  private notifiedRev: number;
  /** Set while the store is being replaced (defrag, snapshot install); requests wait for it. */
  private swapping: Promise<void> | undefined;
  /** Operations spanning several turns on the store (hash, copies); a swap waits for them. */
  private storeUsers = 0;
  private storeIdle: (() => void) | undefined;

  private constructor(
    readonly cfg: MemberConfig,
    store: MvccStore,
    readonly logger: Logger,
    private readonly identity: Identity,
  ) {
    this.store = store;
    this.lessor = openLessor(store, cfg, minLeaseTtlSeconds(cfg));
    this.leasePrimary = new LeasePrimary({
      lessor: () => this.lessor,
      isLeader: () => this.log?.leader === this.memberId,
      term: () => this.log.term,
      stopped: () => this.stopped,
      proposeCheckpoint: (leaseCheckpoint) => this.propose({ leaseCheckpoint }),
      requestTimeoutMs: requestTimeoutMs(cfg),
      electionTimeoutMs: cfg.electionTimeoutMs ?? 1000,
      onError: (message, err) => this.logger.warn({ err: String(err) }, message),
    });
    // Through `this`: a snapshot install replaces the store and with it the lessor.
    this.hooks = {
      leaseExists: (id) => this.lessor.lookup(id) !== undefined,
      onPut: (key, lease) => this.lessor.onPut(key, lease),
      onDelete: (key) => this.lessor.onDelete(key),
    };
    this.attachLeasedKeys();
    this.memberId = identity.memberId;
    this.clusterId = identity.clusterId;
    this.membership = new Membership(identity.members, store);
    this.alarms = new Alarms(store);
    this.appliedIndex = store.consistentIndex;
    this.notifiedRev = store.rev;
    // Request ids: member-unique prefix, then a counter (etcd's idutil does the same).
    this.nextRequestId = ((this.memberId & 0xffffn) << 48n) | ((BigInt(Date.now()) & 0xffffffffffn) << 8n);
  }

  /**
   * Opens (or creates) the member's data: the store under `<data-dir>/member/snap/db`, the WAL under
   * `<data-dir>/member/wal` (replayed from the store's applied index), and waits for a leader.
   */
  static async start(cfg: MemberConfig, logger: Logger): Promise<Member> {
    const dir = join(cfg.dataDir, 'member', 'snap', 'db');
    mkdirSync(dir, { recursive: true });
    const started = performance.now();
    let member: Member | undefined;
    const store = await MvccStore.open(storeOptions(dir, cfg, () => member?.metrics, logger));
    let identity: Identity;
    try {
      identity = await resolveIdentity(cfg, store, logger);
    } catch (err) {
      await store.close();
      throw err;
    }
    member = new Member(cfg, store, logger, identity);
    const heartbeatMs = cfg.heartbeatMs ?? 100;
    try {
      if (cfg.listenPeer) await member.startTransport(cfg.listenPeer);
      member.log = await RaftDriver.open({
        dataDir: cfg.dataDir,
        walDir: cfg.walDir,
        walFs: cfg.walFs,
        walSegmentBytes: cfg.walSegmentBytes,
        memberId: member.memberId,
        clusterId: member.clusterId,
        initialVoters: member.membership
          .list()
          .filter((m) => !m.isLearner)
          .map((m) => m.id),
        join: cfg.initialClusterState === 'existing',
        heartbeatMs,
        electionTicks: Math.max(2, Math.round((cfg.electionTimeoutMs ?? 1000) / heartbeatMs)),
        snapshotCount: cfg.snapshotCount ?? 100_000,
        maxSnapshots: cfg.maxSnapshots ?? 5,
        maxWals: cfg.maxWals ?? 5,
        storeAppliedIndex: store.consistentIndex,
        readTimeoutMs: requestTimeoutMs(cfg),
        logger,
        onCommitted: (e) => member.applyEntry(e),
        onAppliedIndex: (index, term) => member.advanceAppliedIndex(index, term),
        onConfChange: (cc, index) => member.applyConfChange(cc, index),
        installSnapshot: (snap) => member.installSnapshot(snap),
        snapshotCatchUpEntries: cfg.snapshotCatchUpEntries,
        // Through `member`: Defragment and snapshot installs replace the store after start.
        prepareSnapshot: () => member.store.syncAll(),
        send: (msgs) => member.sendToPeers(msgs),
        onLeaderChange: (leader) => member.onLeaderChange(leader),
        onFsync: (seconds) => member.metrics.walFsyncSeconds.observe(seconds),
        onFatal: (err) => member.fail(err, []),
      });
      await member.log.waitForLeader(requestTimeoutMs(cfg));
      await member.publishAttributes();
    } catch (err) {
      // Peers that refused our cluster id explain a missing leader better than "no leader".
      const refused = member.peersRefusingClusterId();
      await member.log?.stop().catch(() => {});
      await member.transport?.close().catch(() => {});
      await store.close();
      if (refused.length > 0) {
        throw new Error(
          `cluster ID mismatch: the members at ${refused.join(', ')} belong to another cluster than ${member.clusterId.toString(16)} (check --initial-cluster-token and --initial-cluster)`,
        );
      }
      throw err;
    }
    member.startLeaseExpiry();
    logger.info(
      {
        'member-id': member.memberId.toString(16),
        'cluster-id': member.clusterId.toString(16),
        'consistent-index': store.consistentIndex,
        revision: store.rev,
        'took-ms': Math.round(performance.now() - started),
      },
      'opened backend',
    );
    member.metrics.dbTotalSize.set(store.dbSize());
    return member;
  }

  get term(): number {
    return this.log.term;
  }

  /** Peer URLs whose members answered "cluster ID mismatch" (a bootstrap with the wrong token). */
  private peersRefusingClusterId(): string[] {
    const out: string[] = [];
    for (const [id, st] of this.transport?.stats() ?? []) {
      if (!st.lastError?.includes('cluster ID mismatch')) continue;
      out.push(...(this.membership.get(id)?.peerUrls ?? [id.toString(16)]));
    }
    return out;
  }

  get leader(): bigint {
    return this.log.leader;
  }

  get committed(): number {
    return this.log.committedIndex;
  }

  /** Members of the cluster as MemberList shows them. */
  members(): MemberInfo[] {
    return this.membership.list().map((m) => ({
      ID: m.id,
      // This member's own facts are known first-hand, even before its attributes are published.
      name: m.id === this.memberId ? this.cfg.name : m.name,
      peerURLs: m.peerUrls,
      clientURLs: m.id === this.memberId ? this.cfg.clientUrls : m.clientUrls,
      isLearner: m.isLearner,
    }));
  }

  // ---- reads ----

  async range(r: RangeRequest): Promise<RangeResponse> {
    if (!r.serializable) await this.linearizableReadBarrier();
    if (this.swapping) await this.storeReady();
    return mapMvccErrors(() => applyRange(this.store, r));
  }

  /**
   * The store, once no swap (defrag, snapshot install) is in progress: requests that arrive during
   * one wait for the new store instead of failing, at most the request timeout.
   */
  async storeReady(): Promise<MvccStore> {
    const deadline = performance.now() + requestTimeoutMs(this.cfg);
    while (this.swapping) {
      const left = deadline - performance.now();
      if (left <= 0) throw etcdError('timeout');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.swapping,
        new Promise((r) => {
          timer = setTimeout(r, left);
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.stopped) throw etcdError('stopped');
    return this.store;
  }

  /**
   * Runs `fn` on the store and keeps the store from being swapped out (defrag, snapshot install)
   * until `fn` settles: for operations that span several event-loop turns (hashes, copies).
   */
  async withStore<T>(fn: (store: MvccStore) => Promise<T>): Promise<T> {
    const store = await this.storeReady();
    this.storeUsers++;
    try {
      return await fn(store);
    } finally {
      if (--this.storeUsers === 0) this.storeIdle?.();
    }
  }

  // ---- writes ----

  put(r: PutRequest): Promise<PutResponse> {
    return this.propose({ put: r }) as Promise<PutResponse>;
  }

  deleteRange(r: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.propose({ deleteRange: r }) as Promise<DeleteRangeResponse>;
  }

  async txn(r: TxnRequest): Promise<TxnResponse> {
    if (isTxnReadOnly(r)) {
      if (!txnIsSerializable(r)) await this.linearizableReadBarrier();
      if (this.swapping) await this.storeReady();
      return mapMvccErrors(() =>
        applyTxn(this.store, r, this.hooks, () => this.store.write(this.appliedIndex)),
      );
    }
    return this.propose({ txn: r }) as Promise<TxnResponse>;
  }

  async compact(r: CompactionRequest): Promise<CompactionResponse> {
    const { response, done } = (await this.propose({ compaction: r })) as {
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

  private propose(fields: Partial<InternalRaftRequest>): Promise<unknown> {
    if (this.stopped) return Promise.reject(etcdError('stopped'));
    // As etcd: applying has fallen too far behind what is committed, so refuse more work for now.
    if (this.log.knownCommittedIndex > this.appliedIndex + MAX_GAP_BETWEEN_APPLY_AND_COMMIT) {
      return Promise.reject(etcdError('tooManyRequests'));
    }
    const id = this.nextRequestId++;
    const request = InternalRaftRequest.fromPartial({ ...fields, header: { ID: id } });
    const data = InternalRaftRequest.encode(request).finish();
    if (data.length > this.cfg.maxRequestBytes) return Promise.reject(etcdError('requestTooLarge'));
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, deadline: performance.now() + requestTimeoutMs(this.cfg) });
      this.metrics.proposalsPending.inc();
      try {
        this.log.propose(data);
      } catch (err) {
        this.waiters.delete(id);
        this.metrics.proposalsPending.dec();
        this.metrics.proposalsFailed.inc();
        reject(err);
      }
    });
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

  /** Opens a write txn whose events are kept for publication after the durable commit. */
  private beginWrite(index: number): WriteTxn {
    const txn = this.store.write(index);
    const end = txn.end.bind(txn);
    txn.end = () => {
      const r = end();
      for (const e of r.events) this.pendingEvents.push(e);
      return r;
    };
    return txn;
  }

  /**
   * A committed membership change, applied in index order: the member table changes in the entry's
   * write txn, the transport follows, and a waiting MemberAdd/Remove/Update/Promote is answered.
   */
  private applyConfChange(cc: ConfChange, index: number): void {
    if (index <= this.appliedIndex) return; // already in the store (replay after restart)
    const ctx = decodeMemberContext(cc.context);
    const txn = this.beginWrite(index);
    try {
      switch (cc.type) {
        case ConfChangeType.AddNode:
        case ConfChangeType.AddLearnerNode: {
          const known = this.membership.get(cc.nodeId);
          const record = ctx ?? known;
          if (record) {
            this.membership.add({
              ...record,
              id: cc.nodeId,
              isLearner: cc.type === ConfChangeType.AddLearnerNode,
            });
          }
          break;
        }
        case ConfChangeType.RemoveNode:
          this.membership.remove(cc.nodeId);
          break;
        case ConfChangeType.UpdateNode:
          if (ctx) this.membership.updatePeerUrls(cc.nodeId, ctx.peerUrls);
          break;
      }
    } finally {
      txn.end();
    }
    this.appliedIndex = index;
    if (this.transport && cc.nodeId !== this.memberId) {
      const m = this.membership.get(cc.nodeId);
      if (cc.type === ConfChangeType.RemoveNode) this.transport.removePeer(cc.nodeId);
      else if (m) this.transport.addPeer(cc.nodeId, m.peerUrls);
    }
    const key = `${cc.type}:${cc.nodeId}`;
    const waiter = this.confWaiters.get(key);
    if (waiter) {
      this.confWaiters.delete(key);
      waiter.resolve(undefined);
    }
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.memberId) {
      // As etcd: a removed member stops serving ("the member has been permanently removed").
      this.logger.warn(
        { 'member-id': this.memberId.toString(16) },
        'the member has been permanently removed from the cluster',
      );
      setImmediate(() =>
        this.fail(new Error('the member has been permanently removed from the cluster'), []),
      );
    }
    this.scheduleFlush();
  }

  // ---- membership (Cluster service) ----

  /** MemberAdd: a new voter or learner with these peer URLs; answers once the change is applied. */
  async memberAdd(peerUrls: string[], isLearner: boolean): Promise<MemberInfo> {
    if (this.stopped) throw etcdError('stopped');
    if (peerUrls.length === 0 || !peerUrls.every(validPeerUrl)) throw etcdError('memberBadURLs');
    for (const u of peerUrls) if (this.membership.byPeerUrl(u)) throw etcdError('peerURLExist');
    const members = this.membership.list();
    if (isLearner && members.filter((m) => m.isLearner).length >= MAX_LEARNERS)
      throw etcdError('tooManyLearners');
    if (!isLearner && this.strictReconfig()) {
      const voters = members.filter((m) => !m.isLearner).length + 1;
      const started = this.startedVoters();
      // As etcd: a lone member may always add a second one (how a cluster is rebuilt from a backup).
      const loneGrowing = started === 1 && voters === 2;
      if (!loneGrowing && started < Math.floor(voters / 2) + 1) throw etcdError('memberNotEnoughStarted');
    }
    // As etcd: only while every voter has been reachable for a while ("unhealthy cluster").
    if (this.strictReconfig() && !this.votersConnectedSince(Date.now() - HEALTH_INTERVAL_MS).all)
      throw etcdError('unhealthy');
    const id = computeMemberId(peerUrls, this.cfg.initialClusterToken, Math.floor(Date.now() / 1000));
    const record = { id, name: '', peerUrls, clientUrls: [], isLearner };
    await this.proposeConfChange({
      type: isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      nodeId: id,
      context: encodeMemberContext(record),
    });
    return { ID: id, name: '', peerURLs: peerUrls, clientURLs: [], isLearner };
  }

  async memberRemove(id: bigint): Promise<void> {
    if (this.stopped) throw etcdError('stopped');
    const m = this.membership.get(id);
    if (!m) throw etcdError('memberNotFound');
    if (!m.isLearner && this.strictReconfig()) {
      const voters = this.membership.list().filter((x) => !x.isLearner && x.id !== id).length;
      const started = this.startedVoters() - (this.isStarted(id) ? 1 : 0);
      if (started < Math.floor(voters / 2) + 1) throw etcdError('memberNotEnoughStarted');
      // As etcd: removing a member that is down is safe; otherwise the active quorum must survive.
      const down = id !== this.memberId && (this.transport?.stats().get(id)?.activeSince ?? 0) === 0;
      if (!down) {
        const { active, voters: all } = this.votersConnectedSince(Date.now() - HEALTH_INTERVAL_MS);
        if (active - 1 < 1 + Math.floor((all - 1) / 2)) throw etcdError('unhealthy');
      }
    }
    await this.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) });
  }

  async memberUpdate(id: bigint, peerUrls: string[]): Promise<void> {
    if (this.stopped) throw etcdError('stopped');
    const m = this.membership.get(id);
    if (!m) throw etcdError('memberNotFound');
    if (peerUrls.length === 0 || !peerUrls.every(validPeerUrl)) throw etcdError('memberBadURLs');
    for (const u of peerUrls) {
      const other = this.membership.byPeerUrl(u);
      if (other && other.id !== id) throw etcdError('peerURLExist');
    }
    await this.proposeConfChange({
      type: ConfChangeType.UpdateNode,
      nodeId: id,
      context: encodeMemberContext({ ...m, peerUrls }),
    });
  }

  /** MemberPromote: only a learner that has caught up (90% of the leader's log) becomes a voter. */
  async memberPromote(id: bigint): Promise<void> {
    if (this.stopped) throw etcdError('stopped');
    const m = this.membership.get(id);
    if (!m) throw etcdError('memberNotFound');
    if (!m.isLearner) throw etcdError('memberNotLearner');
    if (this.log.leader !== this.memberId) {
      await this.askLeader('promote', id);
      // Answer once the promotion is applied here too, as MemberAdd/Remove do.
      const deadline = performance.now() + requestTimeoutMs(this.cfg);
      while (this.membership.get(id)?.isLearner !== false) {
        if (performance.now() > deadline || this.stopped) throw etcdError('timeout');
        await new Promise((r) => setTimeout(r, 10));
      }
      return;
    }
    this.checkLearnerReady(id);
    await this.proposeConfChange({
      type: ConfChangeType.AddNode,
      nodeId: id,
      context: encodeMemberContext({ ...m, isLearner: false }),
    });
  }

  private checkLearnerReady(id: bigint): void {
    const progress = this.log.progress();
    const leaderMatch = progress.get(this.memberId) ?? this.log.committedIndex;
    const learnerMatch = progress.get(id) ?? 0;
    if (learnerMatch < leaderMatch * LEARNER_READY_FRACTION) throw etcdError('learnerNotReady');
  }

  private strictReconfig(): boolean {
    return this.cfg.strictReconfigCheck !== false;
  }

  private isStarted(id: bigint): boolean {
    if (id === this.memberId) return true;
    return this.transport?.stats().get(id)?.connected ?? false;
  }

  /** Voters (this member counts) whose link has been up since `since` (etcd's numConnectedSince). */
  private votersConnectedSince(since: number): { active: number; voters: number; all: boolean } {
    const voters = this.membership.list().filter((m) => !m.isLearner);
    let active = 0;
    for (const m of voters) {
      if (m.id === this.memberId) {
        active++;
        continue;
      }
      const t = this.transport?.stats().get(m.id)?.activeSince ?? 0;
      if (t !== 0 && t <= since) active++;
    }
    return { active, voters: voters.length, all: active === voters.length };
  }

  /** Voters this member can reach now (itself included): etcd's "started members". */
  private startedVoters(): number {
    return this.membership.list().filter((m) => !m.isLearner && this.isStarted(m.id)).length;
  }

  private proposeConfChange(cc: ConfChange): Promise<void> {
    const key = `${cc.type}:${cc.nodeId}`;
    if (this.confWaiters.has(key)) return Promise.reject(etcdError('timeout'));
    return new Promise((resolve, reject) => {
      this.confWaiters.set(key, {
        resolve,
        reject,
        deadline: performance.now() + requestTimeoutMs(this.cfg),
      });
      try {
        this.log.proposeConfChange(cc);
      } catch (err) {
        this.confWaiters.delete(key);
        reject(err);
      }
    });
  }

  /** An entry with nothing for the store (empty or a conf change) was applied: reads may proceed. */
  private advanceAppliedIndex(index: number, term: number): void {
    if (index <= this.appliedIndex) return;
    this.leasePrimary.onEmptyEntryApplied(term);
    this.appliedIndex = index;
    this.scheduleFlush();
  }

  /** Applies one committed entry. Runs for every entry exactly once, in index order. */
  private applyEntry(entry: CommittedEntry): void {
    if (entry.index <= this.appliedIndex) return; // already in the store (replay after restart)
    const request = InternalRaftRequest.decode(entry.data);
    const id = request.header?.ID ?? 0n;
    const waiter = this.waiters.get(id);
    if (waiter) this.waiters.delete(id);
    let result: Result;
    try {
      result = { ok: true, value: this.applyRequest(request, entry.index) };
    } catch (error) {
      result = { ok: false, error: toServerError(error) };
    }
    this.appliedIndex = entry.index;
    this.metrics.proposalsCommitted.inc();
    this.metrics.proposalsApplied.inc();
    this.unacked.push({ waiter, result });
    this.scheduleFlush();
  }

  private applyRequest(req: InternalRaftRequest, index: number): unknown {
    if (req.put) {
      const txn = this.beginWrite(index);
      try {
        if (this.alarms.noSpace) throw etcdError('noSpace');
        return applyPut(txn, req.put, this.hooks);
      } finally {
        txn.end();
      }
    }
    if (req.deleteRange) {
      const txn = this.beginWrite(index);
      try {
        return applyDeleteRange(txn, req.deleteRange, this.hooks);
      } finally {
        txn.end();
      }
    }
    if (req.txn) {
      const t = req.txn;
      let opened = false;
      try {
        if (this.alarms.noSpace && txnPuts(t)) throw etcdError('noSpace');
        return applyTxn(this.store, t, this.hooks, () => {
          opened = true;
          return this.beginWrite(index);
        });
      } finally {
        // A txn that failed its checks wrote nothing, but the entry is still applied.
        if (!opened) this.beginWrite(index).end();
      }
    }
    if (req.compaction) {
      let done: Promise<void>;
      try {
        done = this.store.compact(Number(req.compaction.revision)).done;
      } finally {
        // Applied even when refused (compacted or future revision): the index still advances.
        this.beginWrite(index).end();
      }
      const tracked = done.then(
        () => {
          this.metrics.dbTotalSize.set(this.store.dbSize());
        },
        (err: unknown) => {
          this.logger.error({ err: String(err) }, 'compaction failed');
        },
      );
      this.compactions.push(tracked);
      if (this.compactions.length > 16) this.compactions = this.compactions.slice(-16);
      return { response: compactionResponse(this.store.rev), done: tracked };
    }
    if (req.alarm) {
      const a = req.alarm;
      if (a.action === AlarmRequest_AlarmAction.GET) {
        this.beginWrite(index).end();
        return { header: undefined, alarms: this.alarms.list(a.alarm) };
      }
      const txn = this.beginWrite(index);
      try {
        const m =
          a.action === AlarmRequest_AlarmAction.ACTIVATE
            ? this.alarms.activate({ memberID: a.memberID, alarm: a.alarm })
            : this.alarms.deactivate({ memberID: a.memberID, alarm: a.alarm });
        if (m && a.action === AlarmRequest_AlarmAction.ACTIVATE) {
          this.logger.warn({ alarm: alarmText(m) }, 'alarm raised');
        }
        return { header: undefined, alarms: m ? [m] : [] };
      } finally {
        txn.end();
      }
    }
    if (req.clusterMemberAttrSet) {
      const a = req.clusterMemberAttrSet;
      const txn = this.beginWrite(index);
      try {
        this.membership.setAttributes(
          a.memberID,
          a.memberAttributes?.name ?? '',
          a.memberAttributes?.clientUrls ?? [],
        );
      } finally {
        txn.end();
      }
      return {};
    }
    if (req.leaseGrant) {
      // Inside the entry's write txn, so the lease record lands with this entry's applied index.
      const txn = this.beginWrite(index);
      try {
        if (this.alarms.noSpace) throw etcdError('noSpace');
        const ttl = this.lessor.grant(req.leaseGrant.ID, Number(req.leaseGrant.TTL));
        return { header: header(this.store.rev), ID: req.leaseGrant.ID, TTL: BigInt(ttl), error: '' };
      } finally {
        txn.end();
      }
    }
    if (req.leaseRevoke) {
      const txn = this.beginWrite(index);
      try {
        // All of the lease's keys go in one revision, as etcd deletes them in one txn.
        for (const k of this.lessor.revoke(req.leaseRevoke.ID))
          txn.deleteRange(Buffer.from(k, 'latin1'), undefined);
      } finally {
        txn.end();
      }
      return { header: header(this.store.rev) };
    }
    if (req.leaseCheckpoint) {
      const txn = this.beginWrite(index);
      try {
        this.leasePrimary.apply(req.leaseCheckpoint);
      } finally {
        txn.end();
      }
      return { header: header(this.store.rev) };
    }
    // An entry this version cannot apply still advances the index, so every member stays aligned.
    this.beginWrite(index).end();
    throw etcdError('notCapable');
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * End of a turn's applying: publish the events, acknowledge the requests (their entries are durable
   * in the WAL), release reads, and let the store commit to lmdb in the background (one lazy commit
   * at a time; a failed one stops the member).
   */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.unacked;
    this.unacked = [];
    const events = this.pendingEvents;
    this.pendingEvents = [];
    this.notifiedRev = this.store.rev;
    if (events.length > 0) {
      for (const l of this.eventListeners) {
        try {
          l(events);
        } catch (err) {
          this.logger.error({ err: String(err) }, 'event listener failed');
        }
      }
    }
    for (const { waiter, result } of batch) {
      this.metrics.proposalsPending.dec();
      if (!waiter) continue;
      if (result.ok) waiter.resolve(result.value);
      else waiter.reject(result.error);
    }
    this.releaseReads();
    if (!this.commitInFlight && !this.stopped) {
      this.commitInFlight = true;
      this.store.committedLazily().then(
        () => {
          this.commitInFlight = false;
          this.metrics.dbTotalSize.set(this.store.dbSize());
        },
        (err: unknown) => {
          this.commitInFlight = false;
          this.fail(err, []);
        },
      );
    }
  }

  /** The log or the store failed: nothing more is acknowledged and the member stops taking requests. */
  private fail(err: unknown, batch: { waiter: Waiter | undefined }[]): void {
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.stopped = true;
    this.logger.error({ err: String(err) }, 'the member failed (disk); it stops serving');
    for (const { waiter } of batch) waiter?.reject(etcdError('stopped'));
    for (const w of this.waiters.values()) {
      this.metrics.proposalsFailed.inc();
      w.reject(etcdError('stopped'));
    }
    this.waiters.clear();
    for (const w of this.confWaiters.values()) w.reject(etcdError('stopped'));
    this.confWaiters.clear();
    for (const r of this.readWaiters.splice(0)) r.reject(etcdError('stopped'));
  }

  /** ReadIndex: learn the commit index from the leader, then wait until it is applied here. */
  private async linearizableReadBarrier(): Promise<void> {
    if (this.stopped) throw etcdError('stopped');
    const index = await this.log.readIndex();
    if (this.appliedIndex >= index) return;
    await new Promise<void>((resolve, reject) => this.readWaiters.push({ index, resolve, reject }));
  }

  private releaseReads(): void {
    let kept = 0;
    for (const r of this.readWaiters) {
      if (r.index <= this.appliedIndex) r.resolve();
      else this.readWaiters[kept++] = r;
    }
    this.readWaiters.length = kept;
  }

  private onLeaderChange(leader: bigint): void {
    this.metrics.hasLeader.set(leader !== 0n ? 1 : 0);
    this.metrics.isLeader.set(leader === this.memberId ? 1 : 0);
    if (leader !== 0n) this.metrics.leaderChanges.inc();
    // A member that stops leading stops keeping lease time; a new leader starts once it applied its
    // term's first entry (LeasePrimary.onEmptyEntryApplied), as etcd's lessor Promote does.
    this.leasePrimary.onLeaderChange();
  }

  /** Fails proposals that waited too long to be applied (lost on a leader change, or a stuck disk). */
  private expireWaiters(): void {
    const now = performance.now();
    for (const [key, w] of this.confWaiters) {
      if (w.deadline > now) continue;
      this.confWaiters.delete(key);
      w.reject(etcdError('timeout'));
    }
    for (const [id, w] of this.waiters) {
      if (w.deadline > now) continue;
      this.waiters.delete(id);
      this.metrics.proposalsPending.dec();
      this.metrics.proposalsFailed.inc();
      w.reject(etcdError('timeout'));
    }
  }

  /** Status as Maintenance.Status reports it. */
  status(): {
    dbSize: number;
    dbSizeInUse: number;
    raftIndex: number;
    raftAppliedIndex: number;
    errors: string[];
  } {
    return {
      dbSize: this.store.dbSize(),
      dbSizeInUse: this.store.dbSizeInUse(),
      raftIndex: this.log.committedIndex,
      raftAppliedIndex: this.appliedIndex,
      errors: [...(this.fatal ? [String(this.fatal)] : []), ...this.alarms.list().map(alarmText)],
    };
  }

  /** /health: a leader and no alarm, as etcd 3.4 judges it. */
  get healthy(): boolean {
    return !this.stopped && this.log.leader !== 0n && this.alarms.list().length === 0;
  }

  /** Whether this member is a learner (it then serves only serializable reads, as etcd's). */
  get isLearner(): boolean {
    return this.membership.get(this.memberId)?.isLearner === true;
  }

  /** Maintenance.Alarm: every action goes through the log so all members agree (as etcd). */
  alarm(r: AlarmRequest): Promise<AlarmResponse> {
    return this.propose({ alarm: r }) as Promise<AlarmResponse>;
  }

  /**
   * etcd's space quota: a write that would grow the database past --quota-backend-bytes raises the
   * NOSPACE alarm (for this member) and is refused.
   */
  checkQuota(costBytes: number): void {
    if (costBytes <= 0) return;
    const quota = this.cfg.quotaBackendBytes > 0 ? this.cfg.quotaBackendBytes : DEFAULT_QUOTA_BYTES;
    if (this.store.dbSize() + costBytes < quota) return;
    if (!this.alarms.noSpace) {
      this.alarm({
        action: AlarmRequest_AlarmAction.ACTIVATE,
        memberID: this.memberId,
        alarm: AlarmType.NOSPACE,
      }).catch(() => {});
    }
    throw etcdError('noSpace');
  }

  /**
   * Maintenance.Defragment: a compacting copy of the database replaces it, while no entry is
   * applied (proposals wait). Reads that arrive during the swap wait for the new store.
   */
  async defragment(): Promise<void> {
    if (this.stopped) throw etcdError('stopped');
    await this.log.exclusive(async () => {
      const dir = join(this.cfg.dataDir, 'member', 'snap', 'defrag');
      rmSync(dir, { recursive: true, force: true });
      const before = this.store.dbSize();
      const file = await this.store.backupTo(dir, true);
      await this.replaceStore(file);
      rmSync(dir, { recursive: true, force: true });
      this.logger.info(
        { 'before-bytes': before, 'after-bytes': this.store.dbSize() },
        'defragmented the database',
      );
    });
  }

  /** Swaps in the database `file` (data.mdb) and reloads everything that lives in it. */
  private async replaceStore(file: string): Promise<void> {
    let swapped!: () => void;
    this.swapping = new Promise((r) => {
      swapped = r;
    });
    try {
      while (this.storeUsers > 0) {
        await new Promise<void>((r) => {
          this.storeIdle = r;
        });
      }
      this.storeIdle = undefined;
      await this.swapStore(file);
    } finally {
      this.swapping = undefined;
      swapped();
    }
  }

  private async swapStore(file: string): Promise<void> {
    const dir = join(this.cfg.dataDir, 'member', 'snap', 'db');
    if (this.unacked.length > 0) this.flush();
    while (this.commitInFlight) await new Promise((r) => setImmediate(r));
    await this.store.close();
    renameSync(file, join(dir, 'db', 'data.mdb'));
    rmSync(join(dir, 'db', 'lock.mdb'), { force: true });
    this.store = await MvccStore.open(storeOptions(dir, this.cfg, () => this.metrics, this.logger));
    await this.store.syncAll();
    this.appliedIndex = this.store.consistentIndex;
    this.lessor = openLessor(this.store, this.cfg, minLeaseTtlSeconds(this.cfg));
    this.attachLeasedKeys();
    this.membership = new Membership(this.identity.members, this.store);
    this.alarms = new Alarms(this.store);
    this.metrics.dbTotalSize.set(this.store.dbSize());
  }

  /** Stops taking requests, waits for in-flight commits, and closes the store. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    await this.log?.stop();
    await this.transport?.close().catch(() => {});
    if (this.unacked.length > 0) this.flush();
    while (this.commitInFlight) await new Promise((r) => setImmediate(r));
    await this.store.commit().catch(() => {});
    await this.compactionsSettled();
    for (const w of this.waiters.values()) w.reject(etcdError('stopped'));
    this.waiters.clear();
    await this.store.close();
  }

  /**
   * Maintenance.MoveLeader: only the leader may hand over, only to a voting member; resolves once the
   * target leads, or fails after the request timeout (etcd's "leader transfer took too long").
   */
  async moveLeader(target: bigint): Promise<void> {
    if (this.stopped) throw etcdError('stopped');
    if (this.log.leader !== this.memberId) throw etcdError('notLeader');
    const m = this.membership.get(target);
    if (!m || m.isLearner) throw etcdError('badLeaderTransferee');
    if (target === this.memberId) return;
    this.log.transferLeadership(target);
    const deadline = performance.now() + requestTimeoutMs(this.cfg);
    while (this.log.leader !== target) {
      if (performance.now() > deadline || this.stopped) {
        throw new GrpcError(Status.UNKNOWN, 'etcdserver: request timed out, leader transfer took too long');
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ---- leases ----

  /** Grants a lease; the id is chosen here when the client left it 0, so every member agrees. */
  leaseGrant(r: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    let id = r.ID;
    if (id === 0n) id = this.nextRequestId++ & 0x7fffffffffffffffn;
    return this.propose({ leaseGrant: { ID: id, TTL: r.TTL } }) as Promise<LeaseGrantResponse>;
  }

  leaseRevoke(id: bigint): Promise<LeaseRevokeResponse> {
    return this.propose({ leaseRevoke: { ID: id } }) as Promise<LeaseRevokeResponse>;
  }

  /**
   * Keep-alive: renews to the full TTL; 0 when the lease does not exist (etcd answers TTL 0). Only
   * the leader's lessor knows real expiries, so a follower asks the leader, as etcd does.
   */
  async leaseRenew(id: bigint): Promise<number> {
    if (this.stopped) throw etcdError('stopped');
    if (this.log.leader === this.memberId) return this.leasePrimary.renew(id);
    return (await this.askLeader('renew', id)).ttl;
  }

  /** Remaining TTL (whole seconds, -1 = no such lease) and granted TTL, from the leader. */
  async leaseTimeToLive(id: bigint): Promise<{ ttl: number; granted: number }> {
    if (this.stopped) throw etcdError('stopped');
    if (this.log.leader === this.memberId) return this.leasePrimary.timeToLive(id);
    const r = await this.askLeader('ttl', id);
    return { ttl: r.ttl, granted: r.granted };
  }

  private async askLeader(
    op: 'renew' | 'ttl' | 'promote',
    id: bigint,
  ): Promise<{ ttl: number; granted: number }> {
    const leader = this.membership.get(this.log.leader);
    const url = leader?.peerUrls[0];
    if (!url) throw etcdError('noLeader');
    let res: Response;
    try {
      res = await fetch(`${url.replace(/\/+$/, '')}${LEASE_PEER_PATH}`, {
        method: 'POST',
        body: JSON.stringify({ op, id: id.toString() }),
        signal: AbortSignal.timeout(requestTimeoutMs(this.cfg)),
      });
    } catch {
      throw etcdError('timeout');
    }
    if (res.status === 409) throw etcdError((await res.text()) as 'learnerNotReady');
    if (res.status !== 200) throw etcdError(res.status === 503 ? 'notLeader' : 'timeout');
    return (await res.json()) as { ttl: number; granted: number };
  }

  /** Starts the peer listener and links to every other member of the initial cluster. */
  private async startTransport(listen: { host: string; port: number }): Promise<void> {
    const t = await Transport.start({
      localId: this.memberId,
      clusterId: this.clusterId,
      listen,
      advertisePeerUrls: this.cfg.peerUrls,
      logger: this.logger,
      onMessage: (m: Message) => this.log?.step(m),
      onUnreachable: (id: bigint) => this.log?.reportUnreachable(id),
      onSnapshot: (m: Message, data) => this.receiveSnapshot(m, data),
      onSnapshotStatus: (id: bigint, ok: boolean) => {
        if (ok) this.metrics.snapshotSendSuccess.inc();
        this.log?.reportSnapshot(id, ok);
      },
      faults: this.cfg.transportFaults,
    });
    this.transport = t;
    for (const m of this.membership.list()) if (m.id !== this.memberId) t.addPeer(m.id, m.peerUrls);
    t.server.handle(MEMBERS_PEER_PATH, (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-etcd-cluster-id': this.clusterId.toString(16),
      });
      res.end(this.membersJson());
    });
    t.server.handle(LEASE_PEER_PATH, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.log?.leader !== this.memberId || this.stopped) {
          res.writeHead(503);
          res.end();
          return;
        }
        const { op, id } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { op: string; id: string };
        const lease = BigInt(id);
        if (op === 'promote') {
          this.memberPromote(lease).then(
            () => {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end('{"ttl":0,"granted":0}');
            },
            (err: unknown) => {
              const kind = (err as { kind?: string }).kind;
              res.writeHead(kind ? 409 : 500);
              res.end(kind ?? String(err));
            },
          );
          return;
        }
        const answer =
          op === 'renew'
            ? this.leasePrimary.renew(lease).then((ttl) => ({ ttl, granted: 0 }))
            : this.leasePrimary.timeToLive(lease);
        answer.then(
          (body) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
          },
          (err: unknown) => {
            // Not (or no longer) the leader: the follower answers "not leader"; anything else times out.
            res.writeHead((err as { kind?: string }).kind === 'notLeader' ? 503 : 500);
            res.end(String(err));
          },
        );
      });
    });
  }

  /** The peer-port /members answer: what a member joining with --initial-cluster-state existing reads. */
  private membersJson(): string {
    return JSON.stringify({
      clusterId: this.clusterId.toString(16),
      members: this.membership.list().map((m) => ({
        id: m.id.toString(16),
        name: m.name,
        peerURLs: m.peerUrls,
        clientURLs: m.clientUrls,
        isLearner: m.isLearner,
      })),
    });
  }

  private sendToPeers(msgs: readonly Message[]): void {
    const t = this.transport;
    if (!t) {
      this.logger.warn({ count: msgs.length }, 'dropping raft messages: no peer listener configured');
      return;
    }
    // Snapshots are rare and streamed separately; the usual Ready goes out without a copy.
    if (!msgs.some((m) => m.type === MessageType.Snap)) {
      t.send(msgs);
      return;
    }
    const plain = msgs.filter((m) => m.type !== MessageType.Snap);
    if (plain.length > 0) t.send(plain);
    for (const m of msgs) if (m.type === MessageType.Snap) void this.sendSnapshot(t, m);
  }

  /** A follower needs a snapshot: send a copy of the store's database with the Raft snapshot. */
  private async sendSnapshot(t: Transport, m: Message): Promise<void> {
    const dir = join(this.cfg.dataDir, 'member', 'snap', `outgoing-${m.to.toString(16)}-${Date.now()}`);
    try {
      const file = await this.withStore((s) => s.backupTo(dir));
      const size = statSync(file).size;
      this.logger.info(
        { to: m.to.toString(16), index: m.snapshot?.metadata.index, bytes: size },
        'sending a database snapshot',
      );
      t.sendSnapshot(m, streamThenRemove(file, dir), size);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      this.logger.warn({ to: m.to.toString(16), err: String(err) }, 'could not prepare a snapshot');
      this.log.reportSnapshot(m.to, false);
    }
  }

  /** The database of a MsgSnap arrived: keep it for the install, then hand the message to Raft. */
  private async receiveSnapshot(m: Message, data: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const dir = join(this.cfg.dataDir, 'member', 'snap', 'incoming');
    rmSync(dir, { recursive: true, force: true });
    // In a store layout (<dir>/db/data.mdb), so installSnapshot can open it to stamp our identity.
    mkdirSync(join(dir, 'db'), { recursive: true });
    const file = join(dir, 'db', 'data.mdb');
    const fh = await open(file, 'w');
    try {
      if (data instanceof Uint8Array) await fh.write(data);
      else for await (const chunk of data) await fh.write(chunk);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    try {
      validateStoreFile(file); // a damaged transfer must not reach lmdb (a SIGSEGV); the leader resends
    } catch (e) {
      this.logger.error(
        { err: (e as Error).message, from: m.from.toString(16) },
        'refused the database of a snapshot',
      );
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    this.incomingSnapshotDb = file;
    this.log.step(m);
  }

  /**
   * Replaces the store with the database received with the leader's snapshot, then reloads what
   * lives in it (leases, members), and tells watchers about the revisions they have not seen.
   */
  private async installSnapshot(snap: { metadata: { index: number } }): Promise<void> {
    const incoming = this.incomingSnapshotDb;
    if (!incoming) throw new Error(`no database received for the snapshot at index ${snap.metadata.index}`);
    this.incomingSnapshotDb = undefined;
    const seenRev = this.notifiedRev;
    // The leader's database carries the leader's identity record; a restart reads the member id
    // from it, so ours replaces it before the database becomes ours (the rename in replaceStore).
    const received = await MvccStore.open({
      dir: dirname(dirname(incoming)),
      sync: false,
      logger: this.logger,
    });
    saveIdentity(received, this.identity);
    await received.syncAll();
    await received.close();
    rmSync(join(dirname(incoming), 'lock.mdb'), { force: true });
    await this.replaceStore(incoming);
    rmSync(join(this.cfg.dataDir, 'member', 'snap', 'incoming'), { recursive: true, force: true });
    if (this.transport) {
      for (const m of this.membership.list())
        if (m.id !== this.memberId) this.transport.addPeer(m.id, m.peerUrls);
    }
    this.metrics.snapshotReceiveSuccess.inc();
    this.logger.info(
      { index: snap.metadata.index, 'applied-index': this.appliedIndex, revision: this.store.rev },
      'installed the database from the leader',
    );
    // Watchers saw revisions up to seenRev; give them the rest from the new store's history.
    if (this.store.rev > seenRev && this.store.compactRev <= seenRev) {
      const events = this.store.rangeEvents(seenRev + 1, this.store.rev, Buffer.from([0]), Buffer.from([0]));
      for (const e of events) this.pendingEvents.push(e);
    } else if (this.store.rev > seenRev) {
      this.logger.warn(
        { 'seen-revision': seenRev, 'compact-revision': this.store.compactRev },
        'the snapshot is compacted past what watchers here have seen; they may miss events',
      );
    }
    this.scheduleFlush();
  }

  /** Tells the cluster this member's name and client URLs (etcd publishes them at start). */
  private async publishAttributes(): Promise<void> {
    const current = this.membership.get(this.memberId);
    const same =
      current !== undefined &&
      current.name === this.cfg.name &&
      current.clientUrls.join(',') === this.cfg.clientUrls.join(',');
    if (same) return;
    await this.propose({
      clusterMemberAttrSet: {
        memberID: this.memberId,
        memberAttributes: { name: this.cfg.name, clientUrls: this.cfg.clientUrls },
      },
    });
    this.logger.info(
      { name: this.cfg.name, 'client-urls': this.cfg.clientUrls },
      'published local member to cluster',
    );
  }

  /** Re-attaches keys to their leases after a restart (only when leases exist: it reads every key). */
  private attachLeasedKeys(): void {
    if (this.lessor.size === 0) return;
    const all = this.store.range(Buffer.from([0]), Buffer.from([0]));
    for (const kv of all.kvs) if (kv.lease !== 0n) this.lessor.onPut(kv.key, kv.lease);
  }

  /** The leader revokes expired leases through the log, twice a second as etcd checks. */
  private startLeaseExpiry(): void {
    this.expiryTimer = setInterval(() => {
      if (this.stopped) return;
      this.expireWaiters();
      // Only the leader revokes; followers learn of it through the log.
      if (this.log.leader !== this.memberId) return;
      for (const id of this.lessor.takeExpired(LEASE_REVOKES_PER_TICK)) {
        this.leaseRevoke(id).catch((err: unknown) => {
          if ((err as { kind?: string }).kind !== 'leaseNotFound') this.lessor.unmarkRevoking(id);
        });
      }
      this.leasePrimary.checkpointDue();
    }, LEASE_EXPIRY_CHECK_MS);
    this.expiryTimer.unref();
  }
}

/** Streams a file in chunks, then removes its folder (the outgoing snapshot copy). */
async function* streamThenRemove(file: string, dir: string): AsyncIterable<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      yield Buffer.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** etcd's default space quota when --quota-backend-bytes is 0: 2 GiB. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** What etcd counts per key-value on top of key and value bytes when checking the quota. */
export const KV_OVERHEAD_BYTES = 256;

/** Whether a txn (or one nested in it) puts anything: only those are refused under NOSPACE. */
function txnPuts(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestPut) return true;
    if (op.requestTxn && txnPuts(op.requestTxn)) return true;
  }
  return false;
}

/** etcd 3.4's quota cost of a request: key + value + overhead for each put (deletes are free). */
export function quotaCost(r: { put?: PutRequest; txn?: TxnRequest; leaseGrant?: unknown }): number {
  if (r.put) return r.put.key.length + r.put.value.length + KV_OVERHEAD_BYTES;
  if (r.leaseGrant) return KV_OVERHEAD_BYTES;
  if (r.txn) {
    let cost = 0;
    const walk = (t: TxnRequest): void => {
      for (const op of [...t.success, ...t.failure]) {
        if (op.requestPut) cost += op.requestPut.key.length + op.requestPut.value.length + KV_OVERHEAD_BYTES;
        if (op.requestTxn) walk(op.requestTxn);
      }
    };
    walk(r.txn);
    return cost;
  }
  return 0;
}

/** Committed entries not yet applied beyond which proposals are refused (etcd's maxGapBetweenApplyAndCommitIndex). */
export const MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000;

/** How long every voter must have been connected before membership changes (etcd's HealthInterval). */
export const HEALTH_INTERVAL_MS = 5000;

/** etcd allows one learner at a time. */
export const MAX_LEARNERS = 1;
/** A learner is ready for promotion once its log holds this share of the leader's (etcd: 90%). */
export const LEARNER_READY_FRACTION = 0.9;
/** The peer-port path listing the members (as etcd's /members), read by joining members. */
export const MEMBERS_PEER_PATH = '/members';

function validPeerUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.port !== '' &&
      (url.pathname === '/' || url.pathname === '')
    );
  } catch {
    return false;
  }
}

/**
 * Who this member is. Its data dir remembers (written at the first start); a new member of a new
 * cluster derives ids from the flags as etcd does; a member joining an existing cluster asks the
 * other members (their /members on the peer port) for the id `member add` gave it.
 */
async function resolveIdentity(cfg: MemberConfig, store: MvccStore, logger: Logger): Promise<Identity> {
  const saved = store.auxRecords(IDENTITY_KEY)[0];
  const initial =
    cfg.initialCluster.length > 0 ? cfg.initialCluster : [{ name: cfg.name, peerUrls: cfg.peerUrls }];
  let identity: Identity;
  if (saved) {
    const j = JSON.parse(saved.value.toString('utf8')) as { memberId: string; clusterId: string };
    // The member table is in the store too; the flags only fill it if it was never written.
    const members = initial.map((m) => ({
      id: computeMemberId(m.peerUrls, cfg.initialClusterToken),
      name: m.name,
      peerUrls: m.peerUrls,
    }));
    identity = { memberId: BigInt(`0x${j.memberId}`), clusterId: BigInt(`0x${j.clusterId}`), members };
  } else if (cfg.initialClusterState === 'existing') {
    identity = await fetchIdentity(cfg, initial, logger);
  } else {
    const members = initial.map((m) => ({
      id: computeMemberId(m.peerUrls, cfg.initialClusterToken),
      name: m.name,
      peerUrls: m.peerUrls,
    }));
    identity = {
      memberId: computeMemberId(cfg.peerUrls, cfg.initialClusterToken),
      clusterId: computeClusterId(members.map((m) => m.id)),
      members,
    };
  }
  if (!saved) saveIdentity(store, identity);
  return identity;
}

/** Writes this member's id and cluster id into the store, where a restart reads them back. */
function saveIdentity(store: MvccStore, identity: Identity): void {
  const txn = store.write(store.consistentIndex);
  store.setAux(
    IDENTITY_KEY,
    Buffer.from(
      JSON.stringify({
        memberId: identity.memberId.toString(16),
        clusterId: identity.clusterId.toString(16),
      }),
    ),
  );
  txn.end();
}

const IDENTITY_KEY = Buffer.from('identity');

async function fetchIdentity(
  cfg: MemberConfig,
  initial: { name: string; peerUrls: string[] }[],
  logger: Logger,
): Promise<Identity> {
  const others = initial.filter((m) => m.name !== cfg.name).flatMap((m) => m.peerUrls);
  for (const url of others) {
    try {
      const res = await fetch(`${url.replace(/\/+$/, '')}${MEMBERS_PEER_PATH}`, {
        signal: AbortSignal.timeout(2000),
      });
      if (!res.ok) continue;
      const j = (await res.json()) as {
        clusterId: string;
        members: { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[];
      };
      const members = j.members.map((m) => ({
        id: BigInt(`0x${m.id}`),
        name: m.name,
        peerUrls: m.peerURLs,
        clientUrls: m.clientURLs,
        isLearner: m.isLearner,
      }));
      validateAgainstExisting(initial, members, j.clusterId);
      const self = members.find((m) => m.peerUrls.some((u) => cfg.peerUrls.includes(u)));
      if (!self) {
        throw new BootstrapError(
          `member ${cfg.name} (${cfg.peerUrls.join(',')}) has not been added to the cluster: run 'member add' first`,
        );
      }
      logger.info(
        { 'member-id': self.id.toString(16), 'cluster-id': j.clusterId, from: url },
        'joining an existing cluster',
      );
      return { memberId: self.id, clusterId: BigInt(`0x${j.clusterId}`), members };
    } catch (err) {
      if (err instanceof BootstrapError) throw err;
      logger.warn({ url, err: String(err) }, 'could not read the member list from a peer');
    }
  }
  // etcd's wording.
  throw new Error(
    'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
  );
}

/** A join refused for good (retrying other peers cannot help). */
class BootstrapError extends Error {}

/**
 * etcd's check of --initial-cluster against the cluster a joining member contacts: the same number of
 * members, and every existing member's peer URLs among the flags' ("member count is unequal",
 * "PeerURLs: no match found for existing member").
 */
function validateAgainstExisting(
  initial: { name: string; peerUrls: string[] }[],
  existing: { id: bigint; peerUrls: string[] }[],
  clusterIdHex: string,
): void {
  const describe = () =>
    `{ClusterID:${clusterIdHex} Members:[${existing.map((m) => `${m.id.toString(16)}=${m.peerUrls.join(',')}`).join(' ')}]}`;
  if (existing.length !== initial.length) {
    throw new BootstrapError(`error validating peerURLs ${describe()}: member count is unequal`);
  }
  const same = (a: string[], b: string[]) => [...a].sort().join(',') === [...b].sort().join(',');
  for (const m of existing) {
    if (!initial.some((l) => same(l.peerUrls, m.peerUrls))) {
      throw new BootstrapError(
        `error validating peerURLs ${describe()}: PeerURLs: no match found for existing member (${m.id.toString(16)}, [${m.peerUrls.join(' ')}]), last resolver error (<nil>)`,
      );
    }
  }
}

/** The peer-port path where followers ask the leader about leases. */
export const LEASE_PEER_PATH = '/tsetcd/lease';

/** How often expired leases are looked for (etcd: 500 ms). */
export const LEASE_EXPIRY_CHECK_MS = 500;
/** Most expired leases revoked per check, so a mass expiry does not flood the log at once. */
export const LEASE_REVOKES_PER_TICK = 1000;

/** etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds. */
export function minLeaseTtlSeconds(cfg: { electionTimeoutMs?: number }): number {
  return Math.ceil((1.5 * (cfg.electionTimeoutMs ?? 1000)) / 1000);
}

function txnIsSerializable(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestRange && !op.requestRange.serializable) return false;
    if (op.requestTxn && !txnIsSerializable(op.requestTxn)) return false;
  }
  return true;
}

/** MVCC errors become the wire errors etcd sends for them. */
function toServerError(err: unknown): unknown {
  if (err instanceof MvccError) {
    if (err.code === 'compacted') return etcdError('compacted');
    if (err.code === 'future-rev') return etcdError('futureRev');
    return etcdError('stopped');
  }
  return err;
}

function mapMvccErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toServerError(err);
  }
}
