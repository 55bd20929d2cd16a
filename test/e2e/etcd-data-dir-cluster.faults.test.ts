// Goal: a whole stopped etcd 3.4 cluster moves to tsetcd in place: tsetcd members started with the
// etcd members' flags on their data dirs form the cluster etcd was (the long run of
// etcd-data-dir.test.ts: `npm run test:faults`).
// Method: a 3-member etcd cluster (--snapshot-count 20) gets puts, a delete and a leased key, and its
// HashKV, revision and member ids are noted; it is stopped (SIGTERM) and tsetcd started on the same
// dirs, ports and flags: every member has etcd's HashKV at etcd's revision and etcd's member ids, the
// next write gets the next revision and replicates.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { kill, planCluster, procsFor, startAll } from '../helpers/cluster.js';
import { b, connect, waitFor } from '../helpers/index.js';

const { dir, procs } = procsFor({ after }, 'tsetcd-etcd-dir-cluster-');

test('a stopped 3-member etcd cluster: tsetcd members started on its dirs with its flags form the cluster', {
  timeout: 180_000,
}, async () => {
  const root = join(dir.path, 'cluster');
  const etcd = await planCluster(root, 3, {
    kind: 'etcd',
    token: 'etcd-dir-3',
    extraFlags: ['--snapshot-count', '20'],
  });
  procs.push(...etcd);
  await startAll(etcd);
  const c = connect(etcd[0]!.client);
  let want: { hash: number; revision: bigint; members: bigint[] };
  try {
    for (let i = 0; i < 60; i++) await c.kv.put({ key: b(`c/${i % 9}`), value: b(`v${i}`) });
    await c.kv.deleteRange({ key: b('c/0') });
    const lease = await c.lease.leaseGrant({ TTL: 600n });
    await c.kv.put({ key: b('c/leased'), value: b('l'), lease: lease.ID });
    const h = await c.maintenance.hashKv({ revision: 0n });
    want = {
      hash: h.hash,
      revision: h.header!.revision,
      members: (await c.cluster.memberList({})).members.map((m) => m.ID).sort(),
    };
  } finally {
    c.close();
  }
  await Promise.all(etcd.map((p) => kill(p, 'SIGTERM')));
  // The same flags, ports and dirs; tsetcd in place of etcd.
  const ts = await planCluster(root, 3, {
    kind: 'tsetcd',
    token: 'etcd-dir-3',
    ports: (i) => ({
      client: Number(etcd[i]!.client.split(':')[1]),
      peer: Number(etcd[i]!.peer.split(':')[2]),
    }),
  });
  procs.push(...ts);
  await startAll(ts);
  const clients = ts.map((p) => connect(p.client));
  after(() => {
    for (const x of clients) x.close();
  });
  for (const x of clients) {
    const h = await x.maintenance.hashKv({ revision: want.revision });
    assert.equal(h.hash, want.hash, "every member holds etcd's keys at etcd's revision");
    const ids = (await x.cluster.memberList({})).members.map((m) => m.ID).sort();
    assert.deepEqual(ids, want.members, "etcd's member ids");
  }
  const put = await clients[1]!.kv.put({ key: b('c/new'), value: b('n') });
  assert.equal(put.header!.revision, want.revision + 1n);
  await waitFor(
    async () =>
      (await clients[2]!.kv.range({ key: b('c/new'), serializable: true })).kvs[0]?.value.toString() === 'n',
    { timeoutMs: 10_000, what: 'the write replicated to the third member' },
  );
});
