// Goal: auth state travels in `etcdctl snapshot save` files: a cluster restored with `tsetcd snapshot
// restore` has the same users, roles, permissions and enabled flag. Method: one tsetcd process with
// auth on; save a snapshot as root with etcdctl (Snapshot is root-only, refused to others); restore
// into a new single-member cluster and check auth there over gRPC.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { enableAuthWithUser } from '../helpers/auth.js';
import { type Proc, planMember, procsFor, startAll } from '../helpers/cluster.js';
import { b, connect, etcdctl, freePort, repoRoot, restoreArgs, settle } from '../helpers/index.js';

function tsetcd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'tsetcd.js'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

async function single(dataDir: string, name: string, token: string): Promise<Proc> {
  const [client, peer] = await Promise.all([freePort(), freePort()]);
  return planMember({
    kind: 'tsetcd',
    name,
    dataDir,
    client: `127.0.0.1:${client}`,
    peer: `http://127.0.0.1:${peer}`,
    initialCluster: `${name}=http://127.0.0.1:${peer}`,
    token,
    extraFlags: ['--bcrypt-cost', '4'],
  });
}

test('auth survives snapshot save and restore', { timeout: 90_000 }, async (t) => {
  const { dir, procs } = procsFor(t, 'tsetcd-auth-snapshot-');
  const src = await single(join(dir.path, 'src'), 's1', 'src-cluster');
  procs.push(src);
  await startAll([src]);
  const c = connect(src.client);
  t.after(() => c.close());
  await enableAuthWithUser(c, 'p/');
  const file = join(dir.path, 'snap.db');
  const refused = await etcdctl(src.client, ['--user', 'u:upw', 'snapshot', 'save', file]);
  assert.notEqual(refused.code, 0, 'a non-root user may not take a snapshot');
  const saved = await etcdctl(src.client, ['--user', 'root:rootpw', 'snapshot', 'save', file]);
  assert.equal(saved.code, 0, saved.stderr);

  const dst = await single(join(dir.path, 'dst'), 'd1', 'dst-cluster');
  const r = await tsetcd(
    restoreArgs(file, dst, {
      initialCluster: dst.args[dst.args.indexOf('--initial-cluster') + 1] as string,
      token: 'dst-cluster',
    }),
  );
  assert.equal(r.code, 0, r.stderr);
  procs.push(dst);
  await startAll([dst]);
  const d = connect(dst.client);
  t.after(() => d.close());
  const anon = await settle(d.kv.range({ key: b('p/1') }));
  assert.ok(!anon.ok && anon.details === 'etcdserver: user name is empty', 'auth is still enabled');
  const u = (await d.auth.authenticate({ name: 'u', password: 'upw' })).token;
  await d.kv.put({ key: b('p/1'), value: b('v') }, { token: u });
  const outside = await settle(d.kv.put({ key: b('q'), value: b('v') }, { token: u }));
  assert.ok(!outside.ok && outside.details === 'etcdserver: permission denied');
  const root = (await d.auth.authenticate({ name: 'root', password: 'rootpw' })).token;
  assert.deepEqual((await d.auth.userList({}, { token: root })).users, ['root', 'u']);
});
