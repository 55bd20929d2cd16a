// Goal: our .proto files match etcd 3.4 on the wire, checked against the real thing. A wrong field
// number would be silently ignored (or misread) by etcd, and etcd-vs-etcd differential runs could
// not notice, so here every option is used once against a real etcd with an absolute expectation
// that only holds if etcd understood the field (request side) and we decoded its answer (response
// side). Method: one fresh etcd 3.4 member; KV, Watch, Lease, Cluster, Maintenance, Auth (read-only
// parts), Lock, Election and grpc.health.v1 through the generated code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Permission_Type } from '../../src/proto/authpb/auth.js';
import {
  RangeRequest_SortOrder as Order,
  Compare_CompareResult as R,
  RangeRequest_SortTarget as Sort,
  Compare_CompareTarget as T,
  WatchCreateRequest_FilterType,
} from '../../src/proto/etcdserverpb/rpc.js';
import { HealthCheckResponse_ServingStatus } from '../../src/proto/grpc/health/v1/health.js';
import { Event_EventType } from '../../src/proto/mvccpb/kv.js';
import { b, connect, openWatch, startMember } from '../helpers/index.js';

test('generated code and etcd 3.4 agree on every field we use', { timeout: 60_000 }, async (t) => {
  const m = await startMember('etcd', { t });
  const c = connect(m.endpoint);
  t.after(() => c.close());
  const keys = (r: { kvs: { key: Buffer }[] }) => r.kvs.map((kv) => kv.key.toString());

  await t.test('KV: Put, Range options and filters', async () => {
    // revisions: a=2, b=3, c=4, a=5 (a: create 2, mod 5, version 2)
    for (const [k, v] of [
      ['a', '3'],
      ['b', '1'],
      ['c', '2'],
      ['a', '9'],
    ]) {
      await c.kv.put({ key: b(k!), value: b(v!) });
    }
    const all = { key: b('a'), rangeEnd: b('d') };
    const r = await c.kv.range(all);
    assert.deepEqual(keys(r), ['a', 'b', 'c']);
    assert.equal(r.header?.revision, 5n);
    assert.ok(
      (r.header?.clusterId ?? 0n) > 0n && (r.header?.memberId ?? 0n) > 0n && (r.header?.raftTerm ?? 0n) > 0n,
    );
    const a = r.kvs[0]!;
    assert.deepEqual([a.createRevision, a.modRevision, a.version, a.value.toString()], [2n, 5n, 2n, '9']);
    const lim = await c.kv.range({ ...all, limit: 2 });
    assert.deepEqual([keys(lim), lim.more, lim.count], [['a', 'b'], true, 3n]);
    assert.deepEqual(keys(await c.kv.range({ ...all, revision: 3 })), ['a', 'b']);
    const sorted = await c.kv.range({ ...all, sortOrder: Order.DESCEND, sortTarget: Sort.VALUE });
    assert.deepEqual(keys(sorted), ['a', 'c', 'b']);
    assert.deepEqual(keys(await c.kv.range({ ...all, sortOrder: Order.ASCEND, sortTarget: Sort.MOD })), [
      'b',
      'c',
      'a',
    ]);
    assert.deepEqual(keys(await c.kv.range({ ...all, serializable: true })), ['a', 'b', 'c']);
    const ko = await c.kv.range({ ...all, keysOnly: true });
    assert.deepEqual([keys(ko), ko.kvs[0]?.value.length], [['a', 'b', 'c'], 0]);
    const co = await c.kv.range({ ...all, countOnly: true });
    assert.deepEqual([co.kvs.length, co.count], [0, 3n]);
    assert.deepEqual(keys(await c.kv.range({ ...all, minModRevision: 4 })), ['a', 'c']);
    assert.deepEqual(keys(await c.kv.range({ ...all, maxModRevision: 4 })), ['b', 'c']);
    assert.deepEqual(keys(await c.kv.range({ ...all, minCreateRevision: 3 })), ['b', 'c']);
    assert.deepEqual(keys(await c.kv.range({ ...all, maxCreateRevision: 3 })), ['a', 'b']);
  });

  await t.test('KV: Put prev_kv, ignore_value, ignore_lease, lease; DeleteRange prev_kv', async () => {
    const g = await c.lease.leaseGrant({ TTL: 60, ID: 0x1234 });
    assert.deepEqual([g.ID, g.TTL, g.error], [0x1234n, 60n, '']);
    const p1 = await c.kv.put({ key: b('l'), value: b('x'), lease: 0x1234, prevKv: true });
    assert.equal(p1.prevKv, undefined);
    const p2 = await c.kv.put({ key: b('l'), ignoreValue: true, ignoreLease: true, prevKv: true });
    assert.deepEqual([p2.prevKv?.value.toString(), p2.prevKv?.lease], ['x', 0x1234n]);
    const now = (await c.kv.range({ key: b('l') })).kvs[0];
    assert.deepEqual([now?.value.toString(), now?.lease, now?.version], ['x', 0x1234n, 2n]);
    const ttl = await c.lease.leaseTimeToLive({ ID: 0x1234, keys: true });
    assert.deepEqual([ttl.ID, ttl.grantedTTL, ttl.keys.map(String)], [0x1234n, 60n, ['l']]);
    assert.ok(ttl.TTL > 0n && ttl.TTL <= 60n);
    assert.deepEqual(
      (await c.lease.leaseLeases({})).leases.map((l) => l.ID),
      [0x1234n],
    );
    const d = await c.kv.deleteRange({ key: b('a'), rangeEnd: b('c'), prevKv: true });
    assert.deepEqual([d.deleted, keys({ kvs: d.prevKvs })], [2n, ['a', 'b']]);
    await c.lease.leaseRevoke({ ID: 0x1234 });
    assert.equal((await c.kv.range({ key: b('l') })).kvs.length, 0);
  });

  await t.test('KV: Txn with lease and range compares, nested txn', async () => {
    await c.kv.put({ key: b('r1'), value: b('v') });
    await c.kv.put({ key: b('r2'), value: b('v') });
    const res = await c.kv.txn({
      compare: [
        { key: b('r1'), target: T.LEASE, result: R.EQUAL, lease: 0 },
        { key: b('r1'), rangeEnd: b('r3'), target: T.VALUE, result: R.EQUAL, value: b('v') },
        { key: b('r1'), target: T.VERSION, result: R.NOT_EQUAL, version: 5 },
      ],
      success: [{ requestTxn: { success: [{ requestRange: { key: b('r2') } }] } }],
    });
    assert.equal(res.succeeded, true);
    const inner = res.responses[0]?.responseTxn;
    assert.equal(inner?.succeeded, true);
    assert.deepEqual(keys(inner!.responses[0]!.responseRange!), ['r2']);
    // The range compare fails as soon as one key in the range differs.
    await c.kv.put({ key: b('r2'), value: b('w') });
    const no = await c.kv.txn({
      compare: [{ key: b('r1'), rangeEnd: b('r3'), target: T.VALUE, result: R.EQUAL, value: b('v') }],
    });
    assert.equal(no.succeeded, false);
  });

  await t.test('Watch: start revision, prev_kv, filters, chosen watch id', async () => {
    const w = openWatch(c);
    try {
      const rev = (await c.kv.put({ key: b('w'), value: b('1') })).header!.revision;
      await c.kv.deleteRange({ key: b('w') });
      w.send({
        createRequest: {
          key: b('w'),
          startRevision: rev,
          prevKv: true,
          filters: [WatchCreateRequest_FilterType.NOPUT],
          watchId: 7,
        },
      });
      const created = await w.next();
      assert.deepEqual([created.created, created.watchId], [true, 7n]);
      const ev = await w.next();
      assert.equal(ev.watchId, 7n);
      assert.deepEqual(
        ev.events.map((e) => [e.type, e.kv?.key.toString(), e.prevKv?.value.toString()]),
        [[Event_EventType.DELETE, 'w', '1']],
      );
      w.send({ cancelRequest: { watchId: 7 } });
      const canceled = await w.next();
      assert.deepEqual([canceled.canceled, canceled.watchId], [true, 7n]);
      // A watch from a compacted revision reports compact_revision.
      await c.kv.compact({ revision: rev + 1n });
      w.send({ createRequest: { key: b('w'), startRevision: 1, watchId: 8 } });
      let r = await w.next();
      if (r.created) r = await w.next();
      assert.deepEqual([r.watchId, r.canceled, r.compactRevision], [8n, true, rev + 1n]);
    } finally {
      w.close();
    }
  });

  await t.test('Maintenance and Cluster', async () => {
    const st = await c.maintenance.status({});
    assert.match(st.version, /^3\.4\.\d+$/);
    assert.equal(st.leader, st.header?.memberId);
    assert.ok(st.dbSize > 0n && st.dbSizeInUse > 0n && st.dbSizeInUse <= st.dbSize);
    assert.ok(st.raftIndex > 0n && st.raftAppliedIndex > 0n && st.raftTerm > 0n);
    assert.deepEqual([st.errors, st.isLearner], [[], false]);
    const ml = await c.cluster.memberList({});
    assert.equal(ml.members.length, 1);
    const me = ml.members[0]!;
    assert.deepEqual(
      [me.ID, me.name, me.peerURLs, me.clientURLs, me.isLearner],
      [st.header?.memberId, 'm1', [m.peerURL], [m.clientURL], false],
    );
    const hk = await c.maintenance.hashKv({ revision: 0 });
    assert.ok(hk.hash !== 0 && hk.compactRevision > 0n);
    assert.ok((await c.maintenance.hash({})).hash !== 0);
    assert.deepEqual((await c.maintenance.alarm({})).alarms, []);
  });

  await t.test('Auth (without enabling it)', async () => {
    await c.auth.roleAdd({ name: 'reader' });
    await c.auth.roleGrantPermission({
      name: 'reader',
      perm: { permType: Permission_Type.READWRITE, key: b('p'), rangeEnd: b('q') },
    });
    const role = await c.auth.roleGet({ role: 'reader' });
    assert.deepEqual(
      role.perm.map((p) => [p.permType, p.key.toString(), p.rangeEnd.toString()]),
      [[Permission_Type.READWRITE, 'p', 'q']],
    );
    await c.auth.userAdd({ name: 'u', password: '', options: { noPassword: true } });
    await c.auth.userGrantRole({ user: 'u', role: 'reader' });
    assert.deepEqual((await c.auth.userGet({ name: 'u' })).roles, ['reader']);
    assert.deepEqual((await c.auth.userList({})).users, ['u']);
    assert.deepEqual((await c.auth.roleList({})).roles, ['reader']);
  });

  await t.test('Lock, Election, grpc.health.v1', async () => {
    const g = await c.lease.leaseGrant({ TTL: 60 });
    const l = await c.lock.lock({ name: b('mylock'), lease: g.ID });
    assert.ok(l.key.toString().startsWith('mylock/'));
    assert.ok((l.header?.revision ?? 0n) > 0n);
    await c.lock.unlock({ key: l.key });
    const camp = await c.election.campaign({ name: b('el'), lease: g.ID, value: b('me') });
    const leaderKey = camp.leader!;
    assert.deepEqual([leaderKey.name.toString(), leaderKey.lease], ['el', g.ID]);
    assert.ok(leaderKey.key.toString().startsWith('el/') && leaderKey.rev > 0n);
    await c.election.proclaim({ leader: leaderKey, value: b('again') });
    const ld = await c.election.leader({ name: b('el') });
    assert.equal(ld.kv?.value.toString(), 'again');
    await c.election.resign({ leader: leaderKey });
    const h = await c.health.check({ service: '' });
    assert.equal(h.status, HealthCheckResponse_ServingStatus.SERVING);
  });
});
