/**
 * The shapes the transport shares with its caller: options, statistics, the logger it takes, and
 * the wire names (paths and headers) both ends agree on.
 */
import type tls from 'node:tls';
import type { Rng } from '../pkg/index.js';
import type { Message } from '../raft/index.js';
import type { TransportErrorCode } from './errors.js';
import type { FaultHooks } from './faults.js';
import type { PeerServer } from './peer-server.js';

/** The narrow structured logger the transport writes to (server/'s Logger fits it). */
export interface TransportLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Snapshot data as the receiver gets it: a stream of chunks, or (buffered mode) one buffer. */
export type SnapshotData = AsyncIterable<Uint8Array> | Uint8Array;

/** Options of `Transport.start`. */
export interface TransportOptions {
  /** This member's id (non-zero). Sent as `X-Server-From`; incoming requests must name it in `X-Raft-To`. */
  localId: bigint;
  /** The cluster id; requests carrying another are refused with 412 "cluster ID mismatch". */
  clusterId: bigint;
  /** Where the peer port listens; port 0 picks a free port (read it back from `address`). */
  listen: { host: string; port: number };
  /**
   * A peer port already listening (e.g. started early to serve membership requests): the transport
   * registers its routes on it and ignores `listen`; `close()` then leaves the server running.
   */
  server?: PeerServer;
  /**
   * Receives every message from the message streams, synchronously, in the order each sender sent
   * them (messages may be lost between a connection failing and the next one, never reordered).
   * Also receives MsgSnap (data filled in) when `onSnapshot` is not set. Must not throw; a throw
   * is logged and the message counted as delivered.
   */
  onMessage(m: Message): void;
  /**
   * Receives a MsgSnap whose data arrives on its own request: `m.snapshot.data` is empty and the
   * data is `data` — an AsyncIterable of chunks (default; read it before resolving, the sender
   * waits) or one buffer when `snapshotBuffered` is set. Resolving answers the sender with success,
   * rejecting with failure (the sender's `onSnapshotStatus(id, false)`).
   */
  onSnapshot?(m: Message, data: SnapshotData): Promise<void>;
  /** Hand `onSnapshot` the whole snapshot as one buffer (bounded by SNAPSHOT_BUFFER_BYTES_MAX). */
  snapshotBuffered?: boolean;
  /**
   * Called when messages to `id` could not be sent: its queue overflowed, or its connection failed
   * or could not be made. Feed it to `RawNode.reportUnreachable(id)`. May be called often.
   */
  onUnreachable?(id: bigint): void;
  /** Outcome of each MsgSnap sent: feed it to `RawNode.reportSnapshot(id, ok)`. */
  onSnapshotStatus?(id: bigint, ok: boolean): void;
  /** The round-trip time of each answered liveness ping to peer `id`, in seconds (for metrics). */
  onRoundTrip?(id: bigint, seconds: number): void;
  /**
   * Whether to accept requests from a sender that was never added with `addPeer` (a member being
   * added, before this member applied its conf change). `urls` are the sender's advertised peer
   * URLs (`X-PeerURLs`), possibly empty. Default: refuse (404 "error sender not found").
   */
  acceptUnknownSender?(id: bigint, urls: string[]): boolean;
  /**
   * Whether `id` was removed from the cluster: its requests are refused with 410 "removed member"
   * (etcd's rafthttp), which tells it so. Default: no member is removed.
   */
  isRemoved?(id: bigint): boolean;
  /**
   * A peer refused this member as removed (410): this member was removed from the cluster while it
   * could not learn it from the log (down or cut off). etcd stops the member; so must the caller.
   */
  onRemoved?(): void;
  /** This member's advertised peer URLs, sent as `X-PeerURLs`; default the listen address. */
  advertisePeerUrls?: string[];
  /** Sent as `X-Server-Version`; informational (no version gate yet). Default '3.4.0'. */
  serverVersion?: string;
  /** Structured logger; default silent. */
  logger?: TransportLogger;
  /**
   * TLS for https:// peer URLs (etcd's --peer-* flags), both directions: the peer port serves TLS
   * when set, and links dial https:// URLs with `clientOptions()`. src/tls's TlsEndpoint fits it.
   * Unset: plaintext only (an https:// URL cannot be dialed).
   */
  tls?: PeerTls;
  /** Whether the peer port itself speaks TLS when `tls` is set (false: an http:// listen URL). Default true. */
  tlsListen?: boolean;
  /** Fault injection (tests, the fault suite); default none. */
  faults?: FaultHooks;
  /** Randomness for reconnect jitter and fault drops; default seeded from crypto. */
  rng?: Rng;
  /** Clock in milliseconds for fault delays; default `performance.now`. Timers are real timers. */
  now?: () => number;
  /** Bound of each peer's outbound queue in messages; default QUEUE_MESSAGES_MAX (4096). */
  queueMessagesMax?: number;
  /**
   * Liveness ping interval in ms: a link is torn down when a ping stays unanswered for one
   * interval, or a connection gets no answer within two. Default PING_INTERVAL_MS (2000); shorter
   * detects dead peers sooner but may misjudge a peer whose event loop stalls that long.
   */
  pingIntervalMs?: number;
  /** Largest frame accepted on a message stream; default FRAME_BYTES_MAX (64 MiB). */
  frameBytesMax?: number;
}

