/**
 * The member's configuration: what etcd's flags give (`MemberConfig`), and the same with every
 * default resolved once (`ResolvedConfig`), so no part of the member spells a default again.
 */

import type { StoreFaults } from '../mvcc/index.js';
import { type Clock, RealClock } from '../pkg/clock.js';
import type { ListenAddress } from '../pkg/index.js';
import type { FaultHooks, PeerTls } from '../transport/index.js';
import type { WalFs } from '../wal/index.js';
import { type DataDirLayout, dataDirLayout } from './data-dir.js';

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
  listenPeer?: ListenAddress;
  /** More peer listen addresses (etcd takes several --listen-peer-urls), served like the first. */
  listenPeerAlso?: ListenAddress[];
  /** etcd --initial-cluster-state: 'existing' joins a running cluster (after `member add`). */
  initialClusterState?: 'new' | 'existing';
  /** etcd --strict-reconfig-check (default true): refuse changes that would cost the quorum. */
  strictReconfigCheck?: boolean;
  /** Fault injection on the peer links (tests and the fault suite): partitions, drops, delays. */
  transportFaults?: FaultHooks;
  /** TLS of the peer port and links (etcd's --peer-* flags; src/tls's TlsEndpoint); unset = plaintext. */
  peerTls?: PeerTls;
  /** Whether the peer port serves TLS (an https:// --listen-peer-urls); default true when peerTls is set. */
  peerTlsListen?: boolean;
  /**
   * Requests to other members' peer URLs besides Raft (join, lease forwarding, promote); must
   * speak https:// with the peer TLS settings when peer URLs are https (src/tls's makePeerFetch).
   * Default: global fetch.
   */
  peerFetch?: PeerFetch;
  /** etcd --auth-token: `simple` (default) or `jwt,pub-key=...,priv-key=...,sign-method=...,ttl=...`. */
  authToken?: string;
  /** etcd --auth-token-ttl in seconds (default 300): how long an unused simple token lives. */
  authTokenTtlSeconds?: number;
  /** etcd --bcrypt-cost (default 10; out of [4, 31] falls back to 10). */
  bcryptCost?: number;
  /** etcd --client-cert-auth: a client certificate's CN names the user of a call without a token. */
  clientCertAuth?: boolean;
  /** Entries kept after a snapshot for slow followers (default 5000, etcd's); tests use few. */
  snapshotCatchUpEntries?: number;
  /** Test-only broken build (fault-control.ts FAILPOINT_GIVE_UP_ENV): exit after this long without a leader. */
  giveUpWithoutLeaderMs?: number;
  /** etcd --experimental-enable-lease-checkpoint; on unless false (etcd's default is off). */
  leaseCheckpoint?: boolean;
  /** Test-only disk faults of the store (fault-control.ts); absent in production. */
  storeFaults?: StoreFaults;
  /** etcd --experimental-initial-corrupt-check: compare HashKV with the peers before serving (corrupt-check.ts). */
  initialCorruptCheck?: boolean;
  /** etcd --experimental-corrupt-check-time in ms: the leader's periodic HashKV check; 0/absent = off. */
  corruptCheckTimeMs?: number;
  /** How often the leader checkpoints remaining lease TTLs (default 5 minutes, etcd's); tests use less. */
  leaseCheckpointIntervalMs?: number;
  /** Time and timers for the member's parts (deadlines, lease expiry, waits); default: the real clock. */
  clock?: Clock;
}

/**
 * The etcd release whose API and behaviour tsetcd reproduces, reported where etcd reports its own
 * version (Status, /version, etcd_server_version): the one the differential tests and etcd's own e2e
 * suite run against (Debian's etcd 3.4.23). tsetcd's own version is `tsetcd --version`'s first line.
 */
export const SERVER_VERSION = '3.4.23';
/** The cluster's API version clients see (etcd's cluster version is major.minor.0). */
export const CLUSTER_VERSION = '3.4.0';

