/**
 * The member's start after its data is open: the Raft driver over the WAL, then the wait for a
 * leader and the publication of this member's name and client URLs (etcd's publish, after which
 * etcd's ReadyNotify fires).
 *
 * Without a reachable quorum the member waits as etcd does — after a power cut members come back
 * one by one, and each must wait for the others — logging every request timeout what it waits for.
 * It gives up only when peers answer that they belong to another cluster (a wrong
 * --initial-cluster-token), or when the member stops.
 */
import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import type { ConfChange, Message, Snapshot } from '../raft/index.js';
import { EtcdError, etcdError } from '../wire/errors.js';
import { isInjectedClock, type ResolvedConfig } from './config.js';
import type { CommittedEntry } from './consensus.js';
import type { Logger } from './logger.js';
import type { Membership } from './membership.js';
import type { ServerMetrics } from './metrics.js';
import { RaftDriver } from './raft-driver.js';
import type { Signal } from './signal.js';

/** What the driver calls back into the member. */
export interface DriverCallbacks {
  applyEntry(e: CommittedEntry): void;
  advanceAppliedIndex(index: number, term: number): void;
  applyConfChange(cc: ConfChange, index: number): void;
  installSnapshot(snap: Snapshot): Promise<void>;
  prepareSnapshot(): Promise<void>;
  send(msgs: readonly Message[]): void;
  onLeaderChange(leader: bigint): void;
  onFatal(err: unknown): void;
}

/** Opens the Raft driver on the member's WAL (replayed from the store's applied index). */
export function openDriver(
  cfg: ResolvedConfig,
  logger: Logger,
  m: {
    memberId: bigint;
    clusterId: bigint;
    membership: Membership;
    store: { consistentIndex: number };
    metrics: ServerMetrics;
  },
  cb: DriverCallbacks,
): Promise<RaftDriver> {
  return RaftDriver.open({
    dataDir: cfg.dataDir,
    walDir: cfg.walDir,
    walFs: cfg.walFs,
    walSegmentBytes: cfg.walSegmentBytes,
    memberId: m.memberId,
    clusterId: m.clusterId,
    initialVoters: m.membership
      .list()
      .filter((x) => !x.isLearner)
      .map((x) => x.id),
    join: cfg.initialClusterState === 'existing',
    heartbeatMs: cfg.heartbeatMs,
    electionTicks: cfg.electionTicks,
    ...(isInjectedClock(cfg.clock) ? { clock: cfg.clock } : {}),
    snapshotCount: cfg.snapshotCount,
    maxSnapshots: cfg.maxSnapshots,
    maxWals: cfg.maxWals,
    storeAppliedIndex: m.store.consistentIndex,
    readTimeoutMs: cfg.requestTimeoutMs,
    logger,
    onCommitted: cb.applyEntry,
    onAppliedIndex: cb.advanceAppliedIndex,
    onConfChange: cb.applyConfChange,
    installSnapshot: cb.installSnapshot,
    snapshotCatchUpEntries: cfg.snapshotCatchUpEntries,
    // Through the member: Defragment and snapshot installs replace the store after start.
    prepareSnapshot: cb.prepareSnapshot,
    send: cb.send,
    onLeaderChange: cb.onLeaderChange,
    onFsync: (seconds) => m.metrics.walFsyncSeconds.observe(seconds),
    onSnapshotSave: (t) => m.metrics.snapSaved(t),
    onFatal: cb.onFatal,
  });
}

/** What waiting for the cluster needs from the member. */
export interface QuorumWaitHost {
  cfg: ResolvedConfig;
  logger: Logger;
  memberId: bigint;
  clusterId: bigint;
  isStopped(): boolean;
  leader(): bigint;
  membership(): Membership;
  leaderChanged: Signal;
  /** The failure that stopped the member, if any. */
  failure(): unknown;
  /** Peer URLs of members that refused this member's cluster id. */
  refusingClusterId(): string[];
  /** Whether the link to member `id` is up. */
  connected(id: bigint): boolean;
  propose(fields: Partial<InternalRaftRequest>): Promise<unknown>;
}

