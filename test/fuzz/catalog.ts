/**
 * Every gRPC method tsetcd serves (from the generated service definitions), each with a sampler of
 * *valid* requests built with the ts-proto `fromPartial`/`encode` of its request type. The samplers
 * draw keys, leases, revisions and member ids from a small shared state (learned from earlier
 * answers), so random call sequences hit the interesting paths: existing keys, live leases, held
 * locks, compacted revisions. What they never do: shrink the cluster's voting membership, enable
 * auth, or raise an alarm — anything that would stop the run from judging the cluster afterwards.
 */
import {
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmType,
  AuthenticateRequest,
  AuthRoleAddRequest,
  AuthRoleGrantPermissionRequest,
  AuthService,
  AuthUserAddRequest,
  AuthUserGetRequest,
  ClusterService,
  CompactionRequest,
  type Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  DowngradeRequest,
  HashKVRequest,
  KVService,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseRevokeRequest,
  LeaseService,
  LeaseTimeToLiveRequest,
  MaintenanceService,
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MemberUpdateRequest,
  MoveLeaderRequest,
  PutRequest,
  PutResponse,
  RangeRequest,
  type RequestOp,
  TxnRequest,
  WatchRequest,
  WatchService,
} from '../../src/proto/etcdserverpb/rpc.js';
import { HealthCheckRequest, HealthService } from '../../src/proto/grpc/health/v1/health.js';
import {
  CampaignRequest,
  CampaignResponse,
  ElectionService,
  LeaderRequest,
  ProclaimRequest,
  ResignRequest,
} from '../../src/proto/v3electionpb/v3election.js';
import { LockRequest, LockResponse, LockService, UnlockRequest } from '../../src/proto/v3lockpb/v3lock.js';
import type { Rng } from './rng.js';

/** What the samplers know about the cluster, learned from answers. */
export class FuzzState {
  leases: bigint[] = [];
  memberIds: bigint[] = [];
  /** Learners this run added (the only members it may remove). */
  learners: bigint[] = [];
  revision = 1n;
  lockKeys: Buffer[] = [];
  leaderKeys: { name: Buffer; key: Buffer; rev: bigint; lease: bigint }[] = [];

  /** Learns from a successful unary answer. */
  observe(path: string, response: Buffer): void {
    try {
      switch (path) {
        case KVService.put.path: {
          const r = PutResponse.decode(response);
          if (r.header && r.header.revision > this.revision) this.revision = r.header.revision;
          break;
        }
        case LeaseService.leaseGrant.path:
          remember(this.leases, LeaseGrantResponse.decode(response).ID);
          break;
        case ClusterService.memberList.path:
          this.memberIds = MemberListResponse.decode(response).members.map((m) => m.ID);
          break;
        case ClusterService.memberAdd.path: {
          const m = MemberAddResponse.decode(response).member;
          if (m?.isLearner) remember(this.learners, m.ID);
          break;
        }
        case LockService.lock.path:
          remember(this.lockKeys, LockResponse.decode(response).key);
          break;
        case ElectionService.campaign.path: {
          const l = CampaignResponse.decode(response).leader;
          if (l) remember(this.leaderKeys, l);
          break;
        }
      }
    } catch {
      // an answer we cannot decode teaches nothing
    }
  }
}

function remember<T>(list: T[], item: T, max = 16): void {
  list.push(item);
  if (list.length > max) list.shift();
}

/** How a method is called. */
export type CallShape = 'unary' | 'server_stream' | 'bidi_stream';

export interface MethodEntry {
  path: string;
  shape: CallShape;
  /** Valid request messages for one call (bidi streams: 1..n messages). */
  sample(rng: Rng, state: FuzzState): Buffer[];
  /** May block until a lease expires or a deadline (Lock, Campaign, Observe, Watch): always send grpc-timeout. */
  blocks?: boolean;
}

