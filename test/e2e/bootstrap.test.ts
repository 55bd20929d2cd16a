// Goal: bootstrap mistakes are refused with clear errors, as etcd refuses them: a member started with
// another --initial-cluster-token (so another cluster id) is refused by the running members ("request
// cluster ID mismatch", 412) and itself stops with a "cluster ID mismatch" error; a member joining
// with --initial-cluster-state existing whose --initial-cluster does not match the running cluster
// stops with etcd's "member count is unequal" / "PeerURLs: no match found for existing member"; a
// restarted member with a data dir ignores the bootstrap flags. Method: real processes, free ports.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  kill,
  launch,
  type Proc,
  planCluster,
  planMember,
  stopAll,
  waitHealthy,
  whenHealthy,
} from '../helpers/cluster.js';
import { b, connect, freePort, tempDir, waitFor } from '../helpers/index.js';

/** Launches `p` and waits for it to exit; returns its exit code. */
async function runToExit(p: Proc, timeoutMs = 30_000): Promise<number | null> {
  launch(p);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    p.exited,
    new Promise<'running'>((r) => {
      timer = setTimeout(() => r('running'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  assert.notEqual(code, 'running', `${p.name} should have stopped:\n${p.log.slice(-3000)}`);
  return code as number | null;
}

test('bootstrap mismatches are refused with clear errors; a restart ignores bootstrap flags', {
  timeout: 180_000,
}, async (t) => {
  const dir = tempDir('tsetcd-bootstrap-');
  const procs = await planCluster(dir.path, 3, { token: 'token-a' });
  const extra: Proc[] = [];
  t.after(async () => {
    await stopAll([...procs, ...extra]);
    dir.remove();
  });
  const [m1, m2, m3] = procs as [Proc, Proc, Proc];
  // Two of three form the cluster (a quorum); the third comes with another token.
  launch(m1);
  launch(m2);
  await waitHealthy(m1);
  await waitHealthy(m2);
  const wrong: Proc = { ...m3, args: m3.args.map((a) => (a === 'token-a' ? 'token-b' : a)), log: '' };
  extra.push(wrong);
  const code = await runToExit(wrong);
  assert.equal(code, 1);
  assert.match(
    wrong.log,
    /tsetcd: cannot start: cluster ID mismatch: the members at http:\/\/127\.0\.0\.1:\d+/,
  );
  assert.match(wrong.log, /request sent was ignored by remote peer due to cluster ID mismatch/);
  await waitFor(() => /request cluster ID mismatch/.test(m1.log + m2.log), {
    what: 'the running members logging the refused cluster id',
  });
  const c1 = connect(m1.client);
  t.after(() => c1.close());
  await c1.kv.put({ key: b('k'), value: b('v') });

  // With the right token (and a fresh data dir: the wrong one remembers the other cluster), it joins.
  rmSync(m3.dataDir, { recursive: true, force: true });
  launch(m3);
  await waitHealthy(m3);
  const list = await c1.cluster.memberList({});
  assert.equal(list.members.length, 3);

  // Joining an existing cluster with a member list that does not match it.
  const [client4, peer4] = await Promise.all([freePort(), freePort()]);
  const plan4 = (initialCluster: string): Proc =>
    planMember({
      kind: 'tsetcd',
      name: 'm4',
      dataDir: join(dir.path, 'm4'),
      client: `127.0.0.1:${client4}`,
      peer: `http://127.0.0.1:${peer4}`,
      initialCluster,
      token: 'token-a',
      extraFlags: ['--initial-cluster-state', 'existing'],
    });
  const current = procs.map((p) => `${p.name}=${p.peer}`);
  const notAdded = plan4([...current, `m4=http://127.0.0.1:${peer4}`].join(','));
  extra.push(notAdded);
  assert.equal(await runToExit(notAdded), 1);
  assert.match(
    notAdded.log,
    /cannot start: error validating peerURLs \{ClusterID:[0-9a-f]+ Members:\[.*\]\}: member count is unequal/,
  );
  rmSync(join(dir.path, 'm4'), { recursive: true, force: true });

  await whenHealthy(() => c1.cluster.memberAdd({ peerURLs: [`http://127.0.0.1:${peer4}`] }));
  const badPort = await freePort();
  const mismatched = plan4(
    [`m1=http://127.0.0.1:${badPort}`, ...current.slice(1), `m4=http://127.0.0.1:${peer4}`].join(','),
  );
  extra.push(mismatched);
  assert.equal(await runToExit(mismatched), 1);
  assert.match(
    mismatched.log,
    /PeerURLs: no match found for existing member \([0-9a-f]+, \[http:\/\/127\.0\.0\.1:\d+\]\)/,
  );
  rmSync(join(dir.path, 'm4'), { recursive: true, force: true });
  const good = plan4([...current, `m4=http://127.0.0.1:${peer4}`].join(','));
  extra.push(good);
  launch(good);
  await waitHealthy(good);

  // A restart with its data dir ignores the bootstrap flags, however wrong they are now.
  const idsBefore = (await c1.cluster.memberList({})).members.map((m) => m.ID).sort();
  await kill(m2);
  const restarted: Proc = {
    ...m2,
    args: m2.args
      .map((a) => (a === 'token-a' ? 'token-ignored' : a))
      .concat(['--initial-cluster-state', 'existing']),
    log: '',
  };
  extra.push(restarted);
  launch(restarted);
  await waitHealthy(restarted);
  const c2 = connect(restarted.client);
  t.after(() => c2.close());
  const r = await c2.kv.range({ key: b('k') });
  assert.equal(r.kvs[0]!.value.toString(), 'v');
  const idsAfter = (await c2.cluster.memberList({})).members.map((m) => m.ID).sort();
  assert.deepEqual(idsAfter, idsBefore, 'same members, same ids');
  assert.equal(r.header!.clusterId, (await c1.kv.range({ key: b('k') })).header!.clusterId);
});
