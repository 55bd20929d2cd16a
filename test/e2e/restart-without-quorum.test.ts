// Goal: a whole cluster killed and restarted one member at a time, with the first member alone for
// longer than the request timeout (7 s), comes back with every acknowledged write — the lone member
// waits for the others as etcd does (it used to exit after about 7 s). While it waits it is alive,
// /health says unhealthy, serializable reads answer from its store and a linearizable read times out
// with etcd's error. Method: a 3-member process cluster, writes acknowledged through each member,
// SIGKILL all, relaunch m1 and wait for its "waiting for a quorum" log line (written only after a
// full request timeout without a leader), check it, then relaunch m2 and m3 and read everything back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kill, launch, planCluster, startAll, stopAll, waitHealthy } from '../helpers/cluster.js';
import { b, connect, isHealthy, tempDir, waitFor } from '../helpers/index.js';

const WRITES_PER_MEMBER = 20;

test('a killed cluster restarted one by one, the first alone for over 7 s, keeps every acknowledged write', {
  timeout: 120_000,
}, async (t) => {
  const dir = tempDir('tsetcd-requorum-');
  const procs = await planCluster(dir.path, 3, { token: 'requorum' });
  t.after(async () => {
    await stopAll(procs);
    dir.remove();
  });
  await startAll(procs);
  const acked: string[] = [];
  for (const p of procs) {
    const c = connect(p.client);
    try {
      for (let i = 0; i < WRITES_PER_MEMBER; i++) {
        const key = `${p.name}/${i}`;
        await c.kv.put({ key: b(key), value: b(String(i)) });
        acked.push(key);
      }
    } finally {
      c.close();
    }
  }
  for (const p of procs) await kill(p);

  const [m1, m2, m3] = procs as [(typeof procs)[0], (typeof procs)[0], (typeof procs)[0]];
  m1.log = '';
  launch(m1);
  const c1 = connect(m1.client);
  t.after(() => c1.close());
  // Serializable reads answer from the local store as soon as the client port listens.
  await waitFor(
    async () => {
      if (m1.child?.exitCode !== null) throw new Error(`m1 exited:\n${m1.log}`);
      const local = await c1.kv
        .range({ key: b('m1/'), rangeEnd: b('m10'), serializable: true }, { deadlineMs: 1000 })
        .catch(() => undefined);
      if (local) assert.equal(Number(local.count), WRITES_PER_MEMBER);
      return local !== undefined;
    },
    { timeoutMs: 30_000, what: 'a serializable read on m1 alone' },
  );
  // A linearizable read needs a leader: it fails with etcd's timeout, not at once.
  const linearizable = c1.kv.range({ key: b('m1/0') }, { deadlineMs: 20_000 }).then(
    () => 'answered',
    (e: Error & { details?: string }) => e.details,
  );
  await waitFor(
    () => {
      if (m1.child?.exitCode !== null) throw new Error(`m1 exited while waiting for a quorum:\n${m1.log}`);
      return m1.log.includes('waiting for a quorum of the cluster to start');
    },
    { timeoutMs: 30_000, what: `m1 logs that it waits for a quorum\n${m1.log.slice(-3000)}` },
  );
  assert.equal(m1.child?.exitCode, null, 'm1 still runs after a full request timeout without a leader');
  assert.equal(await isHealthy(`http://${m1.client}`), false, '/health is unhealthy without a leader');
  assert.equal(await linearizable, 'etcdserver: request timed out');

  launch(m2);
  await waitHealthy(m1);
  await waitHealthy(m2);
  launch(m3);
  await waitHealthy(m3);
  for (const p of procs) {
    const c = connect(p.client);
    try {
      const all = await c.kv.range({ key: b('m'), rangeEnd: b('n') });
      assert.deepEqual(
        all.kvs.map((kv) => kv.key.toString()).sort(),
        [...acked].sort(),
        `${p.name} has every acknowledged write`,
      );
      await c.kv.put({ key: b(`after/${p.name}`), value: b('1') });
    } finally {
      c.close();
    }
  }
});
