/**
 * `tsetcd migrate follow --from <etcd> --to <tsetcd>`: moving a live etcd cluster to tsetcd while it
 * keeps taking writes, keeping etcd's revisions.
 *
 * The procedure (docs/MIGRATE.md):
 *   1. `etcdctl --endpoints <etcd> snapshot save etcd.db`            the bulk, at revision R
 *   2. `tsetcd snapshot restore etcd.db ...` on every new member, start the tsetcd cluster
 *      (it serves exactly etcd's state at R: same keys, revisions, leases, compact revision)
 *   3. `tsetcd migrate follow --from <etcd> --to <tsetcd>`            what etcd changes after R
 *   4. cut-over: stop etcd's writers; `follow --until-synced` exits once tsetcd is at etcd's
 *      revision; point the clients at tsetcd.
 *
 * Follow watches etcd from tsetcd's current revision + 1 and applies each etcd revision to tsetcd as
 * one Txn (its puts and deletes), so tsetcd's revision after it equals etcd's (checked on every
 * revision: a mismatch means someone else wrote to tsetcd, and follow stops with that error).
 * A lease first seen on a put is granted on tsetcd with the same id and etcd's granted TTL.
 *
 * What differs, said exactly: keep-alives are not mirrored (a lease granted by follow runs its full
 * TTL from the moment it was granted on tsetcd; one that expires there before the cut-over deletes
 * its keys on tsetcd first — a revision etcd does not have — and follow stops with the mismatch);
 * lease revocations without attached keys, compactions and auth changes are not mirrored; a revision
 * that changes more keys than tsetcd's --max-txn-ops in one Txn is applied as one DeleteRange when it
 * deletes exactly the live keys of a key range, and refused otherwise (start tsetcd with a larger
 * --max-txn-ops). If etcd compacts past tsetcd's revision before follow starts, the history is gone:
 * take a new snapshot and restore again.
 */
import { readFileSync } from 'node:fs';
import {
  type CallOptions,
  type ChannelCredentials,
  Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  AuthService,
  KVService,
  LeaseService,
  type RequestOp,
  type TxnResponse,
  type WatchRequest,
  type WatchResponse,
  WatchService,
} from '../proto/etcdserverpb/rpc.js';
import { type Event, Event_EventType } from '../proto/mvccpb/kv.js';

/** A migrate failure: printed as `Error: ...`, exit status 1. */
export class MigrateError extends Error {}

/** Ops per Txn tsetcd takes by default (etcd's --max-txn-ops). */
export const TXN_OPS_MAX_DEFAULT = 128;
/** How long follow waits for a watch response before it checks whether it is in sync. */
export const SYNC_POLL_MS = 500;
/** Deadline of each unary call. */
export const CALL_DEADLINE_MS = 10_000;

/** How follow reaches one side: TLS files (etcdctl's --cacert/--cert/--key) and a user. */
export interface EndpointSecurity {
  /** https:// given, or any TLS file: connect with TLS. */
  tls: boolean;
  /** CA bundle to verify the server with (default: the system's roots). */
  cacert?: string;
  /** Client certificate and key, for a server with --client-cert-auth. */
  cert?: string;
  key?: string;
  /** "name:password": authenticate and send the token (a server with auth enabled). */
  user?: string;
}

interface FollowOptions {
  from: string;
  to: string;
  fromSecurity: EndpointSecurity;
  toSecurity: EndpointSecurity;
  untilSynced: boolean;
  syncTimeoutMs: number;
  maxTxnOps: number;
}

