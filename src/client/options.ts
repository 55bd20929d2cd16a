/** The options of `Client`, each with its meaning, unit and default. */
import type { Clock } from '../pkg/index.js';

/** grpc-js's two built-in balancing policies; clientv3's default is round_robin. */
export type LbPolicy = 'round_robin' | 'pick_first';

/** TLS for the client connections. Without it the client speaks plaintext HTTP/2 (h2c). */
export interface TlsOptions {
  /** PEM CA bundle that signs the servers' certificates; default: Node's root store. */
  ca?: Buffer;
  /** PEM client certificate for mTLS (with `key`). */
  cert?: Buffer;
  /** PEM private key of `cert`. */
  key?: Buffer;
  /** Accept any server certificate (etcdctl's --insecure-skip-tls-verify). For tests only. */
  insecureSkipVerify?: boolean;
  /** Server name to verify instead of the endpoint's host. */
  serverName?: string;
}

/** When and how often a failed call is tried again. */
export interface RetryOptions {
  /** Attempts in all, the first included; default 5 (at least 1). */
  maxAttempts?: number;
  /** First backoff in ms; doubles per attempt with ±20% jitter; default 25. */
  baseDelayMs?: number;
  /** Backoff ceiling in ms; default 1000. */
  maxDelayMs?: number;
  /**
   * Also retry mutations (put, delete, txn with writes, lease grant/revoke, member and auth changes).
   * Default false: a mutation is sent at most once, as clientv3 does, because a retry after a lost
   * answer may apply it twice.
   */
  retryMutations?: boolean;
}

/** HTTP/2 keepalive pings (as etcdctl's --keepalive-time / --keepalive-timeout). */
export interface KeepAliveOptions {
  /** Ping after this long without activity, in ms; default off (grpc-js's default). */
  timeMs?: number;
  /** Close the connection when a ping is not answered within this, in ms; default 20000. */
  timeoutMs?: number;
  /** Also ping with no call in flight; default false. A server with a strict enforcement policy may close such connections. */
  permitWithoutCalls?: boolean;
}

/** Options of `new Client(...)`. */
export interface ClientOptions {
  /**
   * The members: a list of `host:port` / `http(s)://host:port`, or one `dns:///name:port` target that
   * grpc-js resolves (one A record per member, as a Kubernetes headless Service gives). Required
   * unless `discoverySrv` is given (then use `Client.connect`).
   */
  endpoints?: string[] | string;
  /** Find the endpoints in the SRV records of this domain (etcdctl's --discovery-srv). */
  discoverySrv?: string;
  /** etcd's --discovery-srv-name suffix. */
  discoverySrvName?: string;
  /** Balancing policy; default round_robin (clientv3's). */
  lbPolicy?: LbPolicy;
  /**
   * Follow the cluster's MemberList: every `intervalMs` (default 30 s) the client asks MemberList and
   * balances over the members' client URLs, so members added or removed are used without a restart.
   * Learners only get serializable reads. Default off (the static endpoints are used as given).
   */
  followMembership?: boolean | { intervalMs?: number };
  /**
   * Replace the channels after this long, in ms (±10% jitter), so DNS names are resolved again and new
   * members get connections (grpc-js re-resolves DNS only after a failure). Calls in flight finish on
   * the old channel; watches and lease keep-alives resume on the new one. Default off.
   */
  maxConnectionAgeMs?: number;
  /** How long the first connection may take in `Client.connect`, in ms; default 5000. */
  dialTimeoutMs?: number;
  /** A deadline for every unary call, in ms, unless the call gives its own; default none. */
  callTimeoutMs?: number;
  keepAlive?: KeepAliveOptions;
  tls?: TlsOptions;
  /** Authenticate as this user; the token is renewed when the server answers "invalid auth token". */
  auth?: { user: string; password: string };
  retry?: RetryOptions;
  /** Largest response accepted, in bytes; default 2^31-1 (as clientv3). */
  maxResponseBytes?: number;
  /**
   * How unary calls travel. 'h2' (default): a lean gRPC-over-node:http2 path with the same balancing
   * policies, about half grpc-js's client CPU per call; it serves plaintext endpoint lists without
   * `keepAlive` and otherwise falls back to grpc-js. 'grpc-js': every call through grpc-js channels.
   * Streams (watch, lease keep-alive, snapshot) always use grpc-js.
   */
  transport?: 'h2' | 'grpc-js';
  /** Time source for keep-alive schedules and lease deadlines; default the real clock. */
  clock?: Clock;
}
