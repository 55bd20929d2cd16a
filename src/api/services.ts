/**
 * The gRPC services of one member, as thin adapters: check the request as etcd's API edge does, call
 * the member, fill the response header. Everything else lives in `server/`.
 *
 * Methods whose feature is not built yet answer UNIMPLEMENTED with a sentence naming the method —
 * never a fake success.
 */

import {
  type AlarmRequest,
  type AlarmResponse,
  ClusterService,
  type CompactionRequest,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type HashKVRequest,
  type HashKVResponse,
  type HashResponse,
  KVService,
  type LeaseGrantRequest,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  LeaseService,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  MaintenanceService,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type SnapshotRequest,
  type SnapshotResponse,
  type StatusResponse,
  type TxnRequest,
} from '../proto/etcdserverpb/rpc.js';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthService,
} from '../proto/grpc/health/v1/health.js';
import {
  CLUSTER_VERSION,
  isTxnReadOnly,
  type Member,
  quotaCost,
  SERVER_VERSION,
  StreamedRangeResponse,
} from '../server/index.js';
import { etcdError } from '../wire/errors.js';
import { GrpcError, Status } from '../wire/status.js';
import {
  authInfoOf,
  checkAdmin,
  checkAdminRaw,
  checkTokenRaw,
  NOBODY,
  registerAuthService,
  serialized,
} from './auth-service.js';
import { registerElectionService } from './election-service.js';
import {
  type CallContext,
  type GrpcServer,
  type ServiceDefinition,
  type StreamCall,
  toGrpcError,
} from './grpc-server.js';
import { fillHeader } from './header.js';
import { checkDelete, checkIntervals, checkPut, checkRange, checkTxn } from './kv-checks.js';
import { registerLockService } from './lock-service.js';
import { serveSnapshot } from './snapshot-service.js';
import { registerWatchService } from './watch-service.js';

/** The error for a method whose feature tsetcd does not have yet. */
export function notImplemented(method: string): GrpcError {
  return new GrpcError(Status.UNIMPLEMENTED, `tsetcd: ${method} is not implemented yet`);
}

/** A learner serves only serializable reads; everything else gets etcd's learner error. */
function refuseOnLearner(member: Member): void {
  if (member.isLearner) throw etcdError('notSupportedForLearner');
}

/** A txn that only reads, serializably (what a learner may serve). */
function txnIsSerializableRead(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestPut || op.requestDeleteRange) return false;
    if (op.requestRange && !op.requestRange.serializable) return false;
    if (op.requestTxn && !txnIsSerializableRead(op.requestTxn)) return false;
  }
  return true;
}

/** RPCs of etcd 3.5 that a 3.4 server does not know (in our protos for 3.5 clients, not served yet). */
const ETCD_35_ONLY = new Set(['/etcdserverpb.Auth/AuthStatus', '/etcdserverpb.Maintenance/Downgrade']);

/** etcd's Cluster service fills ids and term but leaves the revision out of its headers. */
function clusterHeader(member: Member): ResponseHeader {
  return {
    clusterId: member.clusterId,
    memberId: member.memberId,
    revision: 0n,
    raftTerm: BigInt(member.term),
  };
}

/** Registers handlers for every method of `def` not in `impl` as not implemented. */
function withRest(
  def: ServiceDefinition,
  // biome-ignore lint/suspicious/noExplicitAny: heterogeneous handler map
  impl: Record<string, any>,
  // biome-ignore lint/suspicious/noExplicitAny: heterogeneous handler map
): Record<string, any> {
  const out = { ...impl };
  for (const [key, m] of Object.entries(def)) {
    if (out[key]) continue;
    const name = m.path.slice(1).replace('/', '.');
    const slash = m.path.lastIndexOf('/');
    out[key] = () => {
      // Methods etcd added in 3.5 answer as etcd 3.4 does: grpc-go's "unknown method".
      if (ETCD_35_ONLY.has(m.path)) {
        throw new GrpcError(
          Status.UNIMPLEMENTED,
          `unknown method ${m.path.slice(slash + 1)} for service ${m.path.slice(1, slash)}`,
        );
      }
      throw notImplemented(name);
    };
  }
  return out;
}

/**
 * `call` with its requests held back until `allowed` resolves (auth checks are async; the handler
 * must still listen from the start); a refusal ends the call with its error.
 */
