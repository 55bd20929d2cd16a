// Goal: the generated protobuf code puts bytes on the wire exactly where etcd 3.4 does — field
// numbers, wire types, enum values and gRPC method paths. Method: encode messages with our code and
// compare with bytes computed by hand from the protobuf encoding rules (tag = field << 3 | wire type,
// varints little-endian base 128), decode hand-built bytes, and list every service's method paths.
// No server needed; the differential suites then prove the same facts against a real etcd.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Permission_Type } from '../../src/proto/authpb/auth.js';
import { InternalRaftRequest } from '../../src/proto/etcdserverpb/raft_internal.js';
import {
  AlarmRequest_AlarmAction,
  AlarmType,
  AuthService,
  ClusterService,
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  KVService,
  LeaseService,
  MaintenanceService,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  ResponseHeader,
  WatchCreateRequest_FilterType,
  WatchResponse,
  WatchService,
} from '../../src/proto/etcdserverpb/rpc.js';
import { HealthCheckResponse_ServingStatus, HealthService } from '../../src/proto/grpc/health/v1/health.js';
import { Event_EventType, KeyValue } from '../../src/proto/mvccpb/kv.js';
import { ElectionService } from '../../src/proto/v3electionpb/v3election.js';
import { LockService } from '../../src/proto/v3lockpb/v3lock.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b = (s: string): Buffer => Buffer.from(s);

/** A varint field: tag byte(s) for wire type 0 followed by the value; only for small field numbers. */
function varintTag(field: number): string {
  return encodeVarint(BigInt(field << 3));
}
function lenTag(field: number): string {
  return encodeVarint(BigInt((field << 3) | 2));
}
/** Independent varint encoder (two's complement for negatives, as protobuf does for int64). */
function encodeVarint(v: bigint): string {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let byte = Number(u & 0x7fn);
    u >>= 7n;
    if (u !== 0n) byte |= 0x80;
    out.push(byte);
  } while (u !== 0n);
  return Buffer.from(out).toString('hex');
}

test('PutRequest fields 1..6: key, value, lease, prev_kv, ignore_value, ignore_lease', () => {
  const bytes = PutRequest.encode({
    key: b('k'),
    value: b('v'),
    lease: 3n,
    prevKv: true,
    ignoreValue: true,
    ignoreLease: true,
  }).finish();
  // 0a 01 'k' | 12 01 'v' | 18 03 | 20 01 | 28 01 | 30 01
  assert.equal(hex(bytes), '0a016b' + '120176' + '1803' + '2001' + '2801' + '3001');
});

test('RangeRequest fields 1..13 in order', () => {
  const bytes = RangeRequest.encode({
    key: b('a'),
    rangeEnd: b('b'),
    limit: 3n,
    revision: 4n,
    sortOrder: RangeRequest_SortOrder.DESCEND,
    sortTarget: RangeRequest_SortTarget.VALUE,
    serializable: true,
    keysOnly: true,
    countOnly: true,
    minModRevision: 10n,
    maxModRevision: 11n,
    minCreateRevision: 12n,
    maxCreateRevision: 13n,
  }).finish();
  const expected = [
    `${lenTag(1)}0161`,
    `${lenTag(2)}0162`,
    `${varintTag(3)}03`,
    `${varintTag(4)}04`,
    `${varintTag(5)}02`,
    `${varintTag(6)}04`,
    `${varintTag(7)}01`,
    `${varintTag(8)}01`,
    `${varintTag(9)}01`,
    `${varintTag(10)}0a`,
    `${varintTag(11)}0b`,
    `${varintTag(12)}0c`,
    `${varintTag(13)}0d`,
  ].join('');
  assert.equal(hex(bytes), expected);
  assert.equal(varintTag(13), '68');
});

test('Compare: lease target is field 8, range_end is field 64 (two-byte tag 82 04)', () => {
  const bytes = Compare.encode({
    result: Compare_CompareResult.NOT_EQUAL,
    target: Compare_CompareTarget.LEASE,
    key: b('k'),
    version: undefined,
    createRevision: undefined,
    modRevision: undefined,
    value: undefined,
    lease: 7n,
    rangeEnd: b('z'),
  } as Compare).finish();
  assert.equal(hex(bytes), '0803' + '1004' + '1a016b' + '4007' + '8204017a');
});