const enc = <T>(fns: { fromPartial(o: object): T; encode(m: T): { finish(): Uint8Array } }, o: object) =>
  Buffer.from(fns.encode(fns.fromPartial(o)).finish());

/** A key from a small space, so that operations collide. */
export function sampleKey(rng: Rng): Buffer {
  return rng.weighted<() => Buffer>([
    [8, () => Buffer.from(`k/${rng.int(32)}`)],
    [1, () => Buffer.from('')],
    [1, () => rng.bytes(rng.range(1, 40))],
    [1, () => Buffer.from([0])],
  ])();
}

function sampleRangeEnd(rng: Rng, key: Buffer): Buffer {
  return rng.weighted<() => Buffer>([
    [5, () => Buffer.alloc(0)],
    [2, () => Buffer.from([0])],
    [2, () => prefixEnd(key)],
    [1, () => sampleKey(rng)],
  ])();
}

function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function sampleRevision(rng: Rng, state: FuzzState): bigint {
  return rng.weighted<() => bigint>([
    [4, () => 0n],
    [4, () => BigInt(rng.int(Number(state.revision) + 1))],
    [1, () => state.revision + BigInt(rng.range(1, 1000))],
    [1, () => -BigInt(rng.range(1, 5))],
  ])();
}

function sampleLease(rng: Rng, state: FuzzState): bigint {
  if (state.leases.length > 0 && rng.chance(0.7)) return rng.pick(state.leases);
  return rng.chance(0.5) ? 0n : BigInt(rng.u32()) * 65536n + BigInt(rng.int(65536));
}

function sampleValue(rng: Rng): Buffer {
  return rng.weighted<() => Buffer>([
    [6, () => rng.bytes(rng.int(64))],
    [1, () => Buffer.alloc(0)],
    [1, () => rng.bytes(rng.range(1000, 20_000))],
  ])();
}

function range(rng: Rng, state: FuzzState): object {
  const key = sampleKey(rng);
  return {
    key,
    rangeEnd: sampleRangeEnd(rng, key),
    limit: rng.chance(0.3) ? BigInt(rng.range(-2, 10)) : 0n,
    revision: sampleRevision(rng, state),
    sortOrder: rng.int(4),
    sortTarget: rng.int(6),
    serializable: rng.chance(0.3),
    keysOnly: rng.chance(0.2),
    countOnly: rng.chance(0.1),
    minModRevision: rng.chance(0.1) ? sampleRevision(rng, state) : 0n,
    maxModRevision: rng.chance(0.1) ? sampleRevision(rng, state) : 0n,
    minCreateRevision: rng.chance(0.1) ? sampleRevision(rng, state) : 0n,
    maxCreateRevision: rng.chance(0.1) ? sampleRevision(rng, state) : 0n,
  };
}

function put(rng: Rng, state: FuzzState): object {
  return {
    key: sampleKey(rng),
    value: sampleValue(rng),
    lease: rng.chance(0.3) ? sampleLease(rng, state) : 0n,
    prevKv: rng.chance(0.3),
    ignoreValue: rng.chance(0.05),
    ignoreLease: rng.chance(0.05),
  };
}

function del(rng: Rng): object {
  const key = sampleKey(rng);
  return { key, rangeEnd: sampleRangeEnd(rng, key), prevKv: rng.chance(0.3) };
}

function compare(rng: Rng, state: FuzzState): object {
  const target = rng.int(5) as Compare_CompareTarget;
  const c: Record<string, unknown> = {
    result: rng.int(4) as Compare_CompareResult,
    target,
    key: sampleKey(rng),
  };
  if (rng.chance(0.2)) c.rangeEnd = sampleRangeEnd(rng, c.key as Buffer);
  if (target === Compare_CompareTarget.VERSION) c.version = BigInt(rng.int(5));
  else if (target === Compare_CompareTarget.CREATE) c.createRevision = sampleRevision(rng, state);
  else if (target === Compare_CompareTarget.MOD) c.modRevision = sampleRevision(rng, state);
  else if (target === Compare_CompareTarget.VALUE) c.value = sampleValue(rng);
  else c.lease = sampleLease(rng, state);
  return c;
}