/** Runs `tsetcd migrate <args>`; returns the exit status. */
export async function runMigrateCommand(
  args: string[],
  log: (line: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'follow') {
    process.stderr.write(USAGE);
    return sub === undefined || sub === 'help' || sub === '--help' ? 0 : 2;
  }
  try {
    await follow(parseFollow(rest), log);
    return 0;
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
}

const USAGE = `Usage:
  tsetcd migrate follow --from <etcd URL> --to <tsetcd URL> [--until-synced]
                        [--sync-timeout-ms N] [--max-txn-ops N]
                        [--cacert F] [--cert F] [--key F] [--user name:password]
                        [--from-cacert F] [--from-cert F] [--from-key F] [--from-user name:password]
                        [--to-cacert F] [--to-cert F] [--to-key F] [--to-user name:password]
Applies every etcd revision after tsetcd's current one to tsetcd, keeping revisions (see docs/MIGRATE.md).
A URL is host:port, http://host:port or https://host:port (TLS); --cacert/--cert/--key/--user apply to
both sides, --from-* and --to-* to one (and win over the shared ones).
`;

const SECURITY_FLAGS = ['cacert', 'cert', 'key', 'user'] as const;

function parseFollow(args: string[]): FollowOptions {
  const o: FollowOptions = {
    from: '',
    to: '',
    fromSecurity: { tls: false },
    toSecurity: { tls: false },
    untilSynced: false,
    syncTimeoutMs: 60_000,
    maxTxnOps: TXN_OPS_MAX_DEFAULT,
  };
  const shared: Partial<Record<(typeof SECURITY_FLAGS)[number], string>> = {};
  const sides = { from: { ...shared }, to: { ...shared } };
  let fromUrl = '';
  let toUrl = '';
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i]!.replace(/^--?/, '').split(/=(.*)/s) as [string, string | undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new MigrateError(`flag needs an argument: --${name}`);
      return v;
    };
    const side = /^(from|to)-(cacert|cert|key|user)$/.exec(name);
    if (name === 'from') fromUrl = value();
    else if (name === 'to') toUrl = value();
    else if (name === 'until-synced') o.untilSynced = true;
    else if (name === 'sync-timeout-ms') o.syncTimeoutMs = Number(value());
    else if (name === 'max-txn-ops') o.maxTxnOps = Number(value());
    else if ((SECURITY_FLAGS as readonly string[]).includes(name))
      shared[name as (typeof SECURITY_FLAGS)[number]] = value();
    else if (side) sides[side[1] as 'from' | 'to'][side[2] as (typeof SECURITY_FLAGS)[number]] = value();
    else throw new MigrateError(`unknown flag: ${args[i]}`);
  }
  if (!fromUrl || !toUrl) throw new MigrateError('--from and --to are required');
  const resolve = (url: string, own: Partial<Record<(typeof SECURITY_FLAGS)[number], string>>) => {
    const sec: EndpointSecurity = { tls: url.startsWith('https://'), ...shared, ...own };
    if (sec.cacert || sec.cert || sec.key) sec.tls = true;
    if (!!sec.cert !== !!sec.key) throw new MigrateError(`${url}: --cert and --key go together`);
    return { endpoint: stripScheme(url), sec };
  };
  const f = resolve(fromUrl, sides.from);
  const t = resolve(toUrl, sides.to);
  o.from = f.endpoint;
  o.fromSecurity = f.sec;
  o.to = t.endpoint;
  o.toSecurity = t.sec;
  return o;
}

function stripScheme(u: string): string {
  return u.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** gRPC channel credentials for one side (TLS files read once, at start). */
function channelCredentials(endpoint: string, s: EndpointSecurity): ChannelCredentials {
  if (!s.tls) return credentials.createInsecure();
  const read = (f: string | undefined) => {
    if (f === undefined) return null;
    try {
      return readFileSync(f);
    } catch (e) {
      throw new MigrateError(`${endpoint}: ${(e as Error).message}`);
    }
  };
  return credentials.createSsl(read(s.cacert), read(s.key), read(s.cert));
}

/** A minimal unary client over the generated service definitions. */
class Rpc {
  readonly raw: Client;
  /** Metadata of every call: the auth token once `login` got one. */
  readonly metadata = new Metadata();
  constructor(
    readonly endpoint: string,
    private readonly security: EndpointSecurity,
  ) {
    this.raw = new Client(endpoint, channelCredentials(endpoint, security), {
      'grpc.max_receive_message_length': -1,
    });
  }

  /** With --user: authenticates (etcd's Authenticate) and sends the token from then on. */
  async login(): Promise<void> {
    if (!this.security.user) return;
    const colon = this.security.user.indexOf(':');
    if (colon < 0) throw new MigrateError(`${this.endpoint}: --user wants name:password`);
    const r = await this.call(AuthService.authenticate, {
      name: this.security.user.slice(0, colon),
      password: this.security.user.slice(colon + 1),
    });
    this.metadata.set('token', r.token);
  }

  call<Req, Res>(
    def: { path: string; requestSerialize(v: Req): Buffer; responseDeserialize(b: Buffer): Res },
    req: Req,
  ): Promise<Res> {
    const opts: CallOptions = { deadline: Date.now() + CALL_DEADLINE_MS };
    return new Promise((resolve, reject) =>
      this.raw.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        this.metadata,
        opts,
        (err: ServiceError | null, res?: Res) =>
          err
            ? reject(new MigrateError(`${this.endpoint}: ${def.path}: ${err.details || err.message}`))
            : resolve(res!),
      ),
    );
  }

  async revision(): Promise<number> {
    const r = await this.call(KVService.range, { ...rangeReq(Buffer.from([0]), Buffer.alloc(0)), limit: 1n });
    return Number(r.header!.revision);
  }
}

