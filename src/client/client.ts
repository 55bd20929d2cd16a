/**
 * `Client`: the entry point of tsetcd/client. One client owns its channels (a voters view and an
 * everything-including-learners view of the members), balances with grpc-js's round_robin (default)
 * or pick_first, and exposes etcd's services as `kv`, `watch()`, `lease`, `lock`, `election`,
 * `cluster`, `maintenance` and `auth`.
 *
 * ```ts
 * import { Client } from 'tsetcd/client';
 * const client = await Client.connect({ endpoints: ['127.0.0.1:2379', '127.0.0.1:22379'] });
 * await client.kv.put('greeting', 'hello');
 * const { kvs } = await client.kv.get('greeting');
 * client.close();
 * ```
 */
import type { Timer } from '../pkg/index.js';
import { Connection } from './connection.js';
import { discoverSrv, parseEndpoint } from './endpoints.js';
import type { Bytes } from './kv.js';
import { KV } from './kv.js';
import { Leases } from './lease.js';
import type { ClientOptions } from './options.js';
import { Auth, Cluster, Elections, Locks, Maintenance } from './services.js';
import { Watcher, type WatchOptions } from './watch.js';

/** Default MemberList interval of `followMembership`, in ms (clientv3's AutoSyncInterval is off by default; etcd's gateway uses 30 s). */
export const MEMBERSHIP_SYNC_INTERVAL_MS = 30_000;

export class Client {
  readonly kv: KV;
  readonly lease: Leases;
  readonly lock: Locks;
  readonly election: Elections;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  readonly auth: Auth;
  /** @internal the shared call path */
  readonly conn: Connection;
  private syncTimer: Timer | undefined;
  private syncing: Promise<boolean> | undefined;

  /** Builds a client on explicit endpoints (no I/O until the first call). See `Client.connect`. */
  constructor(readonly options: ClientOptions) {
    const eps = options.endpoints;
    const list = eps === undefined ? [] : typeof eps === 'string' ? eps.split(',') : eps;
    if (list.length === 0)
      throw new Error('tsetcd client: no endpoints (use Client.connect for discoverySrv)');
    this.conn = new Connection(options, list);
    this.kv = new KV(this.conn);
    this.lease = new Leases(this.conn);
    this.lock = new Locks(this.conn);
    this.election = new Elections(this.conn);
    this.cluster = new Cluster(this.conn);
    this.maintenance = new Maintenance(this.conn);
    this.auth = new Auth(this.conn);
    if (options.auth) {
      const { user, password } = options.auth;
      this.conn.authenticate = async () => (await this.auth.rawAuthenticate(user, password)).token;
    }
    const follow = options.followMembership;
    if (follow) {
      const every =
        typeof follow === 'object'
          ? (follow.intervalMs ?? MEMBERSHIP_SYNC_INTERVAL_MS)
          : MEMBERSHIP_SYNC_INTERVAL_MS;
      this.syncTimer = this.conn.clock.setInterval(() => {
        void this.syncMembers().catch(() => {});
      }, every);
    }
  }

  /**
   * Builds a client (resolving `discoverySrv` first), authenticates when `auth` is given, and
   * waits until a MemberList answers or `dialTimeoutMs` (default 5000) passes. With `followMembership`
   * the first member list is applied before it resolves.
   */
  static async connect(options: ClientOptions): Promise<Client> {
    let o = options;
    if (o.discoverySrv !== undefined && o.endpoints === undefined) {
      o = { ...o, endpoints: await discoverSrv(o.discoverySrv, o.discoverySrvName) };
    }
    const c = new Client(o);
    try {
      const deadlineMs = o.dialTimeoutMs ?? 5000;
      if (o.followMembership) await c.syncMembers({ deadlineMs });
      else await c.cluster.list({ deadlineMs });
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /**
   * Asks MemberList once and balances over the members' client URLs from now on (learners only for
   * serializable reads). Members without client URLs (not started yet) are left out; an empty answer
   * leaves the list as it was. Returns whether the list changed. Only for list-of-endpoints clients.
   */
  async syncMembers(o: { deadlineMs?: number } = {}): Promise<boolean> {
    const book = this.conn.book;
    if (book === undefined) return false;
    this.syncing ??= (async () => {
      try {
        const r = await this.cluster.list({ deadlineMs: o.deadlineMs ?? 5000 });
        const addrs = r.members.flatMap((m) =>
          m.clientURLs.slice(0, 1).map((u) => {
            const { host, port } = parseEndpoint(u);
            return { host, port, learner: m.isLearner };
          }),
        );
        return addrs.length > 0 && book.set(addrs);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  /** Watches a key, range or prefix; see `Watcher`. */
  watch(key: Bytes, o: WatchOptions = {}): Watcher {
    return new Watcher(this.conn, key, o);
  }

  /** Replaces the channels now (as the max connection age does). */
  reconnect(): void {
    this.conn.rotate();
  }

  /** Stops keep-alives and membership sync and closes the channels. Leases are not revoked. */
  close(): void {
    this.syncTimer?.clear();
    this.lease.closeAll();
    this.conn.close();
  }
}
