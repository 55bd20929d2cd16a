// Goal: moving an etcd 3.4 that has TLS with client certificates and auth on: its snapshot restores
// into tsetcd with auth (users, roles, the enabled flag), and `tsetcd migrate follow` reaches both
// sides over TLS (--cacert/--cert/--key) as a user (--user), so tsetcd catches up with etcd.
// Method: real etcd 3.4 with https client URLs and --client-cert-auth, a root user, auth enabled,
// keys written as root; `etcdctl snapshot save` over mTLS, `tsetcd snapshot restore`, tsetcd
// started with the same TLS flags; more writes on etcd; follow without a CA is refused (it cannot
// verify the servers), follow without --user is refused by auth (the client certificate's CN is no
// user), follow with both reaches sync; then both serve the same HashKV and revision, and tsetcd
// still refuses an anonymous request.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { launch, type Proc, planSingle, procsFor, running } from '../helpers/cluster.js';
import { etcdctl, freePort, restoreArgs, tsetcdCli, waitFor } from '../helpers/index.js';
import { isHealthy } from '../helpers/member.js';
import { makeCa } from '../helpers/tls-certs.js';

test('migrate follow over TLS with auth: restore keeps auth, follow reaches sync', {
  timeout: 180_000,
}, async () => {
  const { dir, procs } = procsFor({ after }, 'tsetcd-migrate-tls-');
  const ca = makeCa(join(dir.path, 'ca'));
  const server = ca.issue('server', { hosts: ['127.0.0.1', 'localhost'], usage: 'both' });
  const client = ca.issue('migrator', { cn: 'migrator', usage: 'client' });
  const tlsFlags = [
    ...['--cert-file', server.cert, '--key-file', server.key],
    ...['--client-cert-auth', '--trusted-ca-file', ca.cert],
  ];
  const ctlTls = ['--cacert', ca.cert, '--cert', client.cert, '--key', client.key];
  const tls = { ca: ca.cert, cert: client.cert, key: client.key };

  /** A single member of `kind` on https client URLs. */
  async function start(kind: 'etcd' | 'tsetcd', name: string, dataDir: string, peer?: string): Promise<Proc> {
    const p0 = await planSingle(kind, name, dataDir, { token: 'migrate-tls', peer });
    const p = {
      ...p0,
      args: [...p0.args.map((a) => a.replace(`http://${p0.client}`, `https://${p0.client}`)), ...tlsFlags],
    };
    procs.push(p);
    launch(p);
    await waitFor(
      async () => {
        if (!running(p)) throw new Error(`${name} exited:\n${p.log.slice(-3000)}`);
        return isHealthy(`https://${p.client}`, tls);
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `${name} healthy` },
    );
    return p;
  }
  const ctl = async (p: Proc, args: string[], user = true) => {
    const r = await etcdctl(
      `https://${p.client}`,
      [...ctlTls, ...(user ? ['--user', 'root:rootpw'] : []), ...args],
      {
        timeoutMs: 60_000,
      },
    );
    return r;
  };
  const ok = async (p: Proc, args: string[], user = true) => {
    const r = await ctl(p, args, user);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  const etcd = await start('etcd', 'e', join(dir.path, 'etcd'));
  await ok(etcd, ['user', 'add', 'root:rootpw'], false);
  await ok(etcd, ['auth', 'enable'], false);
  for (let i = 0; i < 20; i++) await ok(etcd, ['put', `k/${i % 7}`, `v${i}`]);
  const snap = join(dir.path, 'etcd.db');
  await ok(etcd, ['snapshot', 'save', snap]);

  const peer = `http://127.0.0.1:${await freePort()}`;
  const data = join(dir.path, 'tsetcd');
  const restored = await tsetcdCli(
    restoreArgs(snap, { name: 't', dataDir: data, peer }, { token: 'migrate-tls' }),
  );
  assert.equal(restored.code, 0, restored.stderr);
  const ts = await start('tsetcd', 't', data, peer);
  // Auth came over: anonymous requests (the certificate's CN is no user) are refused, root logs in.
  const anon = await ctl(ts, ['get', 'k/1'], false);
  assert.notEqual(anon.code, 0);
  assert.match(anon.stderr, /user name not found|permission denied|user name is empty/);
  assert.match(await ok(ts, ['get', 'k/1']), /k\/1/);

  for (let i = 0; i < 15; i++) await ok(etcd, ['put', `after/${i % 4}`, `a${i}`]);
  await ok(etcd, ['del', 'k/3']);

  const follow = (extra: string[]) =>
    tsetcdCli(
      [
        ...['migrate', 'follow', '--from', `https://${etcd.client}`, '--to', `https://${ts.client}`],
        ...['--until-synced', '--sync-timeout-ms', '20000', ...extra],
      ],
      { timeoutMs: 60_000 },
    );
  const noCa = await follow(['--user', 'root:rootpw']);
  assert.equal(noCa.code, 1, 'without the CA the servers cannot be verified');
  const noUser = await follow(['--cacert', ca.cert, '--cert', client.cert, '--key', client.key]);
  assert.equal(noUser.code, 1);
  assert.match(noUser.stderr, /^Error: .*(user name|permission denied)/m);
  const synced = await follow([
    ...['--cacert', ca.cert, '--cert', client.cert, '--key', client.key],
    ...['--from-user', 'root:rootpw', '--to-user', 'root:rootpw'],
  ]);
  assert.equal(synced.code, 0, synced.stderr);
  assert.match(synced.stderr, /"msg":"in sync"/);

  const hashkv = async (p: Proc) =>
    JSON.parse(await ok(p, ['endpoint', 'hashkv', '-w', 'json'])) as [
      { HashKV: { hash: number; header: { revision: number } } },
    ];
  const [e] = await hashkv(etcd);
  const [t] = await hashkv(ts);
  assert.equal(t.HashKV.header.revision, e.HashKV.header.revision);
  assert.equal(t.HashKV.hash, e.HashKV.hash);
});