function afterCheck<Req, Res>(call: StreamCall<Req, Res>, allowed: Promise<void>): StreamCall<Req, Res> {
  allowed.catch((err: unknown) => call.end(toGrpcError(err)));
  return {
    metadata: call.metadata,
    get signal() {
      return call.signal;
    },
    method: call.method,
    peer: call.peer,
    commonName: call.commonName,
    onMessage: (l) =>
      call.onMessage(
        (req) =>
          void allowed.then(
            () => l(req),
            () => {},
          ),
      ),
    onHalfClose: (l) => call.onHalfClose(() => void allowed.then(l, () => {})),
    onDrain: (l) => call.onDrain(l),
    onClose: (l) => call.onClose(l),
    write: (r) => call.write(r),
    end: (e) => call.end(e),
    get closed() {
      return call.closed;
    },
  };
}

export interface ServiceLimits {
  maxTxnOps: number;
}

export function registerServices(server: GrpcServer, member: Member, limits: ServiceLimits): void {
  server.addService(
    KVService,
    withRest(KVService, {
      range: async (r: RangeRequest, ctx: CallContext) => {
        checkRange(r);
        if (!r.serializable) refuseOnLearner(member);
        const ai = await authInfoOf(member, ctx);
        // A gRPC call (not the JSON gateway) can take a big range's bytes piece by piece.
        const piecewise = (ctx as { preEncodedOk?: boolean }).preEncodedOk === true;
        let streamed: StreamedRangeResponse | undefined;
        let resp: RangeResponse | StreamedRangeResponse;
        try {
          resp = await serialized(
            member,
            ai,
            (who) => member.auth.checkRange(who, r.key, r.rangeEnd),
            async () => {
              if (!piecewise) return member.range(r);
              const out = await member.rangeStreamed(r);
              if (out instanceof StreamedRangeResponse) streamed = out;
              return out;
            },
          );
        } catch (err) {
          streamed?.release();
          throw err;
        }
        fillHeader(member, resp.header);
        return resp;
      },
      put: async (r: PutRequest, ctx: CallContext) => {
        checkPut(r);
        refuseOnLearner(member);
        member.checkQuota(quotaCost({ put: r }));
        const resp = await member.put(r, (await authInfoOf(member, ctx)) ?? NOBODY);
        resp.header = fillHeader(member, resp.header);
        return resp;
      },
      deleteRange: async (r: DeleteRangeRequest, ctx: CallContext) => {
        checkDelete(r);
        refuseOnLearner(member);
        const resp = await member.deleteRange(r, (await authInfoOf(member, ctx)) ?? NOBODY);
        resp.header = fillHeader(member, resp.header);
        return resp;
      },
      txn: async (r: TxnRequest, ctx: CallContext) => {
        checkTxn(r, limits.maxTxnOps);
        if (!txnIsSerializableRead(r)) refuseOnLearner(member);
        checkIntervals(r.success);
        checkIntervals(r.failure);
        member.checkQuota(quotaCost({ txn: r }));
        const ai = (await authInfoOf(member, ctx)) ?? NOBODY;
        // Read-only txns are served here (etcd's doSerialize); the others are checked when applied.
        const resp = isTxnReadOnly(r)
          ? await serialized(
              member,
              ai,
              (who) => member.auth.checkTxn(who, r),
              () => member.txn(r, ai),
            )
          : await member.txn(r, ai);
        resp.header = fillHeader(member, resp.header);
        return resp;
      },
      compact: async (r: CompactionRequest, ctx: CallContext) => {
        refuseOnLearner(member);
        // etcd 3.4 checks no permission for Compact (any user, even without a token, may compact).
        const resp = await member.compact(r, (await authInfoOf(member, ctx)) ?? NOBODY);
        resp.header = fillHeader(member, resp.header);
        return resp;
      },
    }),
  );

  server.addService(
    MaintenanceService,
    withRest(MaintenanceService, {
      status: async (): Promise<StatusResponse> => {
        await member.storeReady();
        const s = member.status();
        return {
          header: fillHeader(member, undefined),
          version: SERVER_VERSION,
          dbSize: BigInt(s.dbSize),
          leader: member.leader,
          raftIndex: BigInt(s.raftIndex),
          raftTerm: BigInt(member.term),
          raftAppliedIndex: BigInt(s.raftAppliedIndex),
          errors: s.errors,
          dbSizeInUse: BigInt(s.dbSizeInUse),
          isLearner: member.isLearner,
          // etcd 3.6's fields: the storage version is the cluster version's major.minor.0 (the
          // schema this member writes); tsetcd has no downgrade, so it is never enabled.
          storageVersion: CLUSTER_VERSION,
          dbSizeQuota: BigInt(s.dbSizeQuota),
          downgradeInfo: { enabled: false, targetVersion: '' },
        };
      },
      hash: async (_r: unknown, ctx: CallContext): Promise<HashResponse> => {
        await checkAdminRaw(member, ctx);
        const started = performance.now();
        const h = await member.withStore((s) => s.hash());
        member.metrics.hashSeconds.observe((performance.now() - started) / 1000);
        return {
          header: fillHeader(member, {
            clusterId: 0n,
            memberId: 0n,
            revision: BigInt(h.revision),
            raftTerm: 0n,
          }),
          hash: h.hash,
        };
      },
      hashKv: async (r: HashKVRequest, ctx: CallContext): Promise<HashKVResponse> => {
        await checkAdminRaw(member, ctx);
        try {
          const started = performance.now();
          const h = await member.withStore((s) => s.hashKV(Number(r.revision)));
          member.metrics.hashRevSeconds.observe((performance.now() - started) / 1000);
          return {
            // etcd's header carries the current revision, not the one hashed up to.
            header: fillHeader(member, undefined),
            hash: h.hash,
            compactRevision: BigInt(h.compactRevision),
          };
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'compacted') throw etcdError('compacted');
          if (code === 'future-rev') throw etcdError('futureRev');
          throw err;
        }
      },
      // etcd answers MoveLeader without a header.
      moveLeader: async (r: MoveLeaderRequest): Promise<MoveLeaderResponse> => {
        await member.moveLeader(r.targetID);
        return { header: undefined };
      },
      // Through the log, as etcd; answers carry no header (etcd 3.4's).
      alarm: async (r: AlarmRequest, ctx: CallContext): Promise<AlarmResponse> => {
        await checkTokenRaw(member, ctx);
        return member.alarm(r);
      },
      // Root only, as etcd's authMaintenanceServer; the refusal ends the stream.
      snapshot: (call: StreamCall<SnapshotRequest, SnapshotResponse>) =>
        serveSnapshot(member, afterCheck(call, checkAdminRaw(member, call))),
      defragment: async (_r: unknown, ctx: CallContext): Promise<DefragmentResponse> => {
        await checkAdminRaw(member, ctx);
        await member.defragment();
        return { header: undefined };
      },
    }),
  );

  server.addService(
    ClusterService,
    withRest(ClusterService, {
      // etcd's Cluster service fills ids and term but leaves the revision out of its headers.
      memberAdd: async (r: MemberAddRequest, ctx: CallContext): Promise<MemberAddResponse> => {
        await checkAdmin(member, ctx);
        const added = await member.memberAdd(r.peerURLs, r.isLearner);
        return { header: clusterHeader(member), member: added, members: member.members() };
      },
      memberRemove: async (r: MemberRemoveRequest, ctx: CallContext): Promise<MemberRemoveResponse> => {
        await checkAdmin(member, ctx);
        await member.memberRemove(r.ID);
        return { header: clusterHeader(member), members: member.members() };
      },
      memberUpdate: async (r: MemberUpdateRequest, ctx: CallContext): Promise<MemberUpdateResponse> => {
        await checkAdmin(member, ctx);
        await member.memberUpdate(r.ID, r.peerURLs);
        return { header: clusterHeader(member), members: member.members() };
      },
      memberPromote: async (r: MemberPromoteRequest, ctx: CallContext): Promise<MemberPromoteResponse> => {
        await checkAdmin(member, ctx);
        await member.memberPromote(r.ID);
        return { header: clusterHeader(member), members: member.members() };
      },
      memberList: (): MemberListResponse => ({
        header: {
          clusterId: member.clusterId,
          memberId: member.memberId,
          revision: 0n,
          raftTerm: BigInt(member.term),
        },
        members: member.members(),
      }),
    }),
  );

  registerAuthService(server, member, withRest);

  server.addService(
    LeaseService,
    withRest(LeaseService, {
      leaseGrant: async (r: LeaseGrantRequest, ctx: CallContext) => {
        refuseOnLearner(member);
        member.checkQuota(quotaCost({ leaseGrant: r }));
        const resp = await member.leaseGrant(r, (await authInfoOf(member, ctx)) ?? NOBODY);
        resp.header = fillHeader(member, resp.header);
        return resp;
      },
      leaseRevoke: async (r: LeaseRevokeRequest, ctx: CallContext) => {
        const resp = await member.leaseRevoke(r.ID, (await authInfoOf(member, ctx)) ?? NOBODY);
        resp.header = fillHeader(member, resp.header);
        return resp;
      },
      leaseTimeToLive: async (r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> => {
        // The remaining TTL comes from the leader; the attached keys are the same on every member.
        const { ttl, granted } = await member.leaseTimeToLive(r.ID);
        const lease = member.lessor.lookup(r.ID);
        // A missing lease is not an error here: etcd answers TTL -1 (etcdctl prints "already expired").
        if (ttl < 0 || !lease) {
          return { header: fillHeader(member, undefined), ID: r.ID, TTL: -1n, grantedTTL: 0n, keys: [] };
        }
        return {
          header: fillHeader(member, undefined),
          ID: r.ID,
          TTL: BigInt(ttl),
          grantedTTL: BigInt(granted),
          keys: r.keys ? [...lease.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [],
        };
      },
      leaseLeases: (): LeaseLeasesResponse => ({
        header: fillHeader(member, undefined),
        leases: member.lessor.ids().map((ID) => ({ ID })),
      }),
      leaseKeepAlive: (call: StreamCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse>) => {
        // Renewals may go to the leader over the network; a chain keeps answers in request order.
        let chain: Promise<void> = Promise.resolve();
        call.onMessage((req) => {
          // The header is taken before renewing, so a client never sees a keep-alive "after" a revoke.
          const head = fillHeader(member, undefined);
          chain = chain.then(async () => {
            if (call.closed) return;
            try {
              const ttl = await member.leaseRenew(req.ID);
              call.write({ header: head, ID: req.ID, TTL: BigInt(ttl) });
            } catch (err) {
              call.end(toGrpcError(err));
            }
          });
        });
        call.onHalfClose(() => {
          chain = chain.then(() => call.end());
        });
      },
    }),
  );
  registerWatchService(server, member);
  registerLockService(server, member);
  registerElectionService(server, member);

  registerHealthService(server, member);
}

/** How often a Health.Watch stream looks at the member's health for a change to report. */
const HEALTH_WATCH_POLL_MS = 250;

/**
 * grpc.health.v1: the overall service ("") follows the member's health (etcd 3.5 does so: a member
 * with no leader or a NOSPACE alarm is NOT_SERVING; etcd 3.4 always said SERVING). Any other service
 * name is unknown, as in etcd: Check fails with NotFound, Watch reports SERVICE_UNKNOWN and stays open.
 */
function registerHealthService(server: GrpcServer, member: Member): void {
  const statusOf = (service: string): HealthCheckResponse_ServingStatus =>
    service !== ''
      ? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN
      : member.healthy
        ? HealthCheckResponse_ServingStatus.SERVING
        : HealthCheckResponse_ServingStatus.NOT_SERVING;
  server.addService(
    HealthService,
    withRest(HealthService, {
      check: (r: HealthCheckRequest): HealthCheckResponse => {
        if (r.service !== '') throw new GrpcError(Status.NOT_FOUND, 'unknown service');
        return { status: statusOf('') };
      },
      watch: (call: StreamCall<HealthCheckRequest, HealthCheckResponse>) => {
        let timer: NodeJS.Timeout | undefined;
        call.onMessage((r) => {
          if (timer) return;
          let last = statusOf(r.service);
          call.write({ status: last });
          timer = setInterval(() => {
            const now = statusOf(r.service);
            if (now !== last) {
              last = now;
              call.write({ status: now });
            }
          }, HEALTH_WATCH_POLL_MS);
        });
        call.onClose(() => clearInterval(timer));
      },
    }),
  );
}
