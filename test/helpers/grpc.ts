/**
 * A grpc-js client for the generated etcd services, with promise-returning unary methods that take
 * partial requests (filled with defaults by the generated `fromPartial`). A call resolves with the
 * response or rejects with grpc-js's ServiceError (`code` and `details` are etcd's status and text).
 */
import { type CallOptions, Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import * as rpc from '../../src/proto/etcdserverpb/rpc.js';
import * as health from '../../src/proto/grpc/health/v1/health.js';
import * as election from '../../src/proto/v3electionpb/v3election.js';
import * as lock from '../../src/proto/v3lockpb/v3lock.js';

/** Deadline for each unary call unless the caller gives one. */
export const RPC_DEADLINE_MS = 10_000;

interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(v: never): Buffer;
  responseDeserialize(b: Buffer): unknown;
}

type Req<M> = M extends { requestSerialize(v: infer R): Buffer } ? R : never;
type Res<M> = M extends { responseDeserialize(b: Buffer): infer R } ? R : never;
type UnaryKeys<S> = {
  [K in keyof S]: S[K] extends { requestStream: false; responseStream: false } ? K : never;
}[keyof S];

/** Per-call options. */
export interface CallOpts {
  metadata?: Metadata;
  /** Relative deadline; default RPC_DEADLINE_MS. */
  deadlineMs?: number;
  /** Auth token, sent as etcd expects it: the "token" metadata. */
  token?: string;
}

/** The unary methods of a service as promise functions taking partial requests. */
export type PromiseService<S> = {
  [K in UnaryKeys<S>]: (req?: rpc.DeepPartial<Req<S[K]>>, opts?: CallOpts) => Promise<Res<S[K]>>;
};

interface PartialFns {
  fromPartial(p: unknown): unknown;
}

/** For each unary method, the generated message whose fromPartial fills the request's defaults. */
const requestTypes = {
  kv: {
    range: rpc.RangeRequest,
    put: rpc.PutRequest,
    deleteRange: rpc.DeleteRangeRequest,
    txn: rpc.TxnRequest,
    compact: rpc.CompactionRequest,
  },
  lease: {
    leaseGrant: rpc.LeaseGrantRequest,
    leaseRevoke: rpc.LeaseRevokeRequest,
    leaseTimeToLive: rpc.LeaseTimeToLiveRequest,
    leaseLeases: rpc.LeaseLeasesRequest,
  },
  cluster: {
    memberAdd: rpc.MemberAddRequest,
    memberRemove: rpc.MemberRemoveRequest,
    memberUpdate: rpc.MemberUpdateRequest,
    memberList: rpc.MemberListRequest,
    memberPromote: rpc.MemberPromoteRequest,
  },
  maintenance: {
    alarm: rpc.AlarmRequest,
    status: rpc.StatusRequest,
    defragment: rpc.DefragmentRequest,
    hash: rpc.HashRequest,
    hashKv: rpc.HashKVRequest,
    moveLeader: rpc.MoveLeaderRequest,
    downgrade: rpc.DowngradeRequest,
  },
  auth: {
    authEnable: rpc.AuthEnableRequest,
    authDisable: rpc.AuthDisableRequest,
    authStatus: rpc.AuthStatusRequest,
    authenticate: rpc.AuthenticateRequest,
    userAdd: rpc.AuthUserAddRequest,
    userGet: rpc.AuthUserGetRequest,
    userList: rpc.AuthUserListRequest,
    userDelete: rpc.AuthUserDeleteRequest,
    userChangePassword: rpc.AuthUserChangePasswordRequest,
    userGrantRole: rpc.AuthUserGrantRoleRequest,
    userRevokeRole: rpc.AuthUserRevokeRoleRequest,
    roleAdd: rpc.AuthRoleAddRequest,
    roleGet: rpc.AuthRoleGetRequest,
    roleList: rpc.AuthRoleListRequest,
    roleDelete: rpc.AuthRoleDeleteRequest,
    roleGrantPermission: rpc.AuthRoleGrantPermissionRequest,
    roleRevokePermission: rpc.AuthRoleRevokePermissionRequest,
  },
  lock: { lock: lock.LockRequest, unlock: lock.UnlockRequest },
  health: { check: health.HealthCheckRequest },
  election: {
    campaign: election.CampaignRequest,
    proclaim: election.ProclaimRequest,
    leader: election.LeaderRequest,
    resign: election.ResignRequest,
  },
} satisfies Record<string, Record<string, PartialFns>>;

function promiseService<S extends object>(
  client: Client,
  service: S,
  types: Record<UnaryKeys<S> & string, PartialFns>,
): PromiseService<S> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(service) as [string, MethodDef][]) {
    if (def.requestStream || def.responseStream) continue;
    const type = (types as Record<string, PartialFns | undefined>)[name];
    if (type === undefined) throw new Error(`grpc helper: no request type for ${def.path}`);
    out[name] = (req: unknown = {}, opts: CallOpts = {}) =>
      new Promise((resolve, reject) => {
        const md = opts.metadata ?? new Metadata();
        if (opts.token !== undefined) md.set('token', opts.token);
        const callOpts: CallOptions = { deadline: Date.now() + (opts.deadlineMs ?? RPC_DEADLINE_MS) };
        client.makeUnaryRequest(
          def.path,
          (v: unknown) => def.requestSerialize(v as never),
          (b: Buffer) => def.responseDeserialize(b),
          type.fromPartial(req),
          md,
          callOpts,
          (err: ServiceError | null, res?: unknown) => (err ? reject(err) : resolve(res)),
        );
      });
  }
  return out as PromiseService<S>;
}

