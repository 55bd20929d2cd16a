// Goal: tsetcd starts on an etcd 3.4 data dir — one written by etcd's own `etcdctl snapshot restore`
// (etcd's e2e TestIssue6361) and a stopped etcd member's — and serves exactly what etcd serves from
// the same dir; a damaged etcd WAL or db is refused naming the file, leaving the etcd files as they
// were; an interrupted import is finished or redone at the next start.
// Method: a real etcd 3.4 member (--snapshot-count 10, so raft snapshots, entries after them and
// entries after the db's consistent index all exist) gets puts, deletes, a txn, leases (one revoked),
// a compaction, then lease grants and a user add (which leave the db's consistent index behind the
// log); it is stopped. Its dir is copied: etcd restarts on one copy, tsetcd starts on the other; both
// must agree on HashKV, every key with its revisions, an old revision, the compacted error, leases,
// users and the member list, and give the same revision to the next write. The same for a dir made by
// etcdctl's restore of that member's snapshot. Then seeded damage to the WAL (bit flips, truncation)
// and the db: every case is imported or refused with an EtcdDirError naming a file of the dir, and a
// refusal changes no file. A killed etcd whose db lags its WAL (a backend batch interval of 10 min):
// tsetcd applies the entries etcd had not committed to its db and ends where etcd's replay ends. (A whole stopped 3-member etcd cluster restarted as tsetcd is the long
// run etcd-data-dir-cluster.faults.test.ts.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdDirError, importEtcdDataDir } from '../../src/server/index.js';
import { kill, type Proc, planSingle, startSingle, stopAll } from '../helpers/cluster.js';
import {
  b,
  connect,
  type EtcdClients,
  etcdctl,
  freePort,
  restoreArgs,
  settle,
  tempDir,
} from '../helpers/index.js';

const dir = tempDir('tsetcd-etcd-dir-');
const procs: Proc[] = [];
/** The stopped etcd member's data dir (never started on again: tests copy it). */
let stopped = '';
/** Its snapshot, saved while it ran. */
let snapFile = '';
let compactRev = 0;
let oldRev = 0;
const quiet = { info: () => {}, warn: () => {} };

async function start(
  kind: 'etcd' | 'tsetcd',
  name: string,
  dataDir: string,
  extra: string[] = [],
): Promise<Proc> {
  return startSingle(procs, kind, name, dataDir, { token: 'etcd-dir-test', extraFlags: extra });
}

before(async () => {
  stopped = join(dir.path, 'src');
  const src = await start('etcd', 'src', stopped, ['--snapshot-count', '10']);
  const c = connect(src.client);
  try {
    const lease = await c.lease.leaseGrant({ TTL: 900n });
    const gone = await c.lease.leaseGrant({ TTL: 600n });
    for (let i = 0; i < 40; i++) {
      await c.kv.put({ key: b(`k/${i % 13}`), value: b(`v${i}`), lease: i % 7 === 0 ? lease.ID : 0n });
    }
    await c.kv.put({ key: b('gone'), value: b('x'), lease: gone.ID });
    await c.lease.leaseRevoke({ ID: gone.ID });
    await c.kv.deleteRange({ key: b('k/1'), rangeEnd: b('k/3') });
    await c.kv.txn({
      compare: [],
      success: [
        { requestPut: { key: b('t/a'), value: b('1') } },
        { requestPut: { key: b('t/b'), value: b('2') } },
      ],
      failure: [],
    });
    oldRev = Number((await c.kv.put({ key: b('k/5'), value: b('old') })).header!.revision);
    compactRev = oldRev - 3;
    await c.kv.compact({ revision: BigInt(compactRev), physical: true });
    for (let i = 0; i < 5; i++) await c.kv.put({ key: b(`after/${i}`), value: b(`a${i}`) });
    // Entries that leave the db's consistent index behind the log (no mvcc change).
    await c.lease.leaseGrant({ ID: 0x1234n, TTL: 1200n });
    const r = await etcdctl(src.client, ['user', 'add', 'alice:pw']);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    c.close();
  }
  snapFile = join(dir.path, 'src.db');
  const saved = await etcdctl(src.client, ['snapshot', 'save', snapFile], { timeoutMs: 60_000 });
  assert.equal(saved.code, 0, saved.stderr);
  await kill(src, 'SIGTERM');
  assert.ok(
    readdirSync(join(stopped, 'member', 'snap')).some((n) => n.endsWith('.snap')),
    'etcd took raft snapshots',
  );
});

