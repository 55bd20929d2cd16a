/**
 * How the member's parts are wired to each other: each part gets a narrow host made of closures
 * over the others and over the member's own state (`MemberCore`). Nothing here runs at wiring time;
 * the closures are called later, so the order of construction does not matter.
 */
import type { MvccStore } from '../mvcc/index.js';
import {
  type AlarmRequest,
  AlarmRequest_AlarmAction,
  type AlarmResponse,
  AlarmType,
  type Member as MemberInfo,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import { etcdError } from '../wire/errors.js';
import { Applier } from './applier.js';
import { applyRange, applyTxn, txnIsSerializable } from './apply.js';
import { ApplyLoop } from './apply-loop.js';
import { AuthStore, newTokenProvider } from './auth/index.js';
import { BackendSlot } from './backend-slot.js';
import type { Identity } from './bootstrap.js';
import { CLUSTER_VERSION, DEFAULT_QUOTA_BYTES, type ResolvedConfig, SERVER_VERSION } from './config.js';
import { CorruptChecker, makePeerGet, serveHashKv } from './corrupt-check.js';
import { LeasePrimary } from './lease-checkpoint.js';
import { LEASE_EXPIRY_CHECK_MS, LeaseService } from './lease-service.js';
import type { Logger } from './logger.js';
import { Maintenance } from './maintenance.js';
import { MemberPeers } from './member-peers.js';
import type { DriverCallbacks } from './member-start.js';
import { waitForQuorum } from './member-start.js';
import { MembershipService } from './membership-service.js';
import { peerCounts, registerStateMetrics, type ServerMetrics } from './metrics.js';
import type { PeerHttpClient } from './peer-http.js';
import { Proposer } from './proposer.js';
import type { RaftDriver } from './raft-driver.js';
import { rangeStreamed, type StreamedRangeResponse } from './range-stream.js';
import { ReadBarrier } from './reads.js';
import { mapMvccErrors } from './server-errors.js';
import type { Signal } from './signal.js';
import { SnapshotTransfer } from './snapshot-transfer.js';

/** The member's own state and duties, as the parts see them. */
export interface MemberCore {
  cfg: ResolvedConfig;
  logger: Logger;
  metrics: ServerMetrics;
  identity: Identity;
  memberId: bigint;
  clusterId: bigint;
  peerHttp: PeerHttpClient;
  /** Notified at every leader change (and when the member stops). */
  leaderChanged: Signal;
  /** Notified after every applied conf change (and when the member stops). */
  confChanged: Signal;
  /** The Raft driver; set once the member opened it (no part calls it before). */
  driver(): RaftDriver;
  stopped(): boolean;
  /** The failure that stopped the member, if any. */
  fatal(): unknown;
  /** The log or the store failed: the member stops taking requests. */
  fail(err: unknown): void;
}

export interface MemberParts {
  /** Users, roles, permissions and tokens; replicated through the log, persisted in the store (issue 13). */
  auth: AuthStore;
  backend: BackendSlot;
  proposer: Proposer;
  reads: ReadBarrier;
  applier: Applier;
  applyLoop: ApplyLoop;
  leasePrimary: LeasePrimary;
  leases: LeaseService;
  membership: MembershipService;
  maintenance: Maintenance;
  snapshots: SnapshotTransfer;
  peers: MemberPeers;
  /** etcd's corruption checks: the initial HashKV comparison and the leader's periodic pass. */
  corruption: CorruptChecker;
}

/** Builds the parts of a member over `store`. */
export function buildParts(core: MemberCore, store: MvccStore): MemberParts {
  const { cfg, logger, metrics, memberId } = core;
  const stopped = () => core.stopped();
  const driver = () => core.driver();
  const isLeader = () => core.driver()?.leader === memberId;
  const p = {} as MemberParts;
  const alarm = (r: AlarmRequest) => p.proposer.propose({ alarm: r }) as Promise<AlarmResponse>;
  const leaderPeerUrl = (): string => {
    const url = p.backend.membership.get(driver().leader)?.peerUrls[0];
    if (!url) throw etcdError('noLeader');
    return url;
  };
  p.backend = new BackendSlot(
    {
      cfg,
      logger,
      metrics,
      identity: core.identity,
      stopped,
      flushApplied: () => {
        if (p.proposer.hasUnacked) p.applyLoop.flush();
      },
      onCommitFailed: (err) => core.fail(err),
      onSwapped: () => {
        p.applyLoop.appliedIndex = p.backend.store.consistentIndex;
        p.auth.reload(p.backend.store);
      },
    },
    store,
  );
  p.auth = new AuthStore(
    store,
    newTokenProvider(
      cfg.authToken || 'simple',
      {
        waitApplied: (index) => p.reads.waitApplied(index, cfg.requestTimeoutMs),
        authRevision: () => p.auth.revision,
      },
      cfg.authTokenTtlSeconds ?? 300,
    ),
  );
  p.proposer = new Proposer({
    rootIdentity: () => p.auth.asRoot(),
    clock: cfg.clock,
    metrics,
    memberId,
    requestTimeoutMs: cfg.requestTimeoutMs,
    maxRequestBytes: cfg.maxRequestBytes,
    stopped,
    appliedIndex: () => p.applyLoop.appliedIndex,
    knownCommitIndex: () => driver().knownCommittedIndex,
    propose: (data) => driver().propose(data),
    proposeConfChange: (cc) => driver().proposeConfChange(cc),
    flush: () => p.applyLoop.flush(),
  });
  p.reads = new ReadBarrier({
    stopped,
    appliedIndex: () => p.applyLoop.appliedIndex,
    readIndex: () => driver().readIndex(),
  });
  p.leasePrimary = new LeasePrimary({
    lessor: () => p.backend.lessor,
    isLeader,
    term: () => driver().term,
    stopped,
    proposeCheckpoint: (leaseCheckpoint) => p.proposer.propose({ leaseCheckpoint }),
    requestTimeoutMs: cfg.requestTimeoutMs,
    electionTimeoutMs: cfg.electionTimeoutMs,
    onError: (message, err) => logger.warn({ err: String(err) }, message),
    clock: cfg.clock,
    changed: core.leaderChanged,
  });
  p.applier = new Applier({
    auth: () => p.auth,
    store: () => p.backend.store,
    lessor: () => p.backend.lessor,
    alarms: () => p.backend.alarms,
    membership: () => p.backend.membership,
    leasePrimary: p.leasePrimary,
    logger,
    onEvents: (events) => p.applyLoop.keep(events),
    onCompaction: (done) => p.backend.trackCompaction(done),
  });
  p.applyLoop = new ApplyLoop(
    {
      memberId,
      logger,
      metrics,
      applier: p.applier,
      proposer: () => p.proposer,
      reads: () => p.reads,
      backend: () => p.backend,
      peers: () => p.peers,
      leasePrimary: p.leasePrimary,
      confChanged: core.confChanged,
      fail: (err) => core.fail(err),
    },
    store,
  );
  p.leases = new LeaseService({
    stopped,
    isLeader,
    lessor: () => p.backend.lessor,
    primary: p.leasePrimary,
    propose: (fields, who) => p.proposer.propose(fields, who),
    nextId: () => p.proposer.nextId(),
    askLeader: (op, id) => core.peerHttp.lease(leaderPeerUrl(), op, id),
  });
  p.membership = new MembershipService({
    clock: cfg.clock,
    selfId: memberId,
    initialClusterToken: cfg.initialClusterToken,
    strictReconfigCheck: cfg.strictReconfigCheck,
    requestTimeoutMs: cfg.requestTimeoutMs,
    stopped,
    membership: () => p.backend.membership,
    link: (id) => p.peers.stats().get(id),
    isLeader,
    progress: () => driver().progress(),
    commitIndex: () => driver().committedIndex,
    proposeConfChange: (cc) => p.proposer.proposeConfChange(cc),
    askLeaderToPromote: (id) => core.peerHttp.promote(leaderPeerUrl(), id),
    confChanged: core.confChanged,
  });
  p.maintenance = new Maintenance({
    cfg,
    logger,
    metrics,
    memberId,
    backend: p.backend,
    stopped,
    fatal: () => core.fatal(),
    leader: () => driver().leader,
    commitIndex: () => driver().committedIndex,
    appliedIndex: () => p.applyLoop.appliedIndex,
    alarm,
    exclusive: (fn) => driver().exclusive(fn),
    transferLeadership: (to) => driver().transferLeadership(to),
    leaderChanged: core.leaderChanged,
  });
  p.snapshots = new SnapshotTransfer({
    cfg,
    logger,
    metrics,
    identity: core.identity,
    backend: p.backend,
    step: (m) => driver().step(m),
    reportSnapshot: (to, ok) => driver().reportSnapshot(to, ok),
    notifiedRevision: () => p.applyLoop.notifiedRevision,
    publish: (events) => p.applyLoop.publish(events),
    restored: (rev) => p.applyLoop.restored(rev),
    afterInstall: () => p.peers.syncPeers(),
  });
  p.peers = new MemberPeers({
    cfg,
    logger,
    metrics,
    memberId,
    clusterId: core.clusterId,
    membership: () => p.backend.membership,
    driver: () => core.driver() as RaftDriver | undefined,
    stopped,
    snapshots: p.snapshots,
    leasePrimary: p.leasePrimary,
    promote: (id) => p.membership.promote(id),
    serveAlso: (server) => serveHashKv(server, { ...corruptHost, logger }),
    fail: (err) => core.fail(err),
  });
  const corruptHost = {
    clusterId: core.clusterId,
    // etcd's HashByRev answers its current revision, whatever revision it hashed at.
    hashByRev: (rev: number) =>
      p.backend.withStore(async (s) => {
        const h = await s.hashKV(rev);
        return { ...h, revision: rev === 0 ? h.revision : s.rev };
      }),
  };
  p.corruption = new CorruptChecker({
    ...corruptHost,
    cfg,
    logger,
    memberId,
    members: () => p.backend.membership.list(),
    isLeader,
    stopped,
    readBarrier: () => p.reads.wait(),
    raiseCorruptAlarm: () =>
      alarm({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID: 0n, alarm: AlarmType.CORRUPT }),
    peerGet: makePeerGet(async (url, body, timeoutMs) => {
      const res = await (cfg.peerFetch ?? fetch)(url, {
        method: 'GET',
        body,
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, text: await res.text() };
    }),
  });
  return p;
}

/** What the Raft driver calls back into: the apply loop, the snapshot part and the peers. */
export function driverCallbacks(p: MemberParts, core: MemberCore): DriverCallbacks {
  return {
    applyEntry: (e) => p.applyLoop.applyEntry(e),
    advanceAppliedIndex: (index, term) => p.applyLoop.advanceAppliedIndex(index, term),
    applyConfChange: (cc, index) => p.applyLoop.applyConfChange(cc, index),
    installSnapshot: (snap) => p.snapshots.install(snap),
    prepareSnapshot: () => p.backend.store.syncAll(),
    send: (msgs) => p.peers.send(msgs),
    onLeaderChange: (leader) => {
      core.metrics.hasLeader.set(leader !== 0n ? 1 : 0);
      core.metrics.isLeader.set(leader === core.memberId ? 1 : 0);
      if (leader !== 0n) core.metrics.leaderChanges.inc();
      // A member that stops leading stops keeping lease time; a new leader starts once it applied its
      // term's first entry (LeasePrimary.onEmptyEntryApplied), as etcd's lessor Promote does.
      p.leasePrimary.onLeaderChange();
      core.leaderChanged.notify();
    },
    onFatal: (err) => core.fail(err),
  };
}

/** Expires timed-out proposals and (on the leader) leases, every LEASE_EXPIRY_CHECK_MS. */
export function startExpiryTicker(p: MemberParts, core: MemberCore): { clear(): void } {
  return core.cfg.clock.setInterval(() => {
    if (core.stopped()) return;
    p.proposer.expire();
    p.leases.checkExpiry();
  }, LEASE_EXPIRY_CHECK_MS);
}

/** The gauges read at scrape time from the member's state (see metrics.ts). */
export function registerPartsMetrics(p: MemberParts, core: MemberCore): void {
  registerStateMetrics(core.metrics, {
    memberIdHex: core.memberId.toString(16),
    serverVersion: SERVER_VERSION,
    clusterVersion: CLUSTER_VERSION,
    quotaBackendBytes: core.cfg.quotaBackendBytes || DEFAULT_QUOTA_BYTES,
    isLearner: () => p.backend.membership.get(core.memberId)?.isLearner === true,
    store: () => p.backend.store,
    raft: () => ({ commitIndex: core.driver().committedIndex, appliedIndex: p.applyLoop.appliedIndex }),
    leases: () => p.backend.lessor.size,
    peers: () => [...p.peers.stats()].map(([id, st]) => peerCounts(id, st)),
  });
}

/** Starts waiting for a leader and publishing this member (etcd's ReadyNotify; member-start.ts). */
export function startQuorumWait(p: MemberParts, core: MemberCore): Promise<void> {
  return waitForQuorum({
    ...{ cfg: core.cfg, logger: core.logger, memberId: core.memberId, clusterId: core.clusterId },
    leaderChanged: core.leaderChanged,
    isStopped: () => core.stopped(),
    leader: () => core.driver().leader,
    membership: () => p.backend.membership,
    failure: () => core.fatal(),
    refusingClusterId: () => p.peers.refusingClusterId(),
    connected: (id) => p.peers.stats().get(id)?.connected ?? false,
    propose: (fields) => p.proposer.propose(fields),
  });
}

/** Members as MemberList shows them; this member's own name and client URLs are known first-hand. */
export function listMembers(p: MemberParts, core: MemberCore): MemberInfo[] {
  return p.backend.membership.list().map((m) => ({
    ID: m.id,
    name: m.id === core.memberId ? core.cfg.name : m.name,
    peerURLs: m.peerUrls,
    clientURLs: m.id === core.memberId ? core.cfg.clientUrls : m.clientUrls,
    isLearner: m.isLearner,
  }));
}

/** A Range: linearizable ones wait for the ReadIndex barrier; all wait out a store swap. */
export async function serveRange(p: MemberParts, r: RangeRequest): Promise<RangeResponse> {
  await readReady(p, r.serializable);
  return mapMvccErrors(() => applyRange(p.backend.store, r));
}

/** serveRange, but a big plain range comes back as its bytes, piece by piece (range-stream.ts). */
export async function serveRangeStreamed(
  p: MemberParts,
  r: RangeRequest,
): Promise<RangeResponse | StreamedRangeResponse> {
  await readReady(p, r.serializable);
  return mapMvccErrors(() => rangeStreamed(p.backend.store, r) ?? applyRange(p.backend.store, r));
}

/** Linearizable reads wait for the ReadIndex barrier; every read waits out a store swap. */
async function readReady(p: MemberParts, serializable: boolean): Promise<void> {
  if (!serializable) await p.reads.wait();
  if (p.backend.isSwapping) await p.backend.ready();
}

/** A read-only Txn, applied here, unchecked: the API edge checks its permissions. */
export async function serveReadTxn(p: MemberParts, r: TxnRequest): Promise<TxnResponse> {
  await readReady(p, txnIsSerializable(r));
  return mapMvccErrors(() =>
    applyTxn(p.backend.store, r, p.applier.hooks, () => p.backend.store.write(p.applyLoop.appliedIndex)),
  );
}

/** The "opened backend" log line and the db size gauge, once the store and the driver are open. */
export function reportOpened(core: MemberCore, store: MvccStore, tookMs: number): void {
  core.logger.info(
    {
      'member-id': core.memberId.toString(16),
      'cluster-id': core.clusterId.toString(16),
      'consistent-index': store.consistentIndex,
      revision: store.rev,
      'took-ms': Math.round(tookMs),
    },
    'opened backend',
  );
  core.metrics.dbTotalSize.set(store.dbSize());
}