/** See the module comment. Resolves when synced (with --until-synced) or never. */
async function follow(o: FollowOptions, log: (line: string) => void): Promise<void> {
  const etcd = new Rpc(o.from, o.fromSecurity);
  const ts = new Rpc(o.to, o.toSecurity);
  try {
    await etcd.login();
    await ts.login();
    let applied = await ts.revision();
    const etcdRev = await etcd.revision();
    if (etcdRev < applied)
      throw new MigrateError(
        `tsetcd is at revision ${applied}, ahead of etcd's ${etcdRev}: not restored from this etcd`,
      );
    log(
      JSON.stringify({
        level: 'info',
        msg: 'following etcd',
        from: o.from,
        to: o.to,
        'start-revision': applied + 1,
        'etcd-revision': etcdRev,
      }),
    );
    const leases = new Set<bigint>();
    const watch = openWatch(etcd, applied + 1);
    const started = Date.now();
    let pending: Event[] = [];
    try {
      for (;;) {
        const res = await watch.next(SYNC_POLL_MS);
        if (res === undefined) {
          // Quiet: synced when etcd's revision is ours (only checked between whole revisions).
          if (!o.untilSynced || pending.length > 0) continue;
          if ((await etcd.revision()) === applied) {
            log(JSON.stringify({ level: 'info', msg: 'in sync', revision: applied }));
            return;
          }
          if (Date.now() - started > o.syncTimeoutMs) {
            throw new MigrateError(`not in sync after ${o.syncTimeoutMs} ms (tsetcd at revision ${applied})`);
          }
          continue;
        }
        if (res.compactRevision > 0n) {
          throw new MigrateError(
            `etcd compacted revision ${res.compactRevision}, past tsetcd's revision ${applied}: take a new snapshot and restore again`,
          );
        }
        if (res.canceled) throw new MigrateError(`etcd canceled the watch: ${res.cancelReason}`);
        pending.push(...res.events);
        // Apply every complete revision (a response ends on a revision boundary unless fragmented).
        while (pending.length > 0) {
          const rev = Number(pending[0]!.kv!.modRevision);
          let n = 0;
          while (n < pending.length && Number(pending[n]!.kv!.modRevision) === rev) n++;
          if (n === pending.length && res.fragment) break;
          const group = pending.slice(0, n);
          pending = pending.slice(n);
          if (rev !== applied + 1)
            throw new MigrateError(`etcd revision ${rev} arrived while tsetcd is at ${applied} (a gap)`);
          await applyRevision(etcd, ts, group, rev, leases, o.maxTxnOps);
          applied = rev;
        }
      }
    } finally {
      watch.close();
    }
  } finally {
    etcd.raw.close();
    ts.raw.close();
  }
}

/** Applies one etcd revision's events to tsetcd as one Txn (or one DeleteRange); checks the revision. */
async function applyRevision(
  etcd: Rpc,
  ts: Rpc,
  events: Event[],
  rev: number,
  leases: Set<bigint>,
  maxTxnOps: number,
): Promise<void> {
  for (const e of events) {
    const lease = e.kv!.lease;
    if (e.type === Event_EventType.PUT && lease !== 0n && !leases.has(lease)) {
      await ensureLease(etcd, ts, lease);
      leases.add(lease);
    }
  }
  let header: { revision: bigint } | undefined;
  if (events.length > maxTxnOps) {
    header = await deleteAsRange(ts, events, rev);
  } else {
    const ops: RequestOp[] = events.map((e) =>
      e.type === Event_EventType.PUT
        ? {
            requestPut: {
              key: e.kv!.key,
              value: e.kv!.value,
              lease: e.kv!.lease,
              prevKv: false,
              ignoreValue: false,
              ignoreLease: false,
            },
          }
        : { requestDeleteRange: { key: e.kv!.key, rangeEnd: Buffer.alloc(0), prevKv: false } },
    );
    const r: TxnResponse = await ts.call(KVService.txn, { compare: [], success: ops, failure: [] });
    header = r.header;
  }
  if (Number(header?.revision) !== rev) {
    throw new MigrateError(
      `tsetcd is at revision ${header?.revision} after applying etcd's revision ${rev}: tsetcd diverged (another writer, or an expired lease)`,
    );
  }
}

