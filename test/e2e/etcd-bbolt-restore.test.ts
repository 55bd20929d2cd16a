// Goal: tsetcd reads the files real etcd 3.4 writes (a `etcdctl snapshot save` file and a member's
// member/snap/db) and `tsetcd snapshot status|restore` give what etcd's own tools give; a damaged
// file is refused with an error naming it and leaves no data dir behind.
// Method: one real etcd member gets small values, values over a page, 800 keys, deletes, 42 leases
// (some with keys, one revoked), a compaction and writes after it; its snapshot and member db are then
//  - read by our bbolt reader: `snapshot status` equals etcdctl's (hash, revision, keys, size);
//  - fuzzed (300 seeded cases: truncation, bit flips, zeroed pages, another format): the reader and `snapshot status`
//    answer or throw BboltError, nothing else;
//  - restored by `tsetcd snapshot restore` and by `etcdctl snapshot restore`; tsetcd and etcd started
//    on the results agree on HashKV, compact revision, every key (revisions, version, lease), an old
//    revision, the compacted error and the leases;
//  - damaged copies are refused by restore, with no data dir or temp dir left.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BboltError, BboltReader, etcdSnapshotStatus } from '../../src/bbolt/index.js';
import { type Proc, startSingle, stopAll } from '../helpers/cluster.js';
import {
  b,
  connect,
  type EtcdClients,
  etcdctl,
  freePort,
  restoreArgs,
  settle,
  snapshotStatusJson,
  tempDir,
  tsetcdCli,
} from '../helpers/index.js';

const tsetcd = (args: string[]) => tsetcdCli(args, { timeoutMs: 120_000 });

const dir = tempDir('tsetcd-bbolt-restore-');
const procs: Proc[] = [];
let snapFile = '';
let memberDb = '';
let compactRev = 0;
let oldRev = 0;

/** A single member of `kind` on fresh ports over `dataDir` (restored or empty). */
async function member(kind: 'etcd' | 'tsetcd', name: string, dataDir: string, peer?: string): Promise<Proc> {
  return startSingle(procs, kind, name, dataDir, { token: 'bbolt-test', peer });
}

before(async () => {
  const src = await member('etcd', 'src', join(dir.path, 'src'));
  const c = connect(src.client);
  try {
    const lease = await c.lease.leaseGrant({ TTL: 900n });
    const lease2 = await c.lease.leaseGrant({ TTL: 3600n });
    await c.kv.put({ key: b('small'), value: b('v') });
    for (let i = 0; i < 3; i++) {
      await c.kv.put({ key: b(`big/${i}`), value: Buffer.alloc(10_000 + i * 30_000, 65 + i) });
    }
    const keys = Array.from({ length: 800 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((k, j) =>
            c.kv.put({ key: b(k), value: b(`value-${i + j}`), lease: (i + j) % 100 === 0 ? lease.ID : 0n }),
          ),
      );
    }
    await c.kv.put({ key: b('leased2'), value: b('x'), lease: lease2.ID });
    // Many leases, some with keys, one revoked (its keys deleted).
    const more = await Promise.all(
      Array.from({ length: 40 }, (_, i) => c.lease.leaseGrant({ TTL: BigInt(600 + i) })),
    );
    for (const [i, l] of more.entries())
      if (i % 3 === 0) await c.kv.put({ key: b(`lk/${i}`), value: b('l'), lease: l.ID });
    await c.lease.leaseRevoke({ ID: more[0]!.ID });
    for (let i = 0; i < 5; i++) await c.kv.put({ key: b('churn'), value: b(`c${i}`) });
    await c.kv.deleteRange({ key: b('many/00010'), rangeEnd: b('many/00020') });
    await c.kv.deleteRange({ key: b('churn') });
    oldRev = Number((await c.kv.put({ key: b('churn'), value: b('reborn') })).header!.revision);
    compactRev = oldRev - 5;
    await c.kv.compact({ revision: BigInt(compactRev), physical: true });
    for (let i = 0; i < 20; i++) await c.kv.put({ key: b(`after/${i % 4}`), value: b(`a${i}`) });
    await c.kv.deleteRange({ key: b('small') });
  } finally {
    c.close();
  }
  snapFile = join(dir.path, 'etcd.db');
  const saved = await etcdctl(src.client, ['snapshot', 'save', snapFile], { timeoutMs: 60_000 });
  assert.equal(saved.code, 0, saved.stderr);
  // The member's own db, copied with etcd stopped (no hash trailer: needs --skip-hash-check).
  const { kill } = await import('../helpers/cluster.js');
  await kill(src, 'SIGTERM');
  memberDb = join(dir.path, 'member.db');
  copyFileSync(join(src.dataDir, 'member', 'snap', 'db'), memberDb);
});