after(async () => {
  await stopAll(procs);
  dir.remove();
});

/** etcd on one copy of `dataDir`, tsetcd on another; returns their clients. */
async function bothOn(dataDir: string, name: string): Promise<Record<'etcd' | 'tsetcd', EtcdClients>> {
  const out = {} as Record<'etcd' | 'tsetcd', EtcdClients>;
  for (const kind of ['etcd', 'tsetcd'] as const) {
    const copy = join(dir.path, `${name}-${kind}`);
    cpSync(dataDir, copy, { recursive: true });
    const p = await start(kind, name, copy);
    out[kind] = connect(p.client);
  }
  after(() => {
    out.etcd.close();
    out.tsetcd.close();
  });
  return out;
}

async function assertSameState(
  pair: Record<'etcd' | 'tsetcd', EtcdClients>,
  withHistory: boolean,
): Promise<void> {
  const both = async <T>(f: (c: EtcdClients) => Promise<T>) =>
    [await f(pair.etcd), await f(pair.tsetcd)] as const;
  const [eh, th] = await both((c) => c.maintenance.hashKv({ revision: 0n }));
  assert.equal(th.header!.revision, eh.header!.revision);
  assert.equal(th.compactRevision, eh.compactRevision);
  assert.equal(th.hash, eh.hash, 'HashKV equal');
  const all = { key: b('\0'), rangeEnd: b('\0') };
  const [ea, ta] = await both((c) => c.kv.range(all));
  assert.ok(ea.kvs.length > 10);
  assert.deepEqual(ta.kvs, ea.kvs);
  if (withHistory) {
    assert.equal(Number(th.compactRevision), compactRev);
    const [eo, to] = await both((c) => c.kv.range({ ...all, revision: BigInt(oldRev) }));
    assert.deepEqual(to.kvs, eo.kvs);
    const [ec, tc] = await both((c) => settle(c.kv.range({ ...all, revision: BigInt(compactRev - 1) })));
    assert.equal(tc.ok, false);
    assert.deepEqual(tc, ec);
  }
  const [el, tl] = await both((c) => c.lease.leaseLeases({}));
  const ids = (r: typeof el) => r.leases.map((l) => l.ID).sort();
  assert.deepEqual(ids(tl), ids(el));
  assert.ok(ids(tl).includes(0x1234n), 'the lease granted after the last write came over');
  for (const l of el.leases) {
    const [et, tt] = await both((c) => c.lease.leaseTimeToLive({ ID: l.ID, keys: true }));
    assert.equal(tt.grantedTTL, et.grantedTTL);
    assert.deepEqual(tt.keys.map(String).sort(), et.keys.map(String).sort());
  }
  const [eu, tu] = await both((c) => c.auth.userList({}));
  assert.deepEqual(tu.users, eu.users);
  assert.deepEqual(tu.users, ['alice']);
  const [ep, tp] = await both((c) => c.kv.put({ key: b('next'), value: b('n') }));
  assert.equal(tp.header!.revision, ep.header!.revision, 'the next write gets the same revision');
}