test('int64 and uint64 extremes use ten-byte varints', () => {
  const bytes = ResponseHeader.encode({
    clusterId: 0xffffffffffffffffn,
    memberId: 1n,
    revision: -1n,
    raftTerm: 2n,
  }).finish();
  const ten = 'ffffffffffffffffff01';
  assert.equal(hex(bytes), `08${ten}1001` + `18${ten}2002`);
  assert.equal(encodeVarint(-1n), ten);
  const back = ResponseHeader.decode(bytes);
  assert.equal(back.clusterId, 0xffffffffffffffffn);
  assert.equal(back.revision, -1n);
});

test('KeyValue decodes hand-built bytes (fields 1..6)', () => {
  const raw = Buffer.from(`0a03666f6f${'1005'}${'1806'}${'2002'}2a03626172${'3009'}`, 'hex');
  const kv = KeyValue.decode(raw);
  assert.equal(kv.key.toString(), 'foo');
  assert.equal(kv.createRevision, 5n);
  assert.equal(kv.modRevision, 6n);
  assert.equal(kv.version, 2n);
  assert.equal(kv.value.toString(), 'bar');
  assert.equal(kv.lease, 9n);
});

test('WatchResponse: events at field 11, cancel_reason 6, fragment 7', () => {
  const bytes = WatchResponse.encode({
    header: undefined,
    watchId: 0n,
    created: false,
    canceled: false,
    compactRevision: 0n,
    cancelReason: 'x',
    fragment: true,
    events: [{ type: Event_EventType.DELETE, kv: undefined, prevKv: undefined }],
  }).finish();
  assert.equal(hex(bytes), '320178' + '3801' + '5a020801');
});

test('InternalRaftRequest: header 100, put 4, auth_enable 1000, role revoke 1204', () => {
  const base = InternalRaftRequest.fromPartial({});
  const withPut = InternalRaftRequest.encode({
    ...base,
    header: { ID: 5n, username: '', authRevision: 0n },
    put: PutRequest.fromPartial({ key: b('k') }),
  }).finish();
  // The header (field 100) comes first because it is declared first; decoders accept any order.
  assert.equal(hex(withPut), `${encodeVarint(BigInt((100 << 3) | 2))}020805` + `${lenTag(4)}030a016b`);
  assert.equal(encodeVarint(BigInt((100 << 3) | 2)), 'a206');
  const enable = InternalRaftRequest.encode({ ...base, authEnable: {} }).finish();
  assert.equal(hex(enable), `${encodeVarint(BigInt((1000 << 3) | 2))}00`);
  assert.equal(encodeVarint(BigInt((1000 << 3) | 2)), 'c23e');
  const revoke = InternalRaftRequest.encode({
    ...base,
    authRoleRevokePermission: { role: 'r', key: Buffer.alloc(0), rangeEnd: Buffer.alloc(0) },
  }).finish();
  assert.equal(hex(revoke), `${encodeVarint(BigInt((1204 << 3) | 2))}030a0172`);
  assert.deepEqual(InternalRaftRequest.decode(withPut).put?.key, b('k'));
});

