// Goal: the client port behaves as etcd's for KV, errors and bad input, and keeps serving after it.
// Method: an in-process member and API server on port 0 in a fresh temp dir; real gRPC (grpc-js) and
// HTTP/1.1 + HTTP/2 clients; every error is checked for etcd's exact gRPC code and message.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { Client, credentials, status } from '@grpc/grpc-js';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  LeaseService,
  type RequestOp,
} from '../../src/proto/etcdserverpb/rpc.js';
import { computeClusterId, computeMemberId } from '../../src/server/ids.js';
import type { MemberConfig } from '../../src/server/index.js';
import {
  b,
  type ConnectOptions,
  connect,
  type EtcdClients,
  settle,
  tempDir,
  waitFor,
} from '../helpers/index.js';
import { startInprocServer, testMemberConfig } from '../helpers/inproc.js';

const MAX_REQUEST_BYTES = 64 * 1024;

function config(dataDir: string): MemberConfig {
  return testMemberConfig({
    name: 'api-test',
    dataDir,
    clientUrls: ['http://127.0.0.1:0'],
    maxRequestBytes: MAX_REQUEST_BYTES,
  });
}

const startServer = (dataDir: string) => startInprocServer(config(dataDir));

/**
 * A member started (in process, fresh data dir) before the enclosing suite's tests, with clients
 * connected with `opts`; both stopped and the dir removed after them.
 */
function suiteMember(opts: ConnectOptions = {}): {
  server: Awaited<ReturnType<typeof startServer>>;
  c: EtcdClients;
} {
  const dir = tempDir();
  const m = {} as ReturnType<typeof suiteMember>;
  before(async () => {
    m.server = await startServer(dir.path);
    m.c = connect(m.server.endpoint, opts);
  });
  after(async () => {
    m.c.close();
    await m.server.stop();
    dir.remove();
  });
  return m;
}

function put(key: string, value: string): RequestOp {
  return {
    requestPut: {
      key: b(key),
      value: b(value),
      lease: 0n,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    },
  };
}

function del(key: string, end = ''): RequestOp {
  return { requestDeleteRange: { key: b(key), rangeEnd: b(end), prevKv: false } };
}

async function expectError(p: Promise<unknown>, code: number, details: string): Promise<void> {
  const s = await settle(p);
  assert.equal(s.ok, false, 'expected an error');
  if (!s.ok) assert.deepEqual({ code: s.code, details: s.details }, { code, details });
}

