// Goal: the differential harness itself is trustworthy — polling has a real deadline, temp dirs go
// away, normalization hides exactly ids and terms, and a member survives restart and SIGKILL with
// its data. Method: pure checks for the utilities; one real etcd member for the process control.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import {
  b,
  connect,
  etcdctl,
  idMap,
  normalizeText,
  normalizeValue,
  startMember,
  tempDir,
  waitFor,
} from './index.js';

test('waitFor returns the first truthy value and times out with the last error', async () => {
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('still down');
      },
      { timeoutMs: 30, intervalMs: 5, what: 'thing' },
    ),
    /waitFor thing timed out after 30 ms: last error: still down/,
  );
});

test('tempDir is fresh and removed', () => {
  const d = tempDir();
  assert.ok(existsSync(d.path));
  d.remove();
  assert.ok(!existsSync(d.path));
});

test('normalizeText hides header ids and terms in every etcdctl form, keeps revisions', () => {
  const ids = idMap(0xabcn, 3000n);
  const json = '{"header":{"cluster_id":2748,"member_id":3000,"revision":7,"raft_term":2}}';
  assert.equal(
    normalizeText(json, ids),
    '{"header":{"cluster_id":"<cluster_id>","member_id":"<member_id>","revision":7,"raft_term":"<raft_term>"}}',
  );
  assert.equal(
    normalizeText('"ClusterID" : 2748\n"Revision" : 4\n', ids),
    '"ClusterID" : <ClusterID>\n"Revision" : 4\n',
  );
  assert.equal(normalizeText('127.0.0.1:1, abc, 3.4.23', ids), '127.0.0.1:1, <cluster_id>, 3.4.23');
  const log =
    '{"level":"warn","ts":"2026-01-01T00:00:00Z","msg":"retrying"}\nError: etcdserver: key not found';
  assert.equal(normalizeText(log), 'Error: etcdserver: key not found');
});

test('normalizeValue turns bytes, bigints and header fields into comparable data', () => {
  const ids = idMap(1n, 2n);
  const v = normalizeValue(
    {
      header: { clusterId: 1n, memberId: 2n, revision: 5n, raftTerm: 9n },
      kvs: [{ key: b('k'), value: Buffer.from([0xff]) }],
      leader: 2n,
    },
    ids,
  );
  assert.deepEqual(v, {
    header: { clusterId: '<cluster_id>', memberId: '<member_id>', revision: '5', raftTerm: '<raft_term>' },
    kvs: [{ key: 'k', value: 'hex:ff' }],
    leader: '<member_id>',
  });
});

test('an etcd member starts, keeps data across restart and SIGKILL, and is cleaned up', async (t) => {
  const m = await startMember('etcd', { t, extraFlags: ['--max-txn-ops', '7'] });
  assert.ok(m.args.includes('--max-txn-ops'));
  const put = await etcdctl(m.endpoint, ['put', 'k', 'v']);
  assert.deepEqual([put.code, put.stdout], [0, 'OK\n']);
  await m.restart();
  assert.equal((await etcdctl(m.endpoint, ['get', 'k', '--print-value-only'])).stdout, 'v\n');
  const pid = m.pid();
  await m.kill('SIGKILL');
  assert.equal(m.pid(), undefined);
  assert.match(m.logs(), /exited with SIGKILL/);
  await m.restart();
  assert.notEqual(m.pid(), pid);
  const c = connect(m.endpoint);
  try {
    const r = await c.kv.range({ key: b('k') });
    assert.equal(r.kvs[0]?.value.toString(), 'v');
    await assert.rejects(c.kv.put({ key: b('') }), (e: { code: number; details: string }) => {
      assert.deepEqual([e.code, e.details], [3, 'etcdserver: key is not provided']);
      return true;
    });
  } finally {
    c.close();
  }
  const failed = await etcdctl(m.endpoint, ['get', 'k', '--rev', '99']);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /Error: etcdserver: mvcc: required revision is a future revision/);
  await m.cleanup();
  assert.equal(m.pid(), undefined);
  assert.ok(!existsSync(m.dataDir));
});

// Two test processes asking for ports at the same moment must never get the same one (each checks
// a port free and closes it before its server binds; without the cross-process claim two
// differential tests once ended up talking to one etcd).
test('freePort never hands one port to two concurrent processes', async () => {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const util = fileURLToPath(new URL('./util.js', import.meta.url));
  // Each child keeps its claims (stays alive) until the parent has both lists: a claim only holds
  // while its owner runs, so a child that exited early would rightly free its ports to the other.
  const script = `import(${JSON.stringify(util)}).then(async (u) => { const ps = []; for (let i = 0; i < 400; i++) ps.push(await u.freePort()); console.log(JSON.stringify(ps)); process.stdin.on('end', () => process.exit(0)); process.stdin.resume(); });`;
  const children: import('node:child_process').ChildProcess[] = [];
  const run = () =>
    new Promise<number[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.endsWith('\n')) resolve(JSON.parse(out) as number[]);
      });
      child.once('error', reject);
      child.once('close', (code) => reject(new Error(`child exited (${code}) before its list: ${out}`)));
    });
  const exited = () =>
    Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('close', r)),
      ),
    );
  let lists: number[][];
  try {
    lists = await Promise.all([run(), run()]);
  } finally {
    for (const c of children) c.stdin?.end();
    await exited();
  }
  const [a = [], b2 = []] = lists;
  const mine = new Set(a);
  assert.equal(mine.size, 400);
  assert.deepEqual(
    b2.filter((p) => mine.has(p)),
    [],
  );
});