test("a stopped etcd member's data dir: tsetcd serves what etcd serves", { timeout: 120_000 }, async () => {
  const pair = await bothOn(stopped, 'src');
  await assertSameState(pair, true);
  const [em, tm] = [await pair.etcd.cluster.memberList({}), await pair.tsetcd.cluster.memberList({})];
  assert.deepEqual(
    tm.members.map((m) => [m.ID, m.peerURLs]),
    em.members.map((m) => [m.ID, m.peerURLs]),
  );
  assert.equal(tm.header!.clusterId, em.header!.clusterId, "etcd's cluster id and member id are kept");
  assert.equal(tm.header!.memberId, em.header!.memberId);
  // etcd's files are kept aside, untouched; nothing of the import is left.
  const t = join(dir.path, 'src-tsetcd');
  assert.ok(statSync(join(t, 'member.etcd', 'snap', 'db')).isFile());
  assert.ok(statSync(join(t, 'member', 'snap', 'db')).isDirectory());
  assert.ok(!existsSync(join(t, '.tsetcd-import')));
});

test("a data dir made by etcdctl's snapshot restore (etcd's TestIssue6361)", {
  timeout: 120_000,
}, async () => {
  const restored = join(dir.path, 'restored');
  const peer = `http://127.0.0.1:${await freePort()}`;
  const r = await etcdctl(
    '127.0.0.1:1',
    restoreArgs(snapFile, { name: 'r', dataDir: restored, peer }, { token: 'new' }),
  );
  assert.equal(r.code, 0, r.stderr);
  const pair = await bothOn(restored, 'r');
  await assertSameState(pair, true);
  const tm = await pair.tsetcd.cluster.memberList({});
  assert.deepEqual(
    tm.members.map((m) => [m.name, m.peerURLs]),
    [['r', [peer]]],
    "the restore's new cluster, named once the member published itself",
  );
});

/** A digest of every file under `root` (path, size, bytes), to prove a refusal changed nothing. */
function digest(root: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(`${p}\0`).update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

function walFile(dataDir: string): string {
  const wal = join(dataDir, 'member', 'wal');
  return join(wal, readdirSync(wal).find((n) => n.endsWith('.wal'))!);
}

/** Bytes of the WAL in use (before the preallocated zeros). */
function walUsed(buf: Buffer): number {
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readBigUInt64LE(off);
    if (len === 0n) break;
    const rec = Number(len & 0xffffffffffffffn);
    const pad = (len & (1n << 63n)) !== 0n ? Number((len >> 56n) & 7n) : 0;
    off += 8 + rec + pad;
  }
  return off;
}