/** etcd's default space quota when --quota-backend-bytes is 0: 2 GiB. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's default --backend-batch-interval. */
export const BACKEND_BATCH_INTERVAL_MS_DEFAULT = 100;

/** `MemberConfig` with every default filled in, and the values derived from it. */
export interface ResolvedConfig extends MemberConfig {
  electionTimeoutMs: number;
  heartbeatMs: number;
  /** Raft ticks per election timeout (at least 2). */
  electionTicks: number;
  snapshotCount: number;
  maxSnapshots: number;
  maxWals: number;
  backendBatchIntervalMs: number;
  initialClusterState: 'new' | 'existing';
  strictReconfigCheck: boolean;
  leaseCheckpoint: boolean;
  /** The quota actually enforced, in bytes (--quota-backend-bytes, or 2 GiB when 0). */
  quotaBytes: number;
  /** How long a request may wait to be applied before "request timed out": 5 s + 2 elections. */
  requestTimeoutMs: number;
  /** etcd's minimum lease TTL in seconds: 1.5 election timeouts, rounded up. */
  minLeaseTtlSeconds: number;
  clock: Clock;
  /** Where everything lives in the data dir. */
  layout: DataDirLayout;
}

/** The real clock the member uses unless a test gives another. */
const MEMBER_CLOCK: Clock = new RealClock({ unref: true });

/** Whether `c` is a clock a test gave (the Raft driver then ticks on it too; otherwise on its own ref'd timers). */
export function isInjectedClock(c: Clock): boolean {
  return c !== MEMBER_CLOCK;
}

/** The fetch subset used on peer URLs (see MemberConfig.peerFetch). */
export type PeerFetch = (
  url: string,
  init?: { method?: string; body?: string; signal?: AbortSignal; headers?: Record<string, string> },
) => Promise<Response>;

/** Fills in every default (etcd's) once. */
export function resolveConfig(cfg: MemberConfig): ResolvedConfig {
  const electionTimeoutMs = cfg.electionTimeoutMs ?? 1000;
  const heartbeatMs = cfg.heartbeatMs ?? 100;
  return {
    ...cfg,
    electionTimeoutMs,
    heartbeatMs,
    electionTicks: Math.max(2, Math.round(electionTimeoutMs / heartbeatMs)),
    snapshotCount: cfg.snapshotCount ?? 100_000,
    maxSnapshots: cfg.maxSnapshots ?? 5,
    maxWals: cfg.maxWals ?? 5,
    backendBatchIntervalMs: cfg.backendBatchIntervalMs || BACKEND_BATCH_INTERVAL_MS_DEFAULT,
    initialClusterState: cfg.initialClusterState ?? 'new',
    strictReconfigCheck: cfg.strictReconfigCheck !== false,
    leaseCheckpoint: cfg.leaseCheckpoint ?? true,
    quotaBytes: cfg.quotaBackendBytes > 0 ? cfg.quotaBackendBytes : DEFAULT_QUOTA_BYTES,
    requestTimeoutMs: requestTimeoutMs(cfg),
    minLeaseTtlSeconds: minLeaseTtlSeconds(cfg),
    // Unref'd: the member's timers (lease expiry ticks, deadlines) never keep a process alive alone.
    clock: cfg.clock ?? MEMBER_CLOCK,
    layout: dataDirLayout(cfg.dataDir, cfg.walDir),
  };
}

/** How long a proposal may wait to be applied before "request timed out" (etcd: 5 s + 2 elections). */
export function requestTimeoutMs(cfg: { electionTimeoutMs?: number }): number {
  return 5000 + 2 * (cfg.electionTimeoutMs ?? 1000);
}

/** etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds. */
export function minLeaseTtlSeconds(cfg: { electionTimeoutMs?: number }): number {
  return Math.ceil((1.5 * (cfg.electionTimeoutMs ?? 1000)) / 1000);
}
