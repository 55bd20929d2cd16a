/**
 * Prometheus metrics under etcd's names, so dashboards built for etcd work. Each member has its own
 * registry (tests run several members in one process).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  /** The store's operation counts (MvccStoreOptions.opCounters): kept here, so they outlive a store swap. */
  readonly mvccOps = { ranges: 0, puts: 0, deletes: 0, txns: 0, putBytes: 0 };
  private readonly mvccCounters = (() => {
    const total = (name: string, help: string, value: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(value());
        },
      });
    for (const [what, key] of [
      ['range', 'ranges'],
      ['put', 'puts'],
      ['delete', 'deletes'],
      ['txn', 'txns'],
    ] as const) {
      const help = `Total number of ${what}s seen by this member.`;
      total(`etcd_mvcc_${what}_total`, help, () => this.mvccOps[key]);
      total(`etcd_debugging_mvcc_${what}_total`, help, () => this.mvccOps[key]);
    }
    return new Gauge({
      name: 'etcd_debugging_mvcc_total_put_size_in_bytes',
      help: 'The total size of put kv pairs seen by this member.',
      registers: [this.registry],
      collect: () => {
        this.mvccCounters.set(this.mvccOps.putBytes);
      },
    });
  })();
  readonly hasLeader = new Gauge({
    name: 'etcd_server_has_leader',
    help: 'Whether or not a leader exists. 1 is existence, 0 is not.',
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'etcd_server_is_leader',
    help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.',
    registers: [this.registry],
  });
  readonly leaderChanges = new Counter({
    name: 'etcd_server_leader_changes_seen_total',
    help: 'The number of leader changes seen.',
    registers: [this.registry],
  });
  readonly proposalsPending = new Gauge({
    name: 'etcd_server_proposals_pending',
    help: 'The current number of pending proposals to commit.',
    registers: [this.registry],
  });
  readonly proposalsFailed = new Counter({
    name: 'etcd_server_proposals_failed_total',
    help: 'The total number of failed proposals seen.',
    registers: [this.registry],
  });
  readonly backendCommitSeconds = new Histogram({
    name: 'etcd_disk_backend_commit_duration_seconds',
    help: 'The latency distributions of commit called by backend.',
    buckets: [
      0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
    ],
    registers: [this.registry],
  });
  readonly walFsyncSeconds = new Histogram({
    name: 'etcd_disk_wal_fsync_duration_seconds',
    help: 'The latency distributions of fsync called by WAL.',
    buckets: [
      0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
    ],
    registers: [this.registry],
  });
  readonly snapshotSendSuccess = new Counter({
    name: 'etcd_network_snapshot_send_success',
    help: 'Total number of successful snapshot sends',
    registers: [this.registry],
  });
  readonly snapshotReceiveSuccess = new Counter({
    name: 'etcd_network_snapshot_receive_success',
    help: 'Total number of successful snapshot receives',
    registers: [this.registry],
  });
  readonly dbTotalSize = new Gauge({
    name: 'etcd_mvcc_db_total_size_in_bytes',
    help: 'Total size of the underlying database physically allocated in bytes.',
    registers: [this.registry],
  });
  readonly grpcStarted = new Counter({
    name: 'grpc_server_started_total',
    help: 'Total number of RPCs started on the server.',
    // etcd's (go-grpc-prometheus) labels come out in alphabetical order
    labelNames: ['grpc_method', 'grpc_service', 'grpc_type'],
    registers: [this.registry],
  });
  readonly grpcHandled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'Total number of RPCs completed on the server, regardless of success or failure.',
    labelNames: ['grpc_code', 'grpc_method', 'grpc_service', 'grpc_type'],
    registers: [this.registry],
  });
  readonly grpcMsgReceived = new Counter({
    name: 'grpc_server_msg_received_total',
    help: 'Total number of RPC stream messages received on the server.',
    labelNames: ['grpc_method', 'grpc_service', 'grpc_type'],
    registers: [this.registry],
  });
  readonly grpcMsgSent = new Counter({
    name: 'grpc_server_msg_sent_total',
    help: 'Total number of gRPC stream messages sent by the server.',
    labelNames: ['grpc_method', 'grpc_service', 'grpc_type'],
    registers: [this.registry],
  });
  /** Request message bytes (protobuf, framing excluded) of every gRPC call on the client port. */
  readonly clientGrpcReceivedBytes = new Counter({
    name: 'etcd_network_client_grpc_received_bytes_total',
    help: 'The total number of bytes received from grpc clients.',
    registers: [this.registry],
  });
  readonly clientGrpcSentBytes = new Counter({
    name: 'etcd_network_client_grpc_sent_bytes_total',
    help: 'The total number of bytes sent to grpc clients.',
    registers: [this.registry],
  });
  // Leases (etcd's lease package and etcdserver): counted by the lessor's observer.
  readonly leaseGranted = new Counter({
    name: 'etcd_debugging_lease_granted_total',
    help: 'The total number of granted leases.',
    registers: [this.registry],
  });
  readonly leaseRevoked = new Counter({
    name: 'etcd_debugging_lease_revoked_total',
    help: 'The total number of revoked leases.',
    registers: [this.registry],
  });
  readonly leaseRenewed = new Counter({
    name: 'etcd_debugging_lease_renewed_total',
    help: 'The number of renewed leases seen by the leader.',
    registers: [this.registry],
  });
  readonly leaseTtls = new Histogram({
    name: 'etcd_debugging_lease_ttl_total',
    help: 'Bucketed histogram of lease TTLs.',
    // prometheus.ExponentialBuckets(1, 2, 24)
    buckets: Array.from({ length: 24 }, (_, i) => 2 ** i),
    registers: [this.registry],
  });
  readonly leaseExpired = new Counter({
    name: 'etcd_debugging_server_lease_expired_total',
    help: 'The total number of expired leases.',
    registers: [this.registry],
  });
  /** What the lessor reports (grants and revokes on every member; renewals and expiries on the leader). */
  readonly leaseObserver = {
    granted: (ttlSeconds: number) => {
      this.leaseGranted.inc();
      this.leaseTtls.observe(ttlSeconds);
    },
    revoked: (expired: boolean) => {
      this.leaseRevoked.inc();
      if (expired) this.leaseExpired.inc();
    },
    renewed: () => this.leaseRenewed.inc(),
  };
  // Backend defragmentation and snapshots (etcd's mvcc/backend).
  readonly defragSeconds = new Histogram({
    name: 'etcd_disk_backend_defrag_duration_seconds',
    help: 'The latency distribution of backend defragmentation.',
    // prometheus.ExponentialBuckets(.1, 2, 13)
    buckets: exponentialBuckets(0.1, 2, 13),
    registers: [this.registry],
  });
  readonly defragInflight = new Gauge({
    name: 'etcd_disk_defrag_inflight',
    help: 'Whether or not defrag is active on the member. 1 means active, 0 means not.',
    registers: [this.registry],
  });
  private readonly peerRoundTripSeconds = new Histogram({
    name: 'etcd_network_peer_round_trip_time_seconds',
    help: 'Round-Trip-Time histogram between peers',
    labelNames: ['To'],
    // prometheus.ExponentialBuckets(0.0001, 2, 14)
    buckets: exponentialBuckets(0.0001, 2, 14),
    registers: [this.registry],
  });
  /** Observes a peer link's round trip (an answered HTTP/2 ping on the Raft message stream), in seconds. */
  peerRoundTrip(peer: bigint, seconds: number): void {
    this.peerRoundTripSeconds.labels(peer.toString(16)).observe(seconds);
  }
  // The database that arrives with a leader's snapshot (etcd's snap.SaveDBFrom).
  readonly snapDbSaveSeconds = new Histogram({
    name: 'etcd_snap_db_save_total_duration_seconds',
    help: 'The total latency distributions of v3 snapshot save',
    // prometheus.ExponentialBuckets(0.1, 2, 10)
    buckets: exponentialBuckets(0.1, 2, 10),
    registers: [this.registry],
  });
  readonly snapDbFsyncSeconds = new Histogram({
    name: 'etcd_snap_db_fsync_duration_seconds',
    help: 'The latency distributions of fsyncing .snap.db file',
    // prometheus.ExponentialBuckets(0.001, 2, 14)
    buckets: exponentialBuckets(0.001, 2, 14),
    registers: [this.registry],
  });
  // Raft snapshot files (etcd's snap.Save), ExponentialBuckets(0.001, 2, 14) each.
  private readonly snapSaveSeconds = this.snapHistogram(
    'etcd_debugging_snap_save_total_duration_seconds',
    'The total latency distributions of save called by snapshot.',
  );
  private readonly snapMarshalSeconds = this.snapHistogram(
    'etcd_debugging_snap_save_marshalling_duration_seconds',
    'The marshalling cost distributions of save called by snapshot.',
  );
  private readonly snapFsyncSeconds = this.snapHistogram(
    'etcd_snap_fsync_duration_seconds',
    'The latency distributions of fsync called by snap.',
  );
  private snapHistogram(name: string, help: string): Histogram {
    const buckets = exponentialBuckets(0.001, 2, 14);
    return new Histogram({ name, help, buckets, registers: [this.registry] });
  }
  /** A raft snapshot file was saved. */
  snapSaved(t: { totalSeconds: number; marshalSeconds: number; fsyncSeconds: number }): void {
    this.snapSaveSeconds.observe(t.totalSeconds);
    this.snapMarshalSeconds.observe(t.marshalSeconds);
    this.snapFsyncSeconds.observe(t.fsyncSeconds);
  }
  // /health answers (etcd 3.4 counts each one).
  readonly healthSuccess = new Counter({
    name: 'etcd_server_health_success',
    help: 'The total number of successful health checks',
    registers: [this.registry],
  });
  readonly healthFailures = new Counter({
    name: 'etcd_server_health_failures',
    help: 'The total number of failed health checks',
    registers: [this.registry],
  });
  // Maintenance Hash (the whole store) and HashKV (up to a revision), ExponentialBuckets(.01, 2, 15).
  readonly hashSeconds = new Histogram({
    name: 'etcd_mvcc_hash_duration_seconds',
    help: 'The latency distribution of storage hash operation.',
    buckets: exponentialBuckets(0.01, 2, 15),
    registers: [this.registry],
  });
  readonly hashRevSeconds = new Histogram({
    name: 'etcd_mvcc_hash_rev_duration_seconds',
    help: 'The latency distribution of storage hash by revision operation.',
    buckets: exponentialBuckets(0.01, 2, 15),
    registers: [this.registry],
  });
  readonly snapshotApplyInProgress = new Gauge({
    name: 'etcd_server_snapshot_apply_in_progress_total',
    help: '1 if the server is applying the incoming snapshot. 0 if none.',
    registers: [this.registry],
  });
  readonly backendSnapshotSeconds = new Histogram({
    name: 'etcd_disk_backend_snapshot_duration_seconds',
    help: 'The latency distribution of backend snapshots.',
    // prometheus.ExponentialBuckets(.01, 2, 17)
    buckets: exponentialBuckets(0.01, 2, 17),
    registers: [this.registry],
  });
}