test('damaged etcd WAL and db: imported as etcd would read them, or refused naming the file, never half-done', {
  timeout: 300_000,
}, async () => {
  // A copy whose WAL ends where its records end (etcd reads a segment without its preallocated
  // zeros the same way), so that each case copies kilobytes, not etcd's 64 MB segment.
  const base = join(dir.path, 'fuzz-base');
  cpSync(stopped, base, { recursive: true });
  const used = walUsed(readFileSync(walFile(base)));
  assert.ok(used > 1000);
  truncateSync(walFile(base), used);
  const good = readFileSync(walFile(base));
  let seed = 6361;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const outcomes = new Map<string, number>();
  const cases = 40;
  for (let i = 0; i < cases; i++) {
    const d = join(dir.path, `fuzz-${i}`);
    cpSync(base, d, { recursive: true });
    const wal = walFile(d);
    const bad = Buffer.from(good);
    let what: string;
    if (i % 4 === 3) {
      const at = rnd(used);
      writeFileSync(wal, bad.subarray(0, at));
      what = `truncated at ${at}`;
    } else {
      for (let j = 0; j <= i % 4; j++) {
        const at = rnd(used);
        bad[at] = bad[at]! ^ (1 << rnd(8));
      }
      writeFileSync(wal, bad);
      what = `${(i % 4) + 1} flips`;
    }
    const before = digest(d);
    let outcome: string;
    try {
      await importEtcdDataDir({ dataDir: d, logger: quiet });
      outcome = 'imported';
      assert.ok(statSync(join(d, 'member', 'snap', 'db')).isDirectory(), `${what}: imported`);
    } catch (e) {
      assert.ok(e instanceof EtcdDirError, `${what}: ${(e as Error).stack}`);
      assert.ok(
        e.message.startsWith(`etcd data dir: ${d}`),
        `${what}: names a file of the dir: ${e.message}`,
      );
      assert.equal(digest(d), before, `${what}: a refusal changes no file`);
      outcome = /crc mismatch/.test(e.message) ? 'crc' : /truncated/.test(e.message) ? 'truncated' : 'other';
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  process.stderr.write(`fuzz outcomes: ${JSON.stringify([...outcomes])}\n`);
  // Flips inside records are caught by the CRC chain; cuts that lose applied entries are refused.
  assert.ok((outcomes.get('crc') ?? 0) >= 6, JSON.stringify([...outcomes]));
  assert.ok((outcomes.get('truncated') ?? 0) >= 3, JSON.stringify([...outcomes]));

  // Named cases, through the binary: the refusal is printed with the file.
  const cut = join(dir.path, 'cut');
  cpSync(base, cut, { recursive: true });
  truncateSync(walFile(cut), Math.floor(used / 2));
  const p = await planSingle('tsetcd', 'cut', cut, { token: 'x' });
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(p.cmd, p.args, { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 1);
  assert.match(
    run.stderr,
    /tsetcd: cannot start: etcd data dir: .*member\/wal: the WAL ends at index \d+ but the backend has applied index \d+: the WAL is truncated or lost/,
  );

  const db = join(dir.path, 'bad-db');
  cpSync(base, db, { recursive: true });
  truncateSync(join(db, 'member', 'snap', 'db'), 8192);
  const before = digest(db);
  await assert.rejects(importEtcdDataDir({ dataDir: db, logger: quiet }), (e: Error) => {
    assert.ok(e instanceof EtcdDirError);
    assert.match(e.message, /member\/snap\/db: bbolt: .*member\/snap\/db: /);
    return true;
  });
  assert.equal(digest(db), before);
});

test('an interrupted import is finished (build complete) or redone (build incomplete) at the next start', async () => {
  // Incomplete: a build without its completion marker is deleted and the import done again.
  const a = join(dir.path, 'interrupted-build');
  cpSync(stopped, a, { recursive: true });
  mkdirSync(join(a, '.tsetcd-import', 'member', 'snap'), { recursive: true });
  writeFileSync(join(a, '.tsetcd-import', 'member', 'snap', 'junk'), 'half');
  const r1 = await importEtcdDataDir({ dataDir: a, logger: quiet });
  assert.ok(r1);
  assert.ok(statSync(join(a, 'member', 'snap', 'db')).isDirectory());
  assert.ok(!existsSync(join(a, 'member', 'snap', 'junk')));
  assert.ok(!existsSync(join(a, '.tsetcd-import')));
  // Complete, killed between the two renames: etcd's member dir is already aside, the built one not
  // yet in place. The next start finishes the renames (and does not import again).
  const b2 = join(dir.path, 'interrupted-swap');
  cpSync(a, b2, { recursive: true });
  mkdirSync(join(b2, '.tsetcd-import'));
  renameSync(join(b2, 'member'), join(b2, '.tsetcd-import', 'member'));
  writeFileSync(
    join(b2, '.tsetcd-import', 'complete'),
    JSON.stringify({ keptMember: join(b2, 'member.etcd') }),
  );
  const r2 = await importEtcdDataDir({ dataDir: b2, logger: quiet });
  assert.equal(r2, undefined, 'nothing left to import');
  assert.ok(statSync(join(b2, 'member', 'snap', 'db')).isDirectory());
  assert.ok(statSync(join(b2, 'member.etcd', 'snap', 'db')).isFile());
  assert.ok(!existsSync(join(b2, '.tsetcd-import')));
  // A tsetcd dir is left alone.
  assert.equal(await importEtcdDataDir({ dataDir: a, logger: quiet }), undefined);
});

test("--wal-dir: the WAL outside the data dir is imported and etcd's kept beside it", async () => {
  const d = join(dir.path, 'waldir-data');
  const w = join(dir.path, 'waldir-wal');
  cpSync(stopped, d, { recursive: true });
  renameSync(join(d, 'member', 'wal'), w);
  const r = await importEtcdDataDir({ dataDir: d, walDir: w, logger: quiet });
  assert.ok(r);
  assert.deepEqual(r.kept.sort(), [join(d, 'member.etcd'), `${w}.etcd`].sort());
  assert.ok(statSync(join(d, 'member', 'snap', 'db')).isDirectory());
  assert.ok(
    readdirSync(`${w}.etcd`).some((n) => n.endsWith('.wal')),
    "etcd's WAL kept",
  );
  assert.ok(
    readdirSync(w).some((n) => n.endsWith('.wal')),
    "tsetcd's WAL in place",
  );
  assert.ok(!existsSync(`${w}.tsetcd-import`));
  const p = await start('tsetcd', 'src', d, ['--wal-dir', w]);
  const c = connect(p.client);
  try {
    const h = await c.maintenance.hashKv({ revision: 0n });
    assert.equal(Number(h.compactRevision), compactRev);
    assert.ok((await c.lease.leaseLeases({})).leases.some((l) => l.ID === 0x1234n));
  } finally {
    c.close();
  }
});

test('a killed etcd whose db lags its WAL: tsetcd applies the entries etcd had not committed to its db, as etcd does', {
  timeout: 120_000,
}, async () => {
  // The backend commits only every 10 minutes (or 1M writes), so the db keeps what etcd had at start
  // and the writes live only in the WAL when etcd is killed.
  const lagging = join(dir.path, 'lagging');
  const src = await start('etcd', 'lag', lagging, [
    ...['--backend-batch-interval', '10m', '--backend-batch-limit', '1000000'],
  ]);
  const c = connect(src.client);
  try {
    const lease = await c.lease.leaseGrant({ TTL: 900n });
    for (let i = 0; i < 30; i++) {
      await c.kv.put({ key: b(`l/${i % 6}`), value: b(`v${i}`), lease: i % 5 === 0 ? lease.ID : 0n });
    }
    await c.kv.deleteRange({ key: b('l/2') });
    await c.kv.txn({
      compare: [{ key: b('l/1'), target: 0, result: 0, version: 5n }],
      success: [{ requestPut: { key: b('t'), value: b('s') } }],
      failure: [{ requestPut: { key: b('t'), value: b('f') } }],
    });
  } finally {
    c.close();
  }
  await kill(src, 'SIGKILL');
  const imported = await importEtcdDataDir({
    dataDir: (() => {
      const copy = join(dir.path, 'lagging-probe');
      cpSync(lagging, copy, { recursive: true });
      return copy;
    })(),
    logger: quiet,
  });
  assert.ok(
    imported && imported.entriesToApply >= 30,
    `entries after the db's index: ${imported?.entriesToApply}`,
  );
  const pair = await bothOn(lagging, 'lag');
  const both = async <T>(f: (x: EtcdClients) => Promise<T>) =>
    [await f(pair.etcd), await f(pair.tsetcd)] as const;
  const [eh, th] = await both((x) => x.maintenance.hashKv({ revision: 0n }));
  assert.ok(Number(eh.header!.revision) > 30);
  assert.equal(th.header!.revision, eh.header!.revision);
  assert.equal(th.hash, eh.hash, 'HashKV equal after both replayed the WAL');
  const all = { key: b('\0'), rangeEnd: b('\0') };
  const [ea, ta] = await both((x) => x.kv.range(all));
  assert.deepEqual(ta.kvs, ea.kvs);
  const [el, tl] = await both((x) => x.lease.leaseLeases({}));
  assert.deepEqual(
    tl.leases.map((l) => l.ID),
    el.leases.map((l) => l.ID),
  );
  const [em, tm] = await both((x) => x.cluster.memberList({}));
  assert.deepEqual(
    tm.members.map((m) => [m.ID, m.name, m.peerURLs]),
    em.members.map((m) => [m.ID, m.name, m.peerURLs]),
  );
});