describe('client API of a single member', () => {
  const m = suiteMember({ maxSendBytes: 8 * 1024 * 1024 });

  test('put, get and delete with etcd headers and revisions', async () => {
    const p = await m.c.kv.put({ key: b('a'), value: b('1') });
    const memberId = computeMemberId(['http://127.0.0.1:2380'], 'etcd-cluster');
    assert.equal(p.header?.memberId, memberId);
    assert.equal(p.header?.clusterId, computeClusterId([memberId]));
    assert.equal(p.header?.raftTerm, 2n);
    const rev = p.header!.revision;
    const g = await m.c.kv.range({ key: b('a') });
    assert.equal(g.kvs.length, 1);
    assert.equal(g.kvs[0]!.value.toString(), '1');
    assert.equal(g.kvs[0]!.createRevision, rev);
    assert.equal(g.kvs[0]!.modRevision, rev);
    assert.equal(g.kvs[0]!.version, 1n);
    const d = await m.c.kv.deleteRange({ key: b('a'), prevKv: true });
    assert.equal(d.deleted, 1n);
    assert.equal(d.prevKvs[0]!.value.toString(), '1');
    assert.equal(d.header!.revision, rev + 1n);
    assert.equal((await m.c.kv.range({ key: b('a') })).kvs.length, 0);
  });

  test('txn takes one revision and evaluates compares before writing', async () => {
    // t1 does not exist (version 0)
    const t1Absent = {
      key: b('t1'),
      target: Compare_CompareTarget.VERSION,
      result: Compare_CompareResult.EQUAL,
      version: 0n,
      rangeEnd: Buffer.alloc(0),
    };
    const before = (await m.c.kv.range({ key: b('zz') })).header!.revision;
    const t = await m.c.kv.txn({
      compare: [t1Absent],
      success: [put('t1', 'x'), put('t2', 'y')],
      failure: [],
    });
    assert.equal(t.succeeded, true);
    assert.equal(t.header!.revision, before + 1n);
    const r = await m.c.kv.range({ key: b('t1'), rangeEnd: b('t3') });
    assert.deepEqual(
      r.kvs.map((kv) => [kv.key.toString(), kv.modRevision]),
      [
        ['t1', before + 1n],
        ['t2', before + 1n],
      ],
    );
    const again = await m.c.kv.txn({
      compare: [t1Absent],
      success: [put('t1', 'never')],
      failure: [{ requestRange: { key: b('t1') } as never }],
    });
    assert.equal(again.succeeded, false);
    assert.equal(again.responses[0]!.responseRange!.kvs[0]!.value.toString(), 'x');
    assert.equal(again.header!.revision, before + 1n, 'a read-only branch does not bump the revision');
  });

  test('request errors carry etcd 3.4 codes and messages', async () => {
    await expectError(
      m.c.kv.put({ key: Buffer.alloc(0), value: b('v') }),
      status.INVALID_ARGUMENT,
      'etcdserver: key is not provided',
    );
    await expectError(
      m.c.kv.range({ key: Buffer.alloc(0) }),
      status.INVALID_ARGUMENT,
      'etcdserver: key is not provided',
    );
    await expectError(
      m.c.kv.deleteRange({ key: Buffer.alloc(0) }),
      status.INVALID_ARGUMENT,
      'etcdserver: key is not provided',
    );
    await expectError(
      m.c.kv.put({ key: b('k'), value: b('v'), ignoreValue: true }),
      status.INVALID_ARGUMENT,
      'etcdserver: value is provided',
    );
    await expectError(
      m.c.kv.put({ key: b('k'), lease: 5n, ignoreLease: true }),
      status.INVALID_ARGUMENT,
      'etcdserver: lease is provided',
    );
    await expectError(
      m.c.kv.put({ key: b('missing'), ignoreValue: true }),
      status.INVALID_ARGUMENT,
      'etcdserver: key not found',
    );
    await expectError(
      m.c.kv.put({ key: b('k'), value: b('v'), lease: 42n }),
      status.NOT_FOUND,
      'etcdserver: requested lease not found',
    );
    const many = Array.from({ length: 129 }, (_, i) => put(`m${i}`, 'v'));
    await expectError(
      m.c.kv.txn({ compare: [], success: many, failure: [] }),
      status.INVALID_ARGUMENT,
      'etcdserver: too many operations in txn request',
    );
    await expectError(
      m.c.kv.txn({ compare: [], success: [put('d', '1'), put('d', '2')], failure: [] }),
      status.INVALID_ARGUMENT,
      'etcdserver: duplicate key given in txn request',
    );
    await expectError(
      m.c.kv.txn({ compare: [], success: [del('a', 'z'), put('m', '2')], failure: [] }),
      status.INVALID_ARGUMENT,
      'etcdserver: duplicate key given in txn request',
    );
    // The two branches of a nested txn exclude each other: the same key in both is fine.
    const nested = { compare: [], success: [put('n', '1')], failure: [put('n', '2')] };
    const ok = await m.c.kv.txn({ compare: [], success: [{ requestTxn: nested }], failure: [] });
    assert.equal(ok.succeeded, true);
    await expectError(
      m.c.kv.txn({ compare: [], success: [{}], failure: [] }),
      status.INVALID_ARGUMENT,
      'etcdserver: key not found',
    );
  });

  test('compaction errors and historical reads', async () => {
    const p1 = await m.c.kv.put({ key: b('h'), value: b('1') });
    await m.c.kv.put({ key: b('h'), value: b('2') });
    const old = await m.c.kv.range({ key: b('h'), revision: p1.header!.revision });
    assert.equal(old.kvs[0]!.value.toString(), '1');
    const cur = (await m.c.kv.range({ key: b('h') })).header!.revision;
    await expectError(
      m.c.kv.range({ key: b('h'), revision: cur + 10n }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
    );
    await expectError(
      m.c.kv.compact({ revision: cur + 10n }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
    );
    await m.c.kv.compact({ revision: p1.header!.revision + 1n, physical: true });
    await expectError(
      m.c.kv.range({ key: b('h'), revision: p1.header!.revision }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision has been compacted',
    );
    await expectError(
      m.c.kv.compact({ revision: p1.header!.revision }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision has been compacted',
    );
  });

  test('oversized requests: the application limit, then the gRPC limit', async () => {
    await expectError(
      m.c.kv.put({ key: b('big'), value: Buffer.alloc(MAX_REQUEST_BYTES + 1) }),
      status.INVALID_ARGUMENT,
      'etcdserver: request is too large',
    );
    const huge = MAX_REQUEST_BYTES + 512 * 1024 + 100;
    const s = await settle(m.c.kv.put({ key: b('huge'), value: Buffer.alloc(huge) }));
    assert.equal(s.ok, false);
    if (!s.ok) {
      assert.equal(s.code, status.RESOURCE_EXHAUSTED);
      assert.match(s.details, /^grpc: received message larger than max \(\d+ vs\. \d+\)$/);
    }
    assert.equal((await m.c.kv.put({ key: b('after-big'), value: b('ok') })).header!.memberId > 0n, true);
  });

  test('unknown methods, unknown services and malformed protobuf get clear errors', async () => {
    const raw = new Client(m.server.endpoint, credentials.createInsecure());
    const call = (path: string, body: Buffer) =>
      new Promise<{ code: number; details: string }>((resolve) => {
        raw.makeUnaryRequest(
          path,
          (x: Buffer) => x,
          (x: Buffer) => x,
          body,
          (err) => resolve({ code: err?.code ?? 0, details: err?.details ?? '' }),
        );
      });
    assert.deepEqual(await call('/etcdserverpb.KV/Nope', Buffer.alloc(0)), {
      code: status.UNIMPLEMENTED,
      details: 'unknown method Nope for service etcdserverpb.KV',
    });
    assert.deepEqual(await call('/nosuch.Service/X', Buffer.alloc(0)), {
      code: status.UNIMPLEMENTED,
      details: 'unknown service nosuch.Service',
    });
    const bad = await call('/etcdserverpb.KV/Range', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(bad.code, status.INTERNAL);
    assert.match(bad.details, /^grpc: error unmarshalling request: /);
    raw.close();
    assert.equal((await m.c.kv.range({ key: b('after-bad') })).kvs.length, 0, 'still serving');
  });

  test('features not built yet answer UNIMPLEMENTED, never a fake success', async () => {
    await expectError(
      m.c.auth.authenticate({ name: 'root', password: 'x' }),
      status.FAILED_PRECONDITION,
      'etcdserver: authentication is not enabled',
    );
  });

  test('Status, MemberList and HashKV describe this member', async () => {
    const st = await m.c.maintenance.status({});
    assert.equal(st.leader, st.header!.memberId);
    assert.equal(st.raftIndex, st.raftAppliedIndex);
    assert.ok(st.dbSize > 0n);
    const ml = await m.c.cluster.memberList({});
    assert.equal(ml.members.length, 1);
    assert.equal(ml.members[0]!.ID, st.header!.memberId);
    const h1 = await m.c.maintenance.hashKv({ revision: 0n });
    const h2 = await m.c.maintenance.hashKv({ revision: 0n });
    assert.equal(h1.hash, h2.hash, 'hash is stable without writes');
  });

  test('/health, /version and /metrics over HTTP/1.1 and HTTP/2 on the client port', async () => {
    const base = `http://${m.server.endpoint}`;
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { health: 'true' });
    assert.deepEqual(await (await fetch(`${base}/version`)).json(), {
      etcdserver: '3.4.23',
      etcdcluster: '3.4.0',
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^etcd_server_has_leader 1$/m);
    assert.match(
      metrics,
      /grpc_server_handled_total\{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"\} \d+/,
    );
    assert.match(metrics, /etcd_disk_backend_commit_duration_seconds_count \d+/);
    const session = http2.connect(base);
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/health' });
      let data = '';
      req.on('data', (d: Buffer) => {
        data += d.toString();
      });
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
    session.close();
    assert.equal(body, '{"health":"true"}');
  });
});

describe('leases on a single member', () => {
  const m = suiteMember();

  test('grant, attach, time-to-live, revoke deletes every key in one revision', async () => {
    const g = await m.c.lease.leaseGrant({ TTL: 1n, ID: 0n });
    assert.ok(g.ID > 0n);
    assert.equal(g.TTL, 2n, "etcd's minimum TTL (1.5 election timeouts, rounded up) applies");
    await m.c.kv.put({ key: b('l/a'), value: b('1'), lease: g.ID });
    await m.c.kv.put({ key: b('l/b'), value: b('2'), lease: g.ID });
    await m.c.kv.put({ key: b('l/c'), value: b('3'), lease: g.ID });
    await m.c.kv.put({ key: b('l/c'), value: b('3') }); // re-put without the lease detaches it
    const ttl = await m.c.lease.leaseTimeToLive({ ID: g.ID, keys: true });
    assert.equal(ttl.grantedTTL, 2n);
    assert.deepEqual(
      ttl.keys.map((k) => k.toString()),
      ['l/a', 'l/b'],
    );
    const leases = await m.c.lease.leaseLeases({});
    assert.ok(leases.leases.some((l) => l.ID === g.ID));
    const rev = (await m.c.kv.range({ key: b('l/') })).header!.revision;
    const r = await m.c.lease.leaseRevoke({ ID: g.ID });
    assert.equal(r.header!.revision, rev + 1n, 'one revision for all attached keys');
    const left = await m.c.kv.range({ key: b('l/'), rangeEnd: b('l0') });
    assert.deepEqual(
      left.kvs.map((kv) => kv.key.toString()),
      ['l/c'],
    );
    assert.equal((await m.c.lease.leaseTimeToLive({ ID: g.ID, keys: false })).TTL, -1n);
    await expectError(
      m.c.lease.leaseRevoke({ ID: g.ID }),
      status.NOT_FOUND,
      'etcdserver: requested lease not found',
    );
  });

  test('grant errors as etcd', async () => {
    await m.c.lease.leaseGrant({ TTL: 60n, ID: 777n });
    await expectError(
      m.c.lease.leaseGrant({ TTL: 60n, ID: 777n }),
      status.FAILED_PRECONDITION,
      'etcdserver: lease already exists',
    );
    await expectError(
      m.c.lease.leaseGrant({ TTL: 9_000_000_001n, ID: 0n }),
      status.OUT_OF_RANGE,
      'etcdserver: too large lease TTL',
    );
  });

  test('keep-alive renews on a stream; an unknown lease answers TTL 0', async () => {
    const g = await m.c.lease.leaseGrant({ TTL: 30n, ID: 0n });
    const stream = m.c.raw.makeBidiStreamRequest(
      LeaseService.leaseKeepAlive.path,
      LeaseService.leaseKeepAlive.requestSerialize,
      LeaseService.leaseKeepAlive.responseDeserialize,
    );
    const got: { ID: bigint; TTL: bigint }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { ID: bigint; TTL: bigint }) => {
        got.push(m);
        if (got.length === 2) stream.end();
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write({ ID: g.ID });
    stream.write({ ID: 123456789n });
    await done;
    assert.deepEqual(
      got.map((m) => [m.ID, m.TTL]),
      [
        [g.ID, 30n],
        [123456789n, 0n],
      ],
    );
  });

  test('an expired lease is revoked with its keys, not before its TTL', async () => {
    const g = await m.c.lease.leaseGrant({ TTL: 2n, ID: 0n });
    const granted = performance.now();
    await m.c.kv.put({ key: b('exp/k'), value: b('v'), lease: g.ID });
    await waitFor(async () => (await m.c.kv.range({ key: b('exp/k') })).kvs.length === 0, {
      timeoutMs: 6000,
    });
    assert.ok(performance.now() - granted >= 2000, 'revoked before its TTL');
  });
});

describe('durability across restart', () => {
  test('leases survive a restart with their keys attached', async () => {
    const dir = tempDir();
    try {
      let s = await startServer(dir.path);
      let c = connect(s.endpoint);
      const g = await c.lease.leaseGrant({ TTL: 100n, ID: 0n });
      await c.kv.put({ key: b('kept'), value: b('v'), lease: g.ID });
      c.close();
      await s.stop();
      s = await startServer(dir.path);
      c = connect(s.endpoint);
      const ttl = await c.lease.leaseTimeToLive({ ID: g.ID, keys: true });
      assert.equal(ttl.grantedTTL, 100n);
      assert.deepEqual(
        ttl.keys.map((k) => k.toString()),
        ['kept'],
      );
      await c.lease.leaseRevoke({ ID: g.ID });
      assert.equal((await c.kv.range({ key: b('kept') })).kvs.length, 0);
      c.close();
      await s.stop();
    } finally {
      dir.remove();
    }
  });

  test('acknowledged writes and revisions survive a clean restart', async () => {
    const dir = tempDir();
    try {
      let s = await startServer(dir.path);
      let c = connect(s.endpoint);
      const revs: bigint[] = [];
      for (let i = 0; i < 20; i++)
        revs.push((await c.kv.put({ key: b(`r${i}`), value: b(`v${i}`) })).header!.revision);
      c.close();
      await s.stop();
      s = await startServer(dir.path);
      c = connect(s.endpoint);
      const r = await c.kv.range({ key: b('r'), rangeEnd: b('s') });
      assert.equal(r.count, 20n);
      for (const kv of r.kvs) {
        const i = Number(kv.key.toString().slice(1));
        assert.equal(kv.modRevision, revs[i]);
        assert.equal(kv.value.toString(), `v${i}`);
      }
      assert.equal((await c.maintenance.status({})).raftAppliedIndex >= 20n, true);
      c.close();
      await s.stop();
    } finally {
      dir.remove();
    }
  });
});