function requestOp(rng: Rng, state: FuzzState, depth: number): RequestOp {
  return rng.weighted<() => RequestOp>([
    [3, () => ({ requestRange: RangeRequest.fromPartial(range(rng, state)) })],
    [4, () => ({ requestPut: PutRequest.fromPartial(put(rng, state)) })],
    [2, () => ({ requestDeleteRange: DeleteRangeRequest.fromPartial(del(rng)) })],
    [depth < 2 ? 1 : 0, () => ({ requestTxn: TxnRequest.fromPartial(txn(rng, state, depth + 1)) })],
  ])();
}

function txn(rng: Rng, state: FuzzState, depth = 0): object {
  const n = () =>
    rng.weighted([
      [6, rng.int(4)],
      [1, rng.range(100, 140)], // around --max-txn-ops (128)
    ]);
  return {
    compare: Array.from({ length: rng.int(4) }, () => compare(rng, state)),
    success: Array.from({ length: n() }, () => requestOp(rng, state, depth)),
    failure: Array.from({ length: rng.int(3) }, () => requestOp(rng, state, depth)),
  };
}

function memberId(rng: Rng, state: FuzzState): bigint {
  if (state.memberIds.length > 0 && rng.chance(0.6)) return rng.pick(state.memberIds);
  return rng.chance(0.2) ? 0n : BigInt(rng.u32()) * 4294967296n + BigInt(rng.u32());
}

function name(rng: Rng): string {
  // never "root": without a root user AuthEnable always fails, so the run is never locked out
  return rng.pick(['', 'alice', 'bob', 'x'.repeat(rng.range(1, 300)), `u${rng.int(5)}`]);
}

function watchRequests(rng: Rng, state: FuzzState): Buffer[] {
  const n = rng.range(1, 4);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const key = sampleKey(rng);
    out.push(
      enc(
        WatchRequest,
        rng.weighted<() => object>([
          [
            5,
            () => ({
              createRequest: {
                key,
                rangeEnd: sampleRangeEnd(rng, key),
                startRevision: sampleRevision(rng, state),
                progressNotify: rng.chance(0.2),
                filters: rng.chance(0.2) ? [rng.int(3)] : [],
                prevKv: rng.chance(0.3),
                watchId: rng.chance(0.3) ? BigInt(rng.range(-1, 5)) : 0n,
                fragment: rng.chance(0.1),
              },
            }),
          ],
          [2, () => ({ cancelRequest: { watchId: BigInt(rng.range(-1, 5)) } })],
          [1, () => ({ progressRequest: {} })],
          [1, () => ({})],
        ])(),
      ),
    );
  }
  return out;
}

function leaderKey(rng: Rng, state: FuzzState): object {
  if (state.leaderKeys.length > 0 && rng.chance(0.6)) return rng.pick(state.leaderKeys);
  return {
    name: Buffer.from(`e${rng.int(3)}`),
    key: sampleKey(rng),
    rev: sampleRevision(rng, state),
    lease: sampleLease(rng, state),
  };
}