/**
 * What the member's state-derived metric families read at scrape time (no bookkeeping on the hot
 * path): the store's revisions and sizes, the Raft indexes, the peer links, the member's identity.
 */
export interface MetricsSource {
  memberIdHex: string;
  serverVersion: string;
  clusterVersion: string;
  quotaBackendBytes: number;
  isLearner(): boolean;
  store(): { rev: number; compactRev: number; dbSize(): number; dbSizeInUse(): number; keysTotal: number };
  raft(): { commitIndex: number; appliedIndex: number };
  leases(): number;
  /**
   * Per peer (id in hex): bytes written to it, whether its link is up, bytes received from it,
   * messages to it dropped (queue full, link gone) and streams or snapshots from it that failed.
   */
  peers(): {
    id: string;
    sentBytes: number;
    connected: boolean;
    receivedBytes: number;
    sendFailures: number;
    receiveFailures: number;
  }[];
}

type PeerCounts = ReturnType<MetricsSource['peers']>[number];

/** A peer link's counters (the transport's PeerStats) as the metric families read them. */
export function peerCounts(
  id: bigint,
  st: { bytes: number; connected: boolean; receivedBytes: number; dropped: number; receiveFailures: number },
): PeerCounts {
  return {
    id: id.toString(16),
    sentBytes: st.bytes,
    connected: st.connected,
    receivedBytes: st.receivedBytes,
    sendFailures: st.dropped,
    receiveFailures: st.receiveFailures,
  };
}

