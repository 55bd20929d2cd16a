/**
 * How the member's parts are wired to each other: each part gets a narrow host made of closures
 * over the others and over the member's own state (`MemberCore`). Nothing here runs at wiring time;
 * the closures are called later, so the order of construction does not matter.
 */
import type { MvccStore } from '../mvcc/index.js';
import type { AlarmRequest, AlarmResponse } from '../proto/etcdserverpb/rpc.js';
import { etcdError } from '../wire/errors.js';
import { Applier } from './applier.js';
import { ApplyLoop } from './apply-loop.js';
import { AuthStore, newTokenProvider } from './auth/index.js';
import { BackendSlot } from './backend-slot.js';
import type { Identity } from './bootstrap.js';
import type { ResolvedConfig } from './config.js';
import { LeasePrimary } from './lease-checkpoint.js';
import { LeaseService } from './lease-service.js';
import type { Logger } from './logger.js';
import { Maintenance } from './maintenance.js';
import { MemberPeers } from './member-peers.js';
import { MembershipService } from './membership-service.js';
import type { ServerMetrics } from './metrics.js';
import type { PeerHttpClient } from './peer-http.js';
import { Proposer } from './proposer.js';
import type { RaftDriver } from './raft-driver.js';
import { ReadBarrier } from './reads.js';
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
    fail: (err) => core.fail(err),
  });
  return p;
}
