// Goal: `etcdctl snapshot save` against tsetcd stores a file etcd's own tools and etcd itself use:
// `etcdctl snapshot status` shows tsetcd's revision and key count, and `etcdctl snapshot restore`
// followed by real etcd 3.4 serves the same keys, revisions, leases and HashKV as the tsetcd member
// the snapshot came from. `tsetcd snapshot restore` reads the same file back.
// Method: one tsetcd member gets small values, values over a page, 600 keys, deletes, leases with
// keys and a compaction; save with etcdctl 3.4; compare etcdctl's status with what tsetcd reports,
// restore with etcdctl, start etcd 3.4 on it and compare with the tsetcd member; restore with
// tsetcd too and compare HashKV. Checked to fail without the bbolt writer (an lmdb file: etcdctl
// status answers "invalid database").
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Proc, startSingle, stopAll } from '../helpers/cluster.js';
import {
  b,
  connect,
  type EtcdClients,
  etcdctl,
  freePort,
  restoreArgs,
  snapshotStatusJson,
  tempDir,
  tsetcdCli,
} from '../helpers/index.js';

const tsetcd = (args: string[]) => tsetcdCli(args, { timeoutMs: 120_000 });

test('a tsetcd snapshot is an etcd snapshot: etcdctl status, etcdctl restore, etcd serves it', {
  timeout: 120_000,
}, async (t) => {
  const dir = tempDir('tsetcd-bbolt-save-');
  const procs: Proc[] = [];
  const clients: EtcdClients[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await stopAll(procs);
    dir.remove();
  });
  const member = async (kind: 'etcd' | 'tsetcd', name: string, dataDir: string, peer?: string) => {
    const p = await startSingle(procs, kind, name, dataDir, { token: 'bbolt-save', peer });
    const c = connect(p.client);
    clients.push(c);
    return { p, c };
  };

  const src = await member('tsetcd', 'src', join(dir.path, 'src'));
  const c = src.c;
  const lease = await c.lease.leaseGrant({ TTL: 900n });
  await c.kv.put({ key: b('small'), value: b('v'), lease: lease.ID });
  for (let i = 0; i < 3; i++)
    await c.kv.put({ key: b(`big/${i}`), value: Buffer.alloc(5000 + i * 20_000, 97 + i) });
  const keys = Array.from({ length: 600 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(
      keys.slice(i, i + 50).map((k, j) => c.kv.put({ key: b(k), value: b(`value-${i + j}`) })),
    );
  }
  await c.kv.deleteRange({ key: b('many/00100'), rangeEnd: b('many/00200') });
  const compactRev = Number((await c.kv.put({ key: b('churn'), value: b('1') })).header!.revision);
  await c.kv.compact({ revision: BigInt(compactRev), physical: true });
  for (let i = 0; i < 10; i++) await c.kv.put({ key: b('churn'), value: b(`after-${i}`) });

  const file = join(dir.path, 'tsetcd.db');
  const saved = await etcdctl(src.p.client, ['snapshot', 'save', file], { timeoutMs: 60_000 });
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(statSync(file).size % 512, 32, 'a bbolt database (whole pages) plus the SHA-256');

  const st = snapshotStatusJson(await etcdctl('127.0.0.1:1', ['snapshot', 'status', file, '-w', 'json']));
  const header = (await c.kv.range({ key: b('small') })).header!;
  assert.equal(st.revision, Number(header.revision), "etcdctl's status shows tsetcd's revision");
  const ours = snapshotStatusJson(await tsetcd(['snapshot', 'status', file, '-w', 'json']));
  assert.deepEqual(ours, st, 'tsetcd snapshot status reads the same numbers');
  const hk = await c.maintenance.hashKv({ revision: 0n });

  // etcd 3.4 from the file, restored by etcdctl.
  const peer = `http://127.0.0.1:${await freePort()}`;
  const etcdDir = join(dir.path, 'etcd');
  const restored = await etcdctl(
    '127.0.0.1:1',
    restoreArgs(file, { name: 'r', dataDir: etcdDir, peer }, { token: 'bbolt-save' }),
  );
  assert.equal(restored.code, 0, restored.stderr);
  const etcd = await member('etcd', 'r', etcdDir, peer);
  const eh = await etcd.c.maintenance.hashKv({ revision: 0n });
  assert.equal(eh.header!.revision, hk.header!.revision);
  assert.equal(eh.compactRevision, hk.compactRevision);
  assert.equal(Number(eh.compactRevision), compactRev);
  assert.equal(eh.hash, hk.hash, 'HashKV of etcd restored from the tsetcd snapshot equals the source');
  const all = { key: b('\0'), rangeEnd: b('\0') };
  const [er, tr] = [await etcd.c.kv.range(all), await c.kv.range(all)];
  assert.equal(er.count, tr.count);
  assert.deepEqual(er.kvs, tr.kvs);
  const el = await etcd.c.lease.leaseTimeToLive({ ID: lease.ID, keys: true });
  assert.equal(el.grantedTTL, 900n);
  assert.deepEqual(el.keys.map(String), ['small']);

  // And tsetcd restores its own snapshot from the bbolt file.
  const tsDir = join(dir.path, 'restored-tsetcd');
  const peer2 = `http://127.0.0.1:${await freePort()}`;
  const r2 = await tsetcd(
    restoreArgs(file, { name: 'r2', dataDir: tsDir, peer: peer2 }, { token: 'bbolt-save' }),
  );
  assert.equal(r2.code, 0, r2.stderr);
  const back = await member('tsetcd', 'r2', tsDir, peer2);
  const bh = await back.c.maintenance.hashKv({ revision: 0n });
  assert.equal(bh.hash, hk.hash);
  assert.deepEqual((await back.c.kv.range(all)).kvs, tr.kvs);
});