test('enum values match etcd 3.4', () => {
  assert.deepEqual(
    [RangeRequest_SortOrder.NONE, RangeRequest_SortOrder.ASCEND, RangeRequest_SortOrder.DESCEND],
    [0, 1, 2],
  );
  assert.deepEqual(
    [
      RangeRequest_SortTarget.KEY,
      RangeRequest_SortTarget.VERSION,
      RangeRequest_SortTarget.CREATE,
      RangeRequest_SortTarget.MOD,
      RangeRequest_SortTarget.VALUE,
    ],
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    [
      Compare_CompareResult.EQUAL,
      Compare_CompareResult.GREATER,
      Compare_CompareResult.LESS,
      Compare_CompareResult.NOT_EQUAL,
    ],
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    [
      Compare_CompareTarget.VERSION,
      Compare_CompareTarget.CREATE,
      Compare_CompareTarget.MOD,
      Compare_CompareTarget.VALUE,
      Compare_CompareTarget.LEASE,
    ],
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual([AlarmType.NONE, AlarmType.NOSPACE, AlarmType.CORRUPT], [0, 1, 2]);
  assert.deepEqual(
    [AlarmRequest_AlarmAction.GET, AlarmRequest_AlarmAction.ACTIVATE, AlarmRequest_AlarmAction.DEACTIVATE],
    [0, 1, 2],
  );
  assert.deepEqual([WatchCreateRequest_FilterType.NOPUT, WatchCreateRequest_FilterType.NODELETE], [0, 1]);
  assert.deepEqual([Event_EventType.PUT, Event_EventType.DELETE], [0, 1]);
  assert.deepEqual([Permission_Type.READ, Permission_Type.WRITE, Permission_Type.READWRITE], [0, 1, 2]);
  assert.deepEqual(
    [
      HealthCheckResponse_ServingStatus.UNKNOWN,
      HealthCheckResponse_ServingStatus.SERVING,
      HealthCheckResponse_ServingStatus.NOT_SERVING,
      HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
    ],
    [0, 1, 2, 3],
  );
});

/** The gRPC paths of a generated service definition, in declaration order. */
function paths(service: Record<string, { path: string }>): string[] {
  return Object.values(service).map((m) => m.path);
}

test('gRPC method paths match etcd 3.4 (plus the 3.5 additions at the end of their service)', () => {
  const p = (svc: string, methods: string[]) => methods.map((m) => `/${svc}/${m}`);
  assert.deepEqual(paths(KVService), p('etcdserverpb.KV', ['Range', 'Put', 'DeleteRange', 'Txn', 'Compact']));
  assert.deepEqual(paths(WatchService), p('etcdserverpb.Watch', ['Watch']));
  assert.deepEqual(
    paths(LeaseService),
    p('etcdserverpb.Lease', [
      'LeaseGrant',
      'LeaseRevoke',
      'LeaseKeepAlive',
      'LeaseTimeToLive',
      'LeaseLeases',
    ]),
  );
  assert.deepEqual(
    paths(ClusterService),
    p('etcdserverpb.Cluster', ['MemberAdd', 'MemberRemove', 'MemberUpdate', 'MemberList', 'MemberPromote']),
  );
  assert.deepEqual(
    paths(MaintenanceService),
    p('etcdserverpb.Maintenance', [
      'Alarm',
      'Status',
      'Defragment',
      'Hash',
      'HashKV',
      'Snapshot',
      'MoveLeader',
      'Downgrade',
    ]),
  );
  assert.deepEqual(
    paths(AuthService),
    p('etcdserverpb.Auth', [
      'AuthEnable',
      'AuthDisable',
      'AuthStatus',
      'Authenticate',
      'UserAdd',
      'UserGet',
      'UserList',
      'UserDelete',
      'UserChangePassword',
      'UserGrantRole',
      'UserRevokeRole',
      'RoleAdd',
      'RoleGet',
      'RoleList',
      'RoleDelete',
      'RoleGrantPermission',
      'RoleRevokePermission',
    ]),
  );
  assert.deepEqual(paths(LockService), p('v3lockpb.Lock', ['Lock', 'Unlock']));
  assert.deepEqual(
    paths(ElectionService),
    p('v3electionpb.Election', ['Campaign', 'Proclaim', 'Leader', 'Observe', 'Resign']),
  );
  assert.deepEqual(paths(HealthService), p('grpc.health.v1.Health', ['Check', 'Watch']));
  // Streaming shapes: Watch and LeaseKeepAlive are bidirectional, Snapshot and Observe server-streaming.
  assert.equal(WatchService.watch.requestStream && WatchService.watch.responseStream, true);
  assert.equal(LeaseService.leaseKeepAlive.requestStream && LeaseService.leaseKeepAlive.responseStream, true);
  assert.equal(
    !MaintenanceService.snapshot.requestStream && MaintenanceService.snapshot.responseStream,
    true,
  );
  assert.equal(!ElectionService.observe.requestStream && ElectionService.observe.responseStream, true);
});