after(async () => {
  await stopAll(procs);
  dir.remove();
});

test('snapshot status of an etcd file equals etcdctl snapshot status', async () => {
  for (const file of [snapFile, memberDb]) {
    const status = ['snapshot', 'status', file, '-w', 'json'];
    const ours = snapshotStatusJson(await tsetcd(status));
    assert.deepEqual(ours, snapshotStatusJson(await etcdctl('127.0.0.1:1', status)));
  }
  const db = BboltReader.open(snapFile, { dbBytes: readFileSync(snapFile).length - 32 });
  try {
    assert.ok(etcdSnapshotStatus(db).totalKey > 800);
  } finally {
    db.close();
  }
});

test('damaged etcd files: the reader answers or throws BboltError, never anything else', () => {
  const good = readFileSync(snapFile).subarray(0, readFileSync(snapFile).length - 32);
  let seed = 17;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const file = join(dir.path, 'fuzz.db');
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const bad = Buffer.from(good);
    let data: Buffer = bad;
    switch (i % 5) {
      case 0:
        data = bad.subarray(0, rnd(bad.length));
        break;
      case 1:
        for (let j = 0; j <= rnd(4); j++) {
          const at = rnd(bad.length);
          bad[at] = bad[at]! ^ (1 << rnd(8));
        }
        break;
      case 2: {
        const page = rnd(bad.length / 4096);
        bad.fill(0, page * 4096, page * 4096 + 4096);
        break;
      }
      case 3: {
        // Page headers (id, flags, count, overflow) and element tables (positions and sizes) are
        // where a flip changes the structure.
        const page = rnd(bad.length / 4096);
        const at = page * 4096 + (i % 2 === 0 ? rnd(16) : 16 + rnd(64));
        bad[at] = bad[at]! ^ (1 << rnd(8));
        break;
      }
      default:
        data = i % 10 === 4 ? Buffer.from('{"not":"a database"}'.repeat(300)) : Buffer.alloc(8192);
    }
    writeFileSync(file, data);
    let outcome = 'read';
    try {
      const db = BboltReader.open(file);
      try {
        etcdSnapshotStatus(db);
      } finally {
        db.close();
      }
    } catch (e) {
      assert.ok(e instanceof BboltError, `case ${i}: ${(e as Error).stack}`);
      assert.ok((e as Error).message.startsWith(`bbolt: ${file}: `), (e as Error).message);
      outcome = 'refused';
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // Most damage must be seen (flips inside values cannot be: bbolt has no checksums over data).
  // (How much is seen depends on where values sit in the file, which varies with the etcd run.)
  assert.ok((outcomes.get('refused') ?? 0) >= 120, JSON.stringify([...outcomes]));
});

test('restore of an etcd snapshot: tsetcd and etcd restored from it agree', {
  timeout: 120_000,
}, async () => {
  const pair: Record<'etcd' | 'tsetcd', EtcdClients> = {} as never;
  for (const kind of ['etcd', 'tsetcd'] as const) {
    const peer = `http://127.0.0.1:${await freePort()}`;
    const data = join(dir.path, `restored-${kind}`);
    const args = restoreArgs(snapFile, { name: 'r', dataDir: data, peer }, { token: 'bbolt-test' });
    const r = kind === 'etcd' ? await etcdctl('127.0.0.1:1', args) : await tsetcd(args);
    assert.equal(r.code, 0, r.stderr);
    const p = await member(kind, 'r', data, peer);
    pair[kind] = connect(p.client);
  }
  after(() => {
    pair.etcd.close();
    pair.tsetcd.close();
  });
  const both = async <T>(f: (c: EtcdClients) => Promise<T>) =>
    [await f(pair.etcd), await f(pair.tsetcd)] as const;

  const [eh, th] = await both((c) => c.maintenance.hashKv({ revision: 0n }));
  assert.equal(th.compactRevision, eh.compactRevision);
  assert.equal(Number(th.compactRevision), compactRev);
  assert.equal(th.header!.revision, eh.header!.revision);
  assert.equal(th.hash, eh.hash, 'HashKV of tsetcd equals that of etcd restored from the same file');

  const all = { key: b('\0'), rangeEnd: b('\0') };
  const [ea, ta] = await both((c) => c.kv.range(all));
  assert.equal(ta.count, ea.count);
  assert.ok(Number(ea.count) > 700);
  assert.deepEqual(ta.kvs, ea.kvs);
  const [eo, to] = await both((c) => c.kv.range({ ...all, revision: BigInt(oldRev) }));
  assert.deepEqual(to.kvs, eo.kvs);
  const [ec, tc] = await both((c) => settle(c.kv.range({ ...all, revision: BigInt(compactRev - 1) })));
  assert.deepEqual(tc, ec);
  assert.equal(tc.ok, false);

  const [el, tl] = await both((c) => c.lease.leaseLeases({}));
  const ids = (r: typeof el) => r.leases.map((l) => l.ID).sort();
  assert.deepEqual(ids(tl), ids(el));
  assert.equal(tl.leases.length, 2 + 39);
  for (const l of el.leases) {
    const [et, tt] = await both((c) => c.lease.leaseTimeToLive({ ID: l.ID, keys: true }));
    assert.equal(tt.grantedTTL, et.grantedTTL);
    assert.deepEqual(tt.keys.map(String).sort(), et.keys.map(String).sort());
    assert.ok(Number(tt.TTL) > 0 && Number(tt.TTL) <= Number(tt.grantedTTL));
  }
  // Both serve writes on top of the restored history with the same revisions.
  const [ep, tp] = await both((c) => c.kv.put({ key: b('new'), value: b('n') }));
  assert.equal(tp.header!.revision, ep.header!.revision);
});

test('restore of a member db needs --skip-hash-check and then matches the snapshot', async () => {
  const data = join(dir.path, 'from-member-db');
  const refused = await tsetcd(['snapshot', 'restore', memberDb, '--data-dir', data]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr.trim().split('\n').at(-1),
    'Error: snapshot missing hash but --skip-hash-check=false',
  );
  assert.ok(!existsSync(data));
  const ok = await tsetcd(['snapshot', 'restore', memberDb, '--data-dir', data, '--skip-hash-check']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(existsSync(join(data, 'member', 'snap', 'db', 'db', 'data.mdb')));
});

test('a damaged etcd snapshot is refused with the file named and leaves nothing behind', async () => {
  const good = readFileSync(snapFile);
  const cases: { name: string; data: Buffer; flags: string[]; want: RegExp }[] = [
    { name: 'flip', data: flip(good, 5000), flags: [], want: /^Error: expected sha256 \[/ },
    {
      name: 'truncated',
      data: good.subarray(0, 8192 + 32),
      flags: ['--skip-hash-check'],
      want: /file size too small/,
    },
    {
      name: 'zeroed-root',
      data: zeroPage(good, rootPage(good)),
      flags: ['--skip-hash-check'],
      want: /page \d+/,
    },
    {
      name: 'text',
      data: Buffer.from('hello\n'.repeat(1000)),
      flags: ['--skip-hash-check'],
      want: /invalid database/,
    },
  ];
  for (const c of cases) {
    const file = join(dir.path, `bad-${c.name}.db`);
    writeFileSync(file, c.data);
    const data = join(dir.path, `bad-${c.name}`);
    const r = await tsetcd(['snapshot', 'restore', file, '--data-dir', data, ...c.flags]);
    assert.equal(r.code, 1, `${c.name}: ${r.stderr}`);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.match(last, c.want, c.name);
    if (c.name !== 'flip') assert.ok(last.includes(file), `${c.name}: names the file: ${last}`);
    assert.ok(!existsSync(data), `${c.name}: no data dir left`);
  }
  assert.deepEqual(
    readdirSync(dir.path).filter((n) => n.includes('.restoring-')),
    [],
    'no temporary restore dirs left',
  );
});

function flip(buf: Buffer, at: number): Buffer {
  const out = Buffer.from(buf);
  out[at] = out[at]! ^ 0x10;
  return out;
}

function zeroPage(buf: Buffer, page: number): Buffer {
  const out = Buffer.from(buf);
  out.fill(0, page * 4096, page * 4096 + 4096);
  return out;
}

/** The root bucket's page of the newer meta. */
function rootPage(buf: Buffer): number {
  const txid = (m: number) => buf.readBigUInt64LE(m * 4096 + 16 + 48);
  const m = txid(0) >= txid(1) ? 0 : 1;
  return Number(buf.readBigUInt64LE(m * 4096 + 16 + 16));
}

test('an etcd snapshot with auth enabled restores with auth: users, roles, permissions, passwords', {
  timeout: 120_000,
}, async () => {
  const src = await member('etcd', 'auth', join(dir.path, 'auth-src'));
  for (const args of [
    ['user', 'add', 'root:secret'],
    ['user', 'add', 'u:upw'],
    ['role', 'add', 'r'],
    ['role', 'grant-permission', 'r', 'readwrite', 'p/', '--prefix'],
    ['user', 'grant-role', 'u', 'r'],
    ['auth', 'enable'],
  ]) {
    const r = await etcdctl(src.client, args);
    assert.equal(r.code, 0, r.stderr);
  }
  const file = join(dir.path, 'auth.db');
  const saved = await etcdctl(src.client, ['--user', 'root:secret', 'snapshot', 'save', file], {
    timeoutMs: 60_000,
  });
  assert.equal(saved.code, 0, saved.stderr);
  const peer = `http://127.0.0.1:${await freePort()}`;
  const data = join(dir.path, 'auth-restored');
  const r = await tsetcd(restoreArgs(file, { name: 'a', dataDir: data, peer }, { token: 'bbolt-test' }));
  assert.equal(r.code, 0, r.stderr);
  const p = await member('tsetcd', 'a', data, peer);
  const c = connect(p.client);
  after(() => c.close());
  const anon = await settle(c.kv.put({ key: b('p/1'), value: b('v') }));
  assert.ok(!anon.ok && anon.details === 'etcdserver: user name is empty', 'auth is still enabled');
  // etcd's bcrypt hashes came over: the passwords still log in.
  const u = (await c.auth.authenticate({ name: 'u', password: 'upw' })).token;
  await c.kv.put({ key: b('p/1'), value: b('v') }, { token: u });
  const outside = await settle(c.kv.put({ key: b('q'), value: b('v') }, { token: u }));
  assert.ok(!outside.ok && outside.details === 'etcdserver: permission denied', 'the role still limits u');
  const root = (await c.auth.authenticate({ name: 'root', password: 'secret' })).token;
  assert.deepEqual((await c.auth.userList({}, { token: root })).users, ['root', 'u']);
});