/**
 * Waits for a leader (as long as it takes), then publishes this member's attributes through the
 * log, retrying as etcd does until it succeeds or the member stops.
 */
export async function waitForQuorum(host: QuorumWaitHost): Promise<void> {
  const { cfg, logger } = host;
  for (;;) {
    await waitForLeader(host);
    try {
      await publishAttributes(host);
      return;
    } catch (err) {
      if (host.isStopped()) throw host.failure() ?? etcdError('stopped');
      logger.warn({ err: String(err) }, 'failed to publish local member to cluster through raft; retrying');
      // A refused proposal without a leader comes back at once: wait for the next leader change.
      if (host.leader() === 0n) continue;
      await host.leaderChanged
        .until(
          () => host.isStopped(),
          cfg.requestTimeoutMs,
          () => undefined,
        )
        .catch(() => {});
    }
  }
}

async function waitForLeader(host: QuorumWaitHost): Promise<void> {
  const { cfg, logger } = host;
  let waitedMs = 0;
  // Test-only broken build (fault-control.ts FAILPOINT_GIVE_UP_ENV): give up where etcd waits.
  const giveUpMs = cfg.giveUpWithoutLeaderMs;
  const waitMs = Math.min(cfg.requestTimeoutMs, giveUpMs ?? Number.POSITIVE_INFINITY);
  for (;;) {
    if (host.isStopped()) throw host.failure() ?? etcdError('stopped');
    if (host.leader() !== 0n) return;
    const timedOut = await host.leaderChanged
      .until(
        () => host.isStopped() || host.leader() !== 0n,
        waitMs,
        () => 'timeout',
      )
      .then(
        () => false,
        (err: unknown) => {
          if (err instanceof EtcdError) throw err; // stopped
          return true;
        },
      );
    if (!timedOut) continue;
    waitedMs += waitMs;
    if (giveUpMs !== undefined && waitedMs >= giveUpMs)
      throw new Error(`no leader after ${waitedMs} ms: giving up (deliberately broken by the failpoint)`);
    // Peers that refused our cluster id explain a missing leader better than "no leader".
    const refused = host.refusingClusterId();
    if (refused.length > 0) {
      throw new Error(
        `cluster ID mismatch: the members at ${refused.join(', ')} belong to another cluster than ${host.clusterId.toString(16)} (check --initial-cluster-token and --initial-cluster)`,
      );
    }
    const voters = host
      .membership()
      .list()
      .filter((m) => !m.isLearner);
    const reachable = voters.filter((m) => m.id === host.memberId || host.connected(m.id));
    logger.warn(
      {
        'waited-ms': waitedMs,
        voters: voters.length,
        'quorum-needs': Math.floor(voters.length / 2) + 1,
        reachable: reachable.map((m) => m.name || m.id.toString(16)),
        unreachable: voters.filter((m) => !reachable.includes(m)).map((m) => m.peerUrls.join(',')),
      },
      'no leader yet: waiting for a quorum of the cluster to start',
    );
  }
}

/** Tells the cluster this member's name and client URLs (etcd publishes them at start). */
async function publishAttributes(host: QuorumWaitHost): Promise<void> {
  const { cfg } = host;
  const current = host.membership().get(host.memberId);
  const same =
    current !== undefined &&
    current.name === cfg.name &&
    current.clientUrls.join(',') === cfg.clientUrls.join(',');
  // etcd 3.4's milestone line, in its words and fields (operators' scripts and etcd's e2e suite
  // wait for "published"): logged once the attributes are in the cluster through Raft, whether
  // this start proposed them or an earlier one did.
  const published = () =>
    host.logger.info(
      {
        'local-member-id': host.memberId.toString(16),
        'local-member-attributes': `{Name:${cfg.name} ClientURLs:[${cfg.clientUrls.join(' ')}]}`,
        'request-path': `/0/members/${host.memberId.toString(16)}/attributes`,
        'cluster-id': host.clusterId.toString(16),
      },
      'published local member to cluster through raft',
    );
  if (same) return published();
  await host.propose({
    clusterMemberAttrSet: {
      memberID: host.memberId,
      memberAttributes: { name: cfg.name, clientUrls: cfg.clientUrls },
    },
  });
  published();
}