/** A revision of more deletes than one Txn takes, applied as one DeleteRange when that is exact. */
async function deleteAsRange(
  ts: Rpc,
  events: Event[],
  rev: number,
): Promise<{ revision: bigint } | undefined> {
  if (events.some((e) => e.type !== Event_EventType.DELETE)) {
    throw new MigrateError(
      `etcd revision ${rev} changes ${events.length} keys, more than tsetcd's --max-txn-ops: raise it`,
    );
  }
  const keys = events.map((e) => Buffer.from(e.kv!.key)).sort(Buffer.compare);
  const first = keys[0]!;
  const end = Buffer.concat([keys.at(-1)!, Buffer.from([0])]);
  const r = await ts.call(KVService.txn, {
    compare: [],
    success: [{ requestRange: rangeReq(first, end) }],
    failure: [],
  });
  const live = r.responses[0]?.responseRange?.count;
  if (Number(live) !== keys.length) {
    throw new MigrateError(
      `etcd revision ${rev} deletes ${keys.length} keys that are not one key range on tsetcd: raise --max-txn-ops`,
    );
  }
  const d = await ts.call(KVService.deleteRange, { key: first, rangeEnd: end, prevKv: false });
  return d.header;
}

function rangeReq(key: Buffer, rangeEnd: Buffer) {
  return {
    key,
    rangeEnd,
    limit: 0n,
    revision: 0n,
    sortOrder: 0,
    sortTarget: 0,
    serializable: false,
    keysOnly: true,
    countOnly: true,
    minModRevision: 0n,
    maxModRevision: 0n,
    minCreateRevision: 0n,
    maxCreateRevision: 0n,
  };
}

/** Grants `id` on tsetcd with etcd's granted TTL unless tsetcd has it (from the snapshot). */
async function ensureLease(etcd: Rpc, ts: Rpc, id: bigint): Promise<void> {
  const have = await ts.call(LeaseService.leaseTimeToLive, { ID: id, keys: false });
  if (have.TTL !== -1n) return;
  const theirs = await etcd.call(LeaseService.leaseTimeToLive, { ID: id, keys: false });
  // Revoked on etcd meanwhile: its keys are deleted in a later revision; any TTL serves till then.
  const ttl = theirs.TTL === -1n ? 60n : theirs.grantedTTL;
  await ts.call(LeaseService.leaseGrant, { TTL: ttl, ID: id });
}

/** A watch on every key from `startRevision`, with a pull interface and a timeout. */
function openWatch(rpc: Rpc, startRevision: number) {
  const call: ClientDuplexStream<WatchRequest, WatchResponse> = rpc.raw.makeBidiStreamRequest(
    WatchService.watch.path,
    WatchService.watch.requestSerialize,
    WatchService.watch.responseDeserialize,
    rpc.metadata,
    {},
  );
  const queue: WatchResponse[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  call.on('data', (r: WatchResponse) => {
    if (r.created) return;
    queue.push(r);
    wake?.();
  });
  call.on('error', (e: ServiceError) => {
    if (e.code !== 1) failure = new MigrateError(`${rpc.endpoint}: watch: ${e.details || e.message}`);
    wake?.();
  });
  call.on('end', () => {
    failure ??= new MigrateError(`${rpc.endpoint}: watch ended`);
    wake?.();
  });
  call.write({
    createRequest: {
      key: Buffer.from([0]),
      rangeEnd: Buffer.from([0]),
      startRevision: BigInt(startRevision),
      progressNotify: true,
      filters: [],
      prevKv: false,
      watchId: 0n,
      fragment: false,
    },
  });
  return {
    /** The next response; undefined after `timeoutMs`. */
    async next(timeoutMs: number): Promise<WatchResponse | undefined> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = queue.shift();
        if (r) return r;
        if (failure) throw failure;
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
    close: () => call.cancel(),
  };
}