/** Promise clients for every etcd service on one channel, plus the raw grpc-js Client for streams. */
export interface EtcdClients {
  kv: PromiseService<typeof rpc.KVService>;
  lease: PromiseService<typeof rpc.LeaseService>;
  cluster: PromiseService<typeof rpc.ClusterService>;
  maintenance: PromiseService<typeof rpc.MaintenanceService>;
  auth: PromiseService<typeof rpc.AuthService>;
  lock: PromiseService<typeof lock.LockService>;
  election: PromiseService<typeof election.ElectionService>;
  /** grpc.health.v1.Health (Check only; Watch is a stream). */
  health: PromiseService<typeof health.HealthService>;
  /** The underlying channel owner; use `makeBidiStreamRequest` etc. with the service definitions. */
  raw: Client;
  close(): void;
}

/** Options of `connect`. */
export interface ConnectOptions {
  /** Maximum response size the client accepts (grpc-js default 4 MiB). */
  maxReceiveBytes?: number;
  /** Maximum request size the client sends (grpc-js default unlimited). */
  maxSendBytes?: number;
  /** TLS instead of plaintext: PEM contents of the trusted CA and the client key pair. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

/** Opens a channel (plaintext unless `opts.tls`) to `endpoint` (host:port) with one promise client per service. */
export function connect(endpoint: string, opts: ConnectOptions = {}): EtcdClients {
  const creds = opts.tls
    ? credentials.createSsl(opts.tls.ca, opts.tls.key ?? null, opts.tls.cert ?? null)
    : credentials.createInsecure();
  const raw = new Client(endpoint, creds, {
    'grpc.max_receive_message_length': opts.maxReceiveBytes ?? 4 * 1024 * 1024,
    'grpc.max_send_message_length': opts.maxSendBytes ?? -1,
  });
  return {
    kv: promiseService(raw, rpc.KVService, requestTypes.kv),
    lease: promiseService(raw, rpc.LeaseService, requestTypes.lease),
    cluster: promiseService(raw, rpc.ClusterService, requestTypes.cluster),
    maintenance: promiseService(raw, rpc.MaintenanceService, requestTypes.maintenance),
    auth: promiseService(raw, rpc.AuthService, requestTypes.auth),
    lock: promiseService(raw, lock.LockService, requestTypes.lock),
    election: promiseService(raw, election.ElectionService, requestTypes.election),
    health: promiseService(raw, health.HealthService, requestTypes.health),
    raw,
    close: () => raw.close(),
  };
}

/** A settled call: the response, or the gRPC status code and message. */
export type Settled<T> = { ok: true; response: T } | { ok: false; code: number; details: string };

/** Awaits a call and reports either outcome as data, for comparing two servers. */
export async function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, response: await p };
  } catch (e) {
    const err = e as Partial<ServiceError>;
    if (typeof err.code !== 'number') throw e;
    return { ok: false, code: err.code, details: err.details ?? '' };
  }
}

/** How long `WatchStream.next()` waits for a response by default. */
export const WATCH_NEXT_TIMEOUT_MS = 5_000;

/** A Watch stream with a pull interface: send requests, await responses one at a time. */
export interface WatchStream {
  /** Sends a request (partial; defaults filled in). */
  send(req: rpc.DeepPartial<rpc.WatchRequest>): void;
  /** The next response; rejects on stream error, end, or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<rpc.WatchResponse>;
  /** Ends the stream from our side. */
  close(): void;
}

/** Opens a Watch stream on `c`'s channel. */
export function openWatch(c: EtcdClients, opts: CallOpts = {}): WatchStream {
  const def = rpc.WatchService.watch;
  const md = opts.metadata ?? new Metadata();
  if (opts.token !== undefined) md.set('token', opts.token);
  const call = c.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, md, {});
  const queue: rpc.WatchResponse[] = [];
  const waiters: { resolve(r: rpc.WatchResponse): void; reject(e: Error): void }[] = [];
  let failure: Error | undefined;
  call.on('data', (r: rpc.WatchResponse) => {
    const w = waiters.shift();
    if (w) w.resolve(r);
    else queue.push(r);
  });
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  call.on('error', (e: Error) => fail(e));
  call.on('end', () => fail(new Error('watch stream ended')));
  return {
    send: (req) => {
      call.write(rpc.WatchRequest.fromPartial(req));
    },
    next: (timeoutMs = WATCH_NEXT_TIMEOUT_MS) => {
      const r = queue.shift();
      if (r !== undefined) return Promise.resolve(r);
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no watch response within ${timeoutMs} ms`));
        }, timeoutMs);
        const w = {
          resolve: (x: rpc.WatchResponse) => {
            clearTimeout(timer);
            resolve(x);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        waiters.push(w);
      });
    },
    close: () => {
      call.end();
      call.cancel();
    },
  };
}