/**
 * The TLS a peer port and its links use; the transport knows no certificate files. Implemented by
 * src/tls's TlsEndpoint (which reloads changed files); the transport only calls these.
 */
export interface PeerTls {
  /** Options for tls.createServer (certificates, CA, ALPN, client certificate request). */
  serverOptions(): tls.TlsOptions;
  /** Hooks reloading and handshake-failure logging onto the peer port's server. */
  attach(server: tls.Server): void;
  /** Why a completed handshake must be refused (CA, CRL, allowed CN/hostname), or undefined. */
  refusal(socket: tls.TLSSocket): Promise<string | undefined>;
  /** Logs a refused connection ("rejected connection" with remote address and reason). */
  logRefusal(socket: tls.TLSSocket, error: string): void;
  /** Options for each outbound connection (client certificate, trusted CA, verification). */
  clientOptions(): tls.ConnectionOptions;
}

/**
 * The seam `server/` drives, so a simulated network can stand in for the real `Transport`.
 * Semantics as documented on `Transport`.
 */
export interface RaftTransport {
  addPeer(id: bigint, urls: string[]): void;
  updatePeer(id: bigint, urls: string[]): void;
  removePeer(id: bigint): void;
  send(msgs: readonly Message[]): void;
  sendSnapshot(m: Message, data: AsyncIterable<Uint8Array>, size: number): void;
  stats(): Map<bigint, PeerStats>;
  close(): Promise<void>;
}

/** Counters of one peer, as `Transport.stats()` reports them. */
export interface PeerStats {
  /** Messages written to the peer's stream (handed to the socket; delivery not confirmed). */
  sent: number;
  /** Messages dropped because the queue was full or the peer was removed. */
  dropped: number;
  /** Messages dropped by fault hooks (partition or drop probability). */
  faultDropped: number;
  /** Bytes written to the peer: frames and snapshot bodies. */
  bytes: number;
  /** Messages waiting in the queue. */
  queued: number;
  /** Messages received from this peer (delivered to onMessage). */
  received: number;
  /** Messages received from this peer and dropped by fault hooks on this side. */
  receiveFaultDropped: number;
  /** Whether the outbound message stream is established. */
  connected: boolean;
  /** Date.now() when the current outbound stream was established (etcd's ActiveSince); 0 when down. */
  activeSince: number;
  /** The latest failure of the outbound link, or null if none happened yet. */
  lastError: string | null;
  /** The code of `lastError` when it was one of the transport's own errors (test this, not the text). */
  lastErrorCode: TransportErrorCode | null;
  /** Snapshots sent successfully / failed. */
  snapshotsSent: number;
  snapshotsFailed: number;
  /** Bytes received from this peer: message stream bodies and snapshot bodies (etcd's peer received bytes). */
  receivedBytes: number;
  /** Streams or snapshots from this peer refused as malformed or failed mid-way (etcd's peer received failures). */
  receiveFailures: number;
}

/** Request paths on the peer port (etcd's rafthttp prefixes). */
export const RAFT_PREFIX = '/raft';
export const RAFT_STREAM_PATH = '/raft/stream/message';
export const RAFT_SNAPSHOT_PATH = '/raft/snapshot';

/** Request and response headers (HTTP/2 lower-cases names; etcd's spellings otherwise). */
export const H_CLUSTER_ID = 'x-etcd-cluster-id';
export const H_FROM = 'x-server-from';
export const H_TO = 'x-raft-to';
export const H_VERSION = 'x-server-version';
export const H_PEER_URLS = 'x-peerurls';
/** Announced snapshot data length in bytes (decimal). */
export const H_SNAPSHOT_BYTES = 'x-snapshot-bytes';
/** Trailer carrying the reason a receiver ended a message stream. */
export const H_STREAM_ERROR = 'x-tsetcd-stream-error';

/** A member id as etcd prints it (types.ID.String(): lower-case hex, no padding). */
export function idToHex(id: bigint): string {
  return id.toString(16);
}

/** Parses `idToHex` output; null if it is not 1..16 hex digits or is zero. */
export function idFromHex(s: string | string[] | undefined): bigint | null {
  if (typeof s !== 'string' || !/^[0-9a-fA-F]{1,16}$/.test(s)) return null;
  const id = BigInt(`0x${s}`);
  return id === 0n ? null : id;
}
