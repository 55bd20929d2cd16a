/**
 * Turns parsed flags into a member configuration, with etcd 3.4's validation rules and messages
 * (advertise URLs required with explicit listen URLs, the local name must be in --initial-cluster, ...).
 */
import type { ListenAddress } from '../pkg/index.js';
import type { MemberConfig } from '../server/index.js';
import type { LogLevel } from '../server/logger.js';
import type { TlsInfo } from '../tls/index.js';
import { FlagError, type ParsedFlags, parseDurationMs } from './flags.js';

export interface ListenUrl {
  url: string;
  host: string;
  port: number;
  /** unix://NAME: the socket file NAME (etcd listens on the URL's host:port as a path); else undefined. */
  path?: string;
  /** https:// (TLS only on this listener). */
  secure: boolean;
}

/** One side's TLS flags: etcd's TLSInfo as the flags give it, plus --auto-tls / --peer-auto-tls. */
export type TlsFlags = Omit<TlsInfo, 'cipherSuites' | 'selfCert'> & { autoTls: boolean };

export interface ServerConfig {
  member: MemberConfig;
  listenClient: ListenUrl[];
  logLevel: LogLevel;
  autoCompaction: { mode: 'periodic' | 'revision'; retention: string };
  /** Client and peer TLS flags and --cipher-suites (checked and turned into endpoints by cli/tls-setup.ts). */
  tls: { client: TlsFlags; peer: TlsFlags; cipherSuites: string[]; listenPeerUrls: string[] };
  /** etcd --max-concurrent-streams: HTTP/2 streams one client connection may have open at once. */
  maxConcurrentStreams: number;
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** Parses and checks one URL as etcd's types.NewURLs does; unixs (unix sockets over TLS) is not built yet. */
export function parseUrl(raw: string, flag: string): ListenUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new FlagError(`--${flag}: parse "${raw}": invalid URL`);
  }
  if (u.protocol === 'unixs:') {
    throw new FlagError(`--${flag}: ${raw}: unix sockets are not supported by tsetcd yet`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'unix:') {
    throw new FlagError(`--${flag}: URL scheme must be http, https, unix, or unixs: ${raw}`);
  }
  if (u.pathname !== '/' && u.pathname !== '') {
    throw new FlagError(`--${flag}: URL must not contain a path: ${raw}`);
  }
  if (u.port === '') throw new FlagError(`--${flag}: URL address does not have the form "host:port": ${raw}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  // etcd: a unix URL names its socket file by host:port (unix://etcd.unix:1 -> ./etcd.unix:1).
  if (u.protocol === 'unix:') return { url: raw, host, port: Number(u.port), path: u.host, secure: false };
  return { url: raw, host, port: Number(u.port), secure: u.protocol === 'https:' };
}

function parseInitialCluster(s: string): { name: string; peerUrls: string[] }[] {
  const byName = new Map<string, string[]>();
  for (const part of splitList(s)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new FlagError(`--initial-cluster: bad format "${part}" (expected name=url)`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    parseUrl(url, 'initial-cluster');
    byName.set(name, [...(byName.get(name) ?? []), url]);
  }
  return [...byName].map(([name, peerUrls]) => ({ name, peerUrls }));
}

function int(flags: ParsedFlags, name: string): number {
  return Number(flags.values.get(name));
}

export function buildConfig(flags: ParsedFlags): ServerConfig {
  const v = (name: string): string => flags.values.get(name) ?? '';
  const name = v('name');
  const dataDir = flags.given.has('data-dir') ? v('data-dir') : `${name}.etcd`;

  if (flags.given.has('listen-client-urls') && !flags.given.has('advertise-client-urls')) {
    throw new FlagError('--advertise-client-urls is required when --listen-client-urls is set explicitly');
  }
  if (
    flags.given.has('listen-peer-urls') &&
    !flags.given.has('initial-advertise-peer-urls') &&
    flags.given.has('initial-cluster')
  ) {
    throw new FlagError(
      '--initial-advertise-peer-urls is required when --listen-peer-urls is set explicitly',
    );
  }
  const listenClient = splitList(v('listen-client-urls')).map((u) => parseUrl(u, 'listen-client-urls'));
  const clientUrls = splitList(v('advertise-client-urls'));
  for (const u of clientUrls) parseUrl(u, 'advertise-client-urls');
  const listenPeers = splitList(v('listen-peer-urls')).map((u) => parseUrl(u, 'listen-peer-urls'));
  const listenAddress = (l: ListenUrl): ListenAddress =>
    l.path !== undefined ? { path: l.path } : { host: l.host, port: l.port };
  const peerUrls = splitList(v('initial-advertise-peer-urls'));
  for (const u of peerUrls) parseUrl(u, 'initial-advertise-peer-urls');

  // As etcd: naming a member without naming the cluster means a cluster of just this member.
  const clusterSpec = flags.given.has('initial-cluster')
    ? v('initial-cluster')
    : peerUrls.map((u) => `${name}=${u}`).join(',');
  const initialCluster = parseInitialCluster(clusterSpec);
  const self = initialCluster.find((m) => m.name === name);
  if (!self) {
    throw new FlagError(`couldn't find local name "${name}" in the initial cluster configuration`);
  }
  const sameUrls = [...self.peerUrls].sort().join(',') === [...peerUrls].sort().join(',');
  if (!sameUrls) {
    throw new FlagError(
      `--initial-cluster has ${name}=${self.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${peerUrls.join(',')}`,
    );
  }
  const state = v('initial-cluster-state');
  if (state !== 'new' && state !== 'existing') {
    throw new FlagError(
      `invalid value "${state}" for flag -initial-cluster-state: valid values are "new", "existing"`,
    );
  }

  const mode = v('auto-compaction-mode');
  if (mode !== 'periodic' && mode !== 'revision') {
    throw new FlagError(`unknown auto-compaction-mode "${mode}"`);
  }
  const retention = v('auto-compaction-retention');
  if (!/^\d+$/.test(retention) && (mode === 'revision' || parseDurationMs(retention) === undefined)) {
    throw new FlagError(`invalid auto-compaction-retention "${retention}"`);
  }

  let logLevel = v('log-level') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'panic', 'fatal'].includes(logLevel)) {
    throw new FlagError(
      `unknown log level "${logLevel}": only supports debug, info, warn, error, panic, or fatal`,
    );
  }
  if (v('debug') === 'true') logLevel = 'debug';

  const maxRequestBytes = int(flags, 'max-request-bytes');
  const maxTxnOps = int(flags, 'max-txn-ops');
  if (maxRequestBytes <= 0) throw new FlagError('--max-request-bytes must be positive');
  if (maxTxnOps <= 0) throw new FlagError('--max-txn-ops must be positive');
  // A Go uint32 flag whose default is spelled "math.MaxUint32" in etcd's help.
  const streamsText = v('max-concurrent-streams');
  const maxConcurrentStreams = streamsText === 'math.MaxUint32' ? 2 ** 32 - 1 : Number(streamsText);
  if (!/^\d+$/.test(streamsText) && streamsText !== 'math.MaxUint32')
    throw new FlagError(`invalid value "${streamsText}" for flag -max-concurrent-streams: parse error`);
  if (maxConcurrentStreams > 2 ** 32 - 1)
    throw new FlagError(
      `invalid value "${streamsText}" for flag -max-concurrent-streams: value out of range`,
    );
  const heartbeat = int(flags, 'heartbeat-interval');
  const election = int(flags, 'election-timeout');
  // etcd's own rules and texts for these two.
  if (heartbeat <= 0) throw new FlagError('--heartbeat-interval must be positive');
  if (5 * heartbeat > election) {
    throw new FlagError(
      `--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${heartbeat}ms]`,
    );
  }
  if (election > 50000)
    throw new FlagError(
      `--election-timeout[${election}ms] is too long, and should be set less than 50 seconds`,
    );

  const tlsFlags = (p: '' | 'peer-'): TlsFlags => ({
    certFile: v(`${p}cert-file`),
    keyFile: v(`${p}key-file`),
    trustedCaFile: v(`${p}trusted-ca-file`),
    clientCertAuth: v(`${p}client-cert-auth`) === 'true',
    crlFile: v(p === '' ? 'client-crl-file' : 'peer-crl-file'),
    allowedCn: p === '' ? '' : v('peer-cert-allowed-cn'),
    allowedHostname: v(p === '' ? 'client-cert-allowed-hostname' : 'peer-cert-allowed-hostname'),
    autoTls: v(`${p}auto-tls`) === 'true',
    skipClientSanVerify: p === 'peer-' && v('experimental-peer-skip-client-san-verification') === 'true',
  });

  return {
    tls: {
      client: tlsFlags(''),
      peer: tlsFlags('peer-'),
      cipherSuites: splitList(v('cipher-suites')),
      listenPeerUrls: listenPeers.map((l) => l.url),
    },
    member: {
      name,
      dataDir,
      clientUrls,
      peerUrls,
      initialCluster,
      initialClusterToken: v('initial-cluster-token'),
      maxRequestBytes,
      maxTxnOps,
      quotaBackendBytes: int(flags, 'quota-backend-bytes'),
      electionTimeoutMs: int(flags, 'election-timeout'),
      heartbeatMs: int(flags, 'heartbeat-interval'),
      snapshotCount: int(flags, 'snapshot-count'),
      backendBatchIntervalMs: parseDurationMs(v('backend-batch-interval')),
      maxSnapshots: int(flags, 'max-snapshots'),
      maxWals: int(flags, 'max-wals'),
      walDir: v('wal-dir'),
      watchProgressNotifyIntervalMs: parseDurationMs(v('experimental-watch-progress-notify-interval')),
      leaseCheckpoint: v('experimental-enable-lease-checkpoint') === 'true',
      initialCorruptCheck: v('experimental-initial-corrupt-check') === 'true',
      corruptCheckTimeMs: parseDurationMs(v('experimental-corrupt-check-time')),
      listenPeer: listenPeers[0] ? listenAddress(listenPeers[0]) : undefined,
      listenPeerAlso: listenPeers.slice(1).map(listenAddress),
      initialClusterState: state,
      strictReconfigCheck: v('strict-reconfig-check') === 'true',
      // auth (issue 13)
      authToken: v('auth-token'),
      authTokenTtlSeconds: int(flags, 'auth-token-ttl'),
      bcryptCost: int(flags, 'bcrypt-cost'),
      clientCertAuth: v('client-cert-auth') === 'true',
    },
    listenClient,
    logLevel,
    autoCompaction: { mode, retention },
    maxConcurrentStreams,
  };
}
