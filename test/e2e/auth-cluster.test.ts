// Goal: auth state is replicated and durable, and a token works on every member. Method: a
// three-member in-process cluster; users, roles and the enabled flag are set through one member,
// a simple token issued by one member is used on the others, a permission change is seen by all,
// a member that was down catches up past a Raft snapshot (small --snapshot-count), and after a
// defragment and a restart of every member the auth state is the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status as S } from '@grpc/grpc-js';
import { enableAuthWithUser } from '../helpers/auth.js';
import { b, type EtcdClients, settle, waitFor } from '../helpers/index.js';
import { InprocCluster } from '../helpers/inproc.js';

async function login(c: EtcdClients, name: string, password: string): Promise<string> {
  return (await c.auth.authenticate({ name, password })).token;
}

async function denied(p: Promise<unknown>): Promise<string> {
  const r = await settle(p);
  assert.ok(!r.ok, 'expected a refusal');
  return `${r.code} ${r.details}`;
}

test('auth is replicated, durable, and tokens work on every member', { timeout: 120_000 }, async (t) => {
  const cluster = await InprocCluster.start(
    3,
    { snapshotCount: 20, snapshotCatchUpEntries: 5, bcryptCost: 4 },
    'auth',
  );
  t.after(() => cluster.close());
  const c0 = cluster.client(0);
  await enableAuthWithUser(c0, 'p/');
  const root = await login(c0, 'root', 'rootpw');
  const u = await login(c0, 'u', 'upw');

  // A token from member 0 works on members 1 and 2 (each applied the entry that issued it).
  for (const i of [1, 2]) {
    const c = cluster.client(i);
    await c.kv.put({ key: b(`p/${i}`), value: b('v') }, { token: u });
    assert.equal((await c.kv.range({ key: b(`p/${i}`) }, { token: u })).count, 1n);
    assert.equal(
      await denied(c.kv.range({ key: b('q') }, { token: u })),
      `${S.PERMISSION_DENIED} etcdserver: permission denied`,
    );
    assert.equal(
      await denied(c.kv.range({ key: b('p/1') })),
      `${S.INVALID_ARGUMENT} etcdserver: user name is empty`,
    );
  }

  // A permission change made through member 1 is seen by a token's holder on member 2.
  const c1 = cluster.client(1);
  const c2 = cluster.client(2);
  await c1.auth.roleRevokePermission({ role: 'r', key: b('p/'), rangeEnd: b('p0') }, { token: root });
  await waitFor(async () => !(await settle(c2.kv.range({ key: b('p/1') }, { token: u }))).ok, {
    what: 'member 2 applies the revoke',
  });

  // Member 2 misses users, grants and many writes; it catches up (by snapshot) and has them all.
  await cluster.stop(2);
  await cluster.waitForLeader();
  await c0.auth.userAdd({ name: 'late', password: 'latepw' }, { token: root });
  await c0.auth.roleGrantPermission({ name: 'r', perm: { permType: 0, key: b('k') } }, { token: root });
  for (let i = 0; i < 60; i++) await c0.kv.put({ key: b(`bulk/${i}`), value: b('x') }, { token: root });
  await cluster.restart(2);
  const c2b = cluster.client(2);
  await waitFor(async () => (await settle(login(c2b, 'late', 'latepw'))).ok, {
    what: 'member 2 knows "late"',
  });
  const root2 = await login(c2b, 'root', 'rootpw');
  assert.deepEqual((await c2b.auth.userList({}, { token: root2 })).users, ['late', 'root', 'u']);
  const perms = (await c2b.auth.roleGet({ role: 'r' }, { token: root2 })).perm.map((p) => p.key.toString());
  assert.deepEqual(perms, ['k']);
  assert.equal(cluster.member(2).auth.revision, cluster.member(0).auth.revision);
  const received = (await cluster.member(2).metrics.snapshotReceiveSuccess.get()).values[0]?.value ?? 0;
  assert.ok(received >= 1, 'member 2 caught up by a snapshot');

  // Defragment (store replaced) and a restart of every member keep it all.
  await cluster.member(0).defragment();
  for (const i of [0, 1, 2]) await cluster.stop(i);
  await Promise.all([0, 1, 2].map((i) => cluster.restart(i)));
  await cluster.waitForLeader();
  for (const i of [0, 1, 2]) {
    const c = cluster.client(i);
    assert.equal(
      await denied(c.kv.range({ key: b('k') })),
      `${S.INVALID_ARGUMENT} etcdserver: user name is empty`,
      'still enabled',
    );
    // Tokens live in memory: the old one is gone, a new login works.
    assert.equal(
      await denied(c.kv.range({ key: b('k') }, { token: u })),
      `${S.UNAUTHENTICATED} etcdserver: invalid auth token`,
    );
    const tok = await login(c, 'u', 'upw');
    assert.equal((await c.kv.range({ key: b('k') }, { token: tok })).count, 0n);
  }
});