/** The valid-request samplers, one per method path. */
const samplers: Record<string, Pick<MethodEntry, 'sample' | 'blocks'>> = {
  [KVService.range.path]: { sample: (r, s) => [enc(RangeRequest, range(r, s))] },
  [KVService.put.path]: { sample: (r, s) => [enc(PutRequest, put(r, s))] },
  [KVService.deleteRange.path]: { sample: (r) => [enc(DeleteRangeRequest, del(r))] },
  [KVService.txn.path]: { sample: (r, s) => [enc(TxnRequest, txn(r, s))] },
  [KVService.compact.path]: {
    // compact well behind the head so that the other samplers' revisions stay mostly valid
    sample: (r, s) => [
      enc(CompactionRequest, {
        revision: r.chance(0.8)
          ? BigInt(Math.max(0, Number(s.revision) - r.range(20, 200)))
          : sampleRevision(r, s),
        physical: r.chance(0.3),
      }),
    ],
  },
  [WatchService.watch.path]: { sample: watchRequests, blocks: true },
  [LeaseService.leaseGrant.path]: {
    sample: (r) => [
      enc(LeaseGrantRequest, {
        TTL: BigInt(r.range(-1, 30)),
        ID: r.chance(0.2) ? BigInt(r.range(-1, 1000)) : 0n,
      }),
    ],
  },
  [LeaseService.leaseRevoke.path]: { sample: (r, s) => [enc(LeaseRevokeRequest, { ID: sampleLease(r, s) })] },
  [LeaseService.leaseKeepAlive.path]: {
    sample: (r, s) =>
      Array.from({ length: r.range(1, 3) }, () => enc(LeaseKeepAliveRequest, { ID: sampleLease(r, s) })),
  },
  [LeaseService.leaseTimeToLive.path]: {
    sample: (r, s) => [enc(LeaseTimeToLiveRequest, { ID: sampleLease(r, s), keys: r.chance(0.5) })],
  },
  [LeaseService.leaseLeases.path]: { sample: () => [Buffer.alloc(0)] },
  [ClusterService.memberAdd.path]: {
    // only learners on a port nobody listens on: they never vote, so quorum is unaffected
    sample: (r) => [
      enc(MemberAddRequest, {
        peerURLs: r.weighted([
          [3, [`http://127.0.0.1:${r.range(1, 9)}`]],
          [1, []],
          [1, ['not a url']],
          [1, [`http://127.0.0.1:${r.range(1, 9)}`, 'unix://x']],
        ]),
        isLearner: true,
      }),
    ],
  },
  [ClusterService.memberRemove.path]: {
    sample: (r, s) => [
      enc(MemberRemoveRequest, {
        ID: s.learners.length > 0 && r.chance(0.7) ? r.pick(s.learners) : BigInt(r.u32()) + 1n,
      }),
    ],
  },
  [ClusterService.memberUpdate.path]: {
    // unknown members only: re-pointing a real member's peer URLs would (rightly) cut it off
    sample: (r) => [
      enc(MemberUpdateRequest, {
        ID: BigInt(r.u32()) + 1n,
        peerURLs: r.pick([[], ['::bad::'], ['http://127.0.0.1:1']]),
      }),
    ],
  },
  [ClusterService.memberList.path]: {
    sample: (r) => [enc(MemberListRequest, { linearizable: r.chance(0.5) })],
  },
  [ClusterService.memberPromote.path]: {
    sample: (r, s) => [
      enc(MemberPromoteRequest, {
        ID: s.learners.length > 0 && r.chance(0.5) ? r.pick(s.learners) : memberId(r, s),
      }),
    ],
  },
  [MaintenanceService.alarm.path]: {
    // GET and DEACTIVATE only: an activated NOSPACE alarm would refuse every write afterwards
    sample: (r, s) => [
      enc(AlarmRequest, {
        action: r.pick([AlarmRequest_AlarmAction.GET, AlarmRequest_AlarmAction.DEACTIVATE]),
        memberID: memberId(r, s),
        alarm: r.pick([AlarmType.NONE, AlarmType.NOSPACE, AlarmType.CORRUPT]),
      }),
    ],
  },
  [MaintenanceService.status.path]: { sample: () => [Buffer.alloc(0)] },
  [MaintenanceService.defragment.path]: { sample: () => [Buffer.alloc(0)] },
  [MaintenanceService.hash.path]: { sample: () => [Buffer.alloc(0)] },
  [MaintenanceService.hashKv.path]: {
    sample: (r, s) => [enc(HashKVRequest, { revision: sampleRevision(r, s) })],
  },
  [MaintenanceService.snapshot.path]: { sample: () => [Buffer.alloc(0)], blocks: true },
  [MaintenanceService.moveLeader.path]: {
    sample: (r, s) => [enc(MoveLeaderRequest, { targetID: memberId(r, s) })],
  },
  [MaintenanceService.downgrade.path]: {
    sample: (r) => [enc(DowngradeRequest, { action: r.int(3), version: r.pick(['3.4', '', 'x']) })],
  },
  [AuthService.authenticate.path]: {
    sample: (r) => [enc(AuthenticateRequest, { name: name(r), password: r.pick(['', 'pw']) })],
  },
  [AuthService.userAdd.path]: { sample: (r) => [enc(AuthUserAddRequest, { name: name(r), password: 'pw' })] },
  [AuthService.userGet.path]: { sample: (r) => [enc(AuthUserGetRequest, { name: name(r) })] },
  [AuthService.roleAdd.path]: { sample: (r) => [enc(AuthRoleAddRequest, { name: name(r) })] },
  [AuthService.roleGrantPermission.path]: {
    sample: (r) => [
      enc(AuthRoleGrantPermissionRequest, { name: name(r), perm: { permType: r.int(3), key: sampleKey(r) } }),
    ],
  },
  [LockService.lock.path]: {
    sample: (r, s) => [enc(LockRequest, { name: Buffer.from(`l${r.int(3)}`), lease: sampleLease(r, s) })],
    blocks: true,
  },
  [LockService.unlock.path]: {
    sample: (r, s) => [
      enc(UnlockRequest, { key: s.lockKeys.length > 0 && r.chance(0.6) ? r.pick(s.lockKeys) : sampleKey(r) }),
    ],
  },
  [ElectionService.campaign.path]: {
    sample: (r, s) => [
      enc(CampaignRequest, {
        name: Buffer.from(`e${r.int(3)}`),
        lease: sampleLease(r, s),
        value: sampleValue(r),
      }),
    ],
    blocks: true,
  },
  [ElectionService.proclaim.path]: {
    sample: (r, s) => [enc(ProclaimRequest, { leader: leaderKey(r, s), value: sampleValue(r) })],
  },
  [ElectionService.leader.path]: {
    sample: (r) => [enc(LeaderRequest, { name: Buffer.from(`e${r.int(4)}`) })],
  },
  [ElectionService.observe.path]: {
    sample: (r) => [enc(LeaderRequest, { name: Buffer.from(`e${r.int(4)}`) })],
    blocks: true,
  },
  [ElectionService.resign.path]: { sample: (r, s) => [enc(ResignRequest, { leader: leaderKey(r, s) })] },
  [HealthService.check.path]: {
    sample: (r) => [enc(HealthCheckRequest, { service: r.pick(['', 'etcdserverpb.KV', 'nope']) })],
  },
  [HealthService.watch.path]: { sample: () => [Buffer.alloc(0)], blocks: true },
};

const services = [
  KVService,
  WatchService,
  LeaseService,
  ClusterService,
  MaintenanceService,
  AuthService,
  LockService,
  ElectionService,
  HealthService,
];

/** Every served method; methods without a dedicated sampler get an empty (all-defaults) request. */
export const METHODS: MethodEntry[] = services.flatMap((svc) =>
  Object.values(svc as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>).map(
    (m): MethodEntry => {
      const s = samplers[m.path];
      const shape: CallShape = m.requestStream ? 'bidi_stream' : m.responseStream ? 'server_stream' : 'unary';
      return {
        path: m.path,
        shape,
        sample: s?.sample ?? (() => [Buffer.alloc(0)]),
        ...(s?.blocks || shape !== 'unary' ? { blocks: true } : {}),
      };
    },
  ),
);

export const methodByPath = new Map(METHODS.map((m) => [m.path, m]));