/** Counts of the watch hub, read at scrape time. */
export interface WatchMetricsSource {
  watchers: number;
  streams: number;
  unsynced: number;
  eventsSent: number;
}

/**
 * The state-derived families (gauges and totals read from the member at scrape time), registered
 * once the member exists. Names, types and label names as etcd 3.4 exposes them.
 */
export function registerStateMetrics(m: ServerMetrics, src: MetricsSource): void {
  const registers = [m.registry];
  const info = (name: string, help: string, label: string, value: () => string) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        this.labels(value()).set(1);
      },
    });
  info(
    'etcd_server_version',
    "Which version is running. 1 for 'server_version' label with current version.",
    'server_version',
    () => src.serverVersion,
  );
  info(
    'etcd_cluster_version',
    "Which version is running. 1 for 'cluster_version' label with current cluster version",
    'cluster_version',
    () => src.clusterVersion.split('.').slice(0, 2).join('.'),
  );
  info(
    'etcd_server_go_version',
    "Which Go version server is running with. 1 for 'server_go_version' label with current version.",
    'server_go_version',
    () => `node${process.versions.node}`,
  );
  info(
    'etcd_server_id',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    'server_id',
    () => src.memberIdHex,
  );
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value());
      },
    });
  gauge('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', () =>
    src.isLearner() ? 1 : 0,
  );
  gauge(
    'etcd_server_quota_backend_bytes',
    'Current backend storage quota size in bytes.',
    () => src.quotaBackendBytes,
  );
  gauge(
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'Total size of the underlying database logically in use in bytes.',
    () => src.store().dbSizeInUse(),
  );
  gauge(
    'etcd_debugging_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
    () => src.store().dbSize(),
  );
  gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', () => src.store().keysTotal);
  gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.', () => src.store().rev);
  gauge('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction in store.', () =>
    Math.max(0, src.store().compactRev),
  );
  gauge('etcd_debugging_lease_total', 'The number of leases currently held (tsetcd).', () => src.leases());
  // etcd exposes these two as gauges holding the committed and applied Raft indexes.
  gauge(
    'etcd_server_proposals_committed_total',
    'The total number of consensus proposals committed.',
    () => src.raft().commitIndex,
  );
  gauge(
    'etcd_server_proposals_applied_total',
    'The total number of consensus proposals applied.',
    () => src.raft().appliedIndex,
  );
  const perPeer = (name: string, help: string, label: 'To' | 'From', value: (p: PeerCounts) => number) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const p of src.peers()) this.labels(p.id).inc(value(p));
      },
    });
  perPeer(
    'etcd_network_peer_sent_bytes_total',
    'The total number of bytes sent to peers.',
    'To',
    (p) => p.sentBytes,
  );
  perPeer(
    'etcd_network_peer_received_bytes_total',
    'The total number of bytes received from peers.',
    'From',
    (p) => p.receivedBytes,
  );
  perPeer(
    'etcd_network_peer_sent_failures_total',
    'The total number of send failures from peers.',
    'To',
    (p) => p.sendFailures,
  );
  perPeer(
    'etcd_network_peer_received_failures_total',
    'The total number of receive failures from peers.',
    'From',
    (p) => p.receiveFailures,
  );
  new Gauge({
    name: 'etcd_network_active_peers',
    help: 'The current number of active peer connections.',
    labelNames: ['Local', 'Remote'],
    registers,
    collect() {
      this.reset();
      for (const p of src.peers()) if (p.connected) this.labels(src.memberIdHex, p.id).set(1);
    },
  });
  gauge('os_fd_used', 'The number of used file descriptors.', () => openFds());
  gauge('os_fd_limit', 'The file descriptor limit.', () => fdLimit());
  collectDefaultMetrics({ register: m.registry });
}

/** The watch hub's families (registered by the API layer, which owns the hub). */
export function registerWatchMetrics(m: ServerMetrics, src: () => WatchMetricsSource): void {
  // One watch hub per API server; a member served by a second one (tests) keeps the first's families.
  if (m.registry.getSingleMetric('etcd_debugging_mvcc_watcher_total')) return;
  const registers = [m.registry];
  const gauge = (name: string, help: string, value: (s: WatchMetricsSource) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(src()));
      },
    });
  gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', (s) => s.watchers);
  gauge('etcd_debugging_mvcc_watch_stream_total', 'Total number of watch streams.', (s) => s.streams);
  gauge(
    'etcd_debugging_mvcc_slow_watcher_total',
    'Total number of unsynced slow watchers.',
    (s) => s.unsynced,
  );
  new Counter({
    name: 'etcd_debugging_mvcc_events_total',
    help: 'Total number of events sent by this member.',
    registers,
    collect() {
      this.reset();
      this.inc(src().eventsSent);
    },
  });
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

function fdLimit(): number {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Prometheus's ExponentialBuckets(start, factor, count), rounded as Go prints them (6 digits). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Number((start * factor ** i).toPrecision(6)));
}
