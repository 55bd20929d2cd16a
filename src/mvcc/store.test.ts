// Goal: the store's contract beyond what the model test covers: etcd's revision/version rules on
// hand-picked histories, exact error texts, txn views, events, restart and crash durability
// (a process killed right after commit() loses nothing; a crash before commit loses whole txns
// only, never splitting data from its consistent index), compaction (physical removal, resumption
// after an interrupted run, not blocking the event loop), and hash agreement between stores.
// Method: each test opens stores in a fresh temp dir; the crash test runs a writer in a child
// process that SIGKILLs itself; on-disk state is inspected through lmdb directly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { open } from 'lmdb';
import { tempDirFor } from '../../test/helpers/util.js';
import { Event_EventType } from '../proto/mvccpb/kv.js';
import { MvccError, MvccStore } from './index.js';
import { keyMain } from './revision.js';
import { COMPACT_KEYS_PER_STEP } from './store.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ALL = Buffer.from([0]);

const tmp = (t: TestContext): string => tempDirFor(t, 'mvcc-test-');

async function openStore(t: TestContext, dir = tmp(t), sync = false): Promise<MvccStore> {
  const s = await MvccStore.open({ dir, sync });
  t.after(() => s.close());
  return s;
}

function put(s: MvccStore, ci: number, ...kvs: [string, string][]): number {
  const txn = s.write(ci);
  for (const [k, v] of kvs) txn.put(b(k), b(v), 0n);
  return txn.end().rev;
}

/** The store's lmdb environment in `dir` and its database `name`, opened directly (close `env`). */
function openLmdb(dir: string, name: string) {
  const env = open<Buffer, Buffer>({
    path: join(dir, 'db'),
    maxDbs: 4,
    keyEncoding: 'binary',
    encoding: 'binary',
  });
  return { env, db: env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }) };
}

/** Every (main revision, tombstone?) stored in lmdb, read directly (the store must be closed). */
function storedRevisions(dir: string): string[] {
  const { env, db: kv } = openLmdb(dir, 'key');
  const out: string[] = [];
  for (const { key } of kv.getRange({})) out.push(`${keyMain(key)}${key.length === 18 ? 't' : ''}`);
  env.close();
  return out;
}

test('revisions, versions and create revisions follow etcd', async (t) => {
  const s = await openStore(t);
  assert.equal(s.rev, 1, 'an empty store is at revision 1');
  assert.equal(s.compactRev, -1);
  assert.equal(put(s, 1, ['a', '1']), 2, 'the first write gets revision 2');
  assert.equal(put(s, 2, ['a', '2'], ['b', '1']), 3);
  let kv = s.range(b('a'), undefined).kvs[0]!;
  assert.deepEqual([kv.createRevision, kv.modRevision, kv.version], [2n, 3n, 2n]);

  let txn = s.write(3);
  assert.equal(txn.rev, 3, 'before writing, a txn is at the current revision');
  assert.deepEqual(txn.deleteRange(b('a'), undefined).deleted, 1);
  assert.equal(txn.rev, 4);
  assert.equal(txn.end().rev, 4);
  assert.equal(s.range(b('a'), undefined).count, 0);

  txn = s.write(4);
  assert.deepEqual(txn.deleteRange(b('zz'), undefined), { deleted: 0, prevKvs: [] });
  assert.deepEqual(txn.end(), { rev: 4, events: [] }, 'a txn that changes nothing keeps the revision');
  assert.equal(s.consistentIndex, 4, 'but it advances the consistent index');

  assert.equal(put(s, 5, ['a', '3']), 5);
  kv = s.range(b('a'), undefined).kvs[0]!;
  assert.deepEqual([kv.createRevision, kv.modRevision, kv.version], [5n, 5n, 1n], 'a new generation');
  kv = s.range(b('a'), undefined, { rev: 3 }).kvs[0]!;
  assert.equal(kv.value.toString(), '2');
  assert.equal(s.range(b('a'), undefined, { rev: 4 }).count, 0);
});

test('range: limits, counts, open ends and byte order', async (t) => {
  const s = await openStore(t);
  put(s, 1, ['a', '1'], ['ab', '2'], ['b', '3'], ['\x80', '4'], ['\xff\x00', '5']);
  const keys = (r: { kvs: { key: Buffer }[] }): string[] => r.kvs.map((kv) => kv.key.toString('latin1'));
  assert.deepEqual(keys(s.range(ALL, ALL)), ['a', 'ab', 'b', '\x80', '\xff\x00']);
  assert.deepEqual(keys(s.range(b('a'), Buffer.alloc(0))), ['a', 'ab', 'b', '\x80', '\xff\x00']);
  assert.deepEqual(keys(s.range(b('a'), b('b'))), ['a', 'ab']);
  assert.deepEqual(keys(s.range(b('b'), b('a'))), [], 'end before key');
  assert.deepEqual(keys(s.range(b('a'), b('a'))), [], 'end equal to key');
  assert.deepEqual(keys(s.range(b('\x7f'), b('\xff'))), ['\x80']);
  const lim = s.range(b('a'), ALL, { limit: 2 });
  assert.deepEqual([keys(lim), lim.count, lim.rev], [['a', 'ab'], 5, 2]);
  const cnt = s.range(b('a'), ALL, { countOnly: true });
  assert.deepEqual([cnt.kvs, cnt.count], [[], 5]);
  assert.deepEqual(s.range(b('nope'), undefined), { kvs: [], count: 0, rev: 2 });
});

test('errors carry etcd texts and codes', async (t) => {
  const s = await openStore(t);
  put(s, 1, ['a', '1']);
  put(s, 2, ['a', '2']);
  put(s, 3, ['a', '3']);
  assert.throws(
    () => s.range(b('a'), undefined, { rev: 5 }),
    (e: unknown) =>
      e instanceof MvccError &&
      e.code === 'future-rev' &&
      e.message === 'mvcc: required revision is a future revision',
  );
  await s.compact(3).done;
  assert.throws(
    () => s.range(b('a'), undefined, { rev: 2 }),
    (e: unknown) =>
      e instanceof MvccError &&
      e.code === 'compacted' &&
      e.message === 'mvcc: required revision has been compacted',
  );
  assert.equal(
    s.range(b('a'), undefined, { rev: 3 }).kvs[0]!.value.toString(),
    '2',
    'reading at the compact revision works',
  );
  assert.throws(() => s.compact(3), { message: 'mvcc: required revision has been compacted' });
  assert.throws(() => s.compact(2), { message: 'mvcc: required revision has been compacted' });
  assert.throws(() => s.compact(5), { message: 'mvcc: required revision is a future revision' });
  await assert.rejects(s.hashKV(3), { message: 'mvcc: required revision has been compacted' });
  await assert.rejects(s.hashKV(9), { message: 'mvcc: required revision is a future revision' });
  await s.close();
  assert.throws(() => s.range(b('a'), undefined), { message: 'mvcc: closed' });
});

test('a txn sees its own writes; store reads do not until it ends', async (t) => {
  const s = await openStore(t);
  put(s, 1, ['a', '1']);
  const txn = s.write(2);
  txn.put(b('a'), b('2'), 9n);
  txn.put(b('c'), b('x'), 0n);
  assert.equal(txn.range(b('a'), undefined).kvs[0]!.value.toString(), '2');
  assert.equal(txn.range(b('a'), undefined).rev, 3);
  assert.equal(s.range(b('a'), undefined).kvs[0]!.value.toString(), '1', 'open txn invisible');
  assert.equal(s.range(ALL, ALL).count, 1);
  const del = txn.deleteRange(b('a'), b('b'));
  assert.equal(del.deleted, 1);
  assert.equal(del.prevKvs[0]!.value.toString(), '2', 'prevKvs sees the txn own put');
  const { rev, events } = txn.end();
  assert.equal(rev, 3);
  assert.deepEqual(
    events.map((e) => [
      e.type,
      e.kv!.key.toString(),
      Number(e.kv!.modRevision),
      Number(e.kv!.version),
      e.kv!.lease,
    ]),
    [
      [Event_EventType.PUT, 'a', 3, 2, 9n],
      [Event_EventType.PUT, 'c', 3, 1, 0n],
      [Event_EventType.DELETE, 'a', 3, 0, 0n],
    ],
  );
  // Visible at once (before lmdb committed), then still after commit.
  assert.deepEqual(
    s.range(ALL, ALL).kvs.map((kv) => kv.key.toString()),
    ['c'],
  );
  await s.commit();
  assert.deepEqual(
    s.range(ALL, ALL).kvs.map((kv) => kv.key.toString()),
    ['c'],
  );
  const evs = s.rangeEvents(2, 3, ALL, ALL);
  assert.deepEqual(
    evs.map((e) => [e.type, e.kv!.key.toString(), Number(e.kv!.modRevision)]),
    [
      [Event_EventType.PUT, 'a', 2],
      [Event_EventType.PUT, 'a', 3],
      [Event_EventType.PUT, 'c', 3],
      [Event_EventType.DELETE, 'a', 3],
    ],
  );
  assert.equal(s.rangeEvents(2, 3, b('c'), undefined).length, 1);
});

test('restart rebuilds the same index, revision and consistent index', async (t) => {
  const dir = tmp(t);
  const s1 = await MvccStore.open({ dir });
  for (let i = 1; i <= 300; i++) {
    const txn = s1.write(i * 10);
    txn.put(b(`k${i % 37}`), b(`v${i}`), BigInt(i));
    if (i % 11 === 0) txn.deleteRange(b(`k${(i * 7) % 37}`), b(`k${(i * 7) % 37}z`));
    txn.end();
  }
  const snapshot = (s: MvccStore): unknown[] => {
    const out: unknown[] = [];
    for (let r = 1; r <= s.rev; r += 7) out.push(s.range(ALL, ALL, { rev: r }).kvs);
    return out;
  };
  const before = snapshot(s1);
  const hash = await s1.hashKV(0);
  const rev = s1.rev;
  await s1.commit();
  await s1.close();
  const s2 = await openStore(t, dir);
  assert.equal(s2.rev, rev);
  assert.equal(s2.consistentIndex, 3000);
  assert.deepEqual(snapshot(s2), before);
  assert.deepEqual(await s2.hashKV(0), hash);
  // and it keeps counting from where it was
  assert.equal(put(s2, 3001, ['k1', 'again']), rev + 1);
  assert.equal(s2.range(b('k1'), undefined).kvs[0]!.version > 1n, true);
});

/**
 * Runs `body` as an ES module file `script` in a child node process, after opening the store in
 * `dataDir` (sync) as `s`; the child must end by SIGKILLing itself after `body`, and does. Answers
 * the child's stdout.
 */
function runUntilKilled(script: string, dataDir: string, body: string): string {
  const storeUrl = new URL('./index.js', import.meta.url).href;
  writeFileSync(
    script,
    `import { MvccStore } from ${JSON.stringify(storeUrl)};
const s = await MvccStore.open({ dir: ${JSON.stringify(dataDir)}, sync: true });
${body}
process.kill(process.pid, 'SIGKILL');
`,
  );
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, 'SIGKILL', `${script} died otherwise: ${r.stderr}`);
  return r.stdout;
}

test('committed writes survive a process kill; uncommitted ones are lost whole', async (t) => {
  const dir = tmp(t);
  runUntilKilled(
    join(dir, 'writer.mjs'),
    join(dir, 'data'),
    `for (let i = 1; i <= 500; i++) {
  const txn = s.write(i);
  txn.put(Buffer.from('k' + i), Buffer.alloc(100, i), 0n);
  txn.put(Buffer.from('last'), Buffer.from(String(i)), 0n);
  txn.end();
}
await s.commit();
// more writes, never committed; the kill may or may not let some reach lmdb
for (let i = 501; i <= 2000; i++) {
  const txn = s.write(i);
  txn.put(Buffer.from('k' + i), Buffer.alloc(100, i), 0n);
  txn.put(Buffer.from('last'), Buffer.from(String(i)), 0n);
  txn.end();
  if (i % 300 === 0) await new Promise((r) => setImmediate(r));
}
`,
  );
  const s = await openStore(t, join(dir, 'data'));
  const ci = s.consistentIndex;
  assert.ok(ci >= 500, `committed txns lost: consistent index ${ci}`);
  // The consistent index names exactly the data that is there: txn i wrote revision i + 1.
  assert.equal(s.rev, ci + 1);
  assert.equal(s.range(b('last'), undefined).kvs[0]!.value.toString(), String(ci));
  assert.equal(s.range(b('k'), b('l'), { countOnly: true }).count, ci);
  assert.equal(s.range(b(`k${ci + 1}`), undefined).count, 0);
  assert.equal(s.range(b('k500'), undefined).kvs[0]!.value[0], 500 % 256);
});

test('compaction removes superseded revisions from lmdb and keeps the rest readable', async (t) => {
  const dir = tmp(t);
  const s = await MvccStore.open({ dir });
  put(s, 1, ['a', '1']); // 2
  put(s, 2, ['a', '2']); // 3
  put(s, 3, ['b', '1']); // 4
  let txn = s.write(4);
  txn.deleteRange(b('b'), undefined); // 5 (tombstone)
  txn.end();
  put(s, 5, ['a', '3']); // 6
  put(s, 6, ['c', '1']); // 7
  txn = s.write(7);
  txn.deleteRange(b('c'), undefined); // 8
  txn.end();
  await s.commit();
  const { done } = s.compact(5);
  assert.equal(s.compactRev, 5, 'the compact revision moves at once');
  await done;
  assert.deepEqual(
    s.range(ALL, ALL, { rev: 5 }).kvs.map((kv) => `${kv.key}@${kv.modRevision}`),
    ['a@3'],
  );
  assert.deepEqual(
    s.range(ALL, ALL, { rev: 7 }).kvs.map((kv) => `${kv.key}@${kv.modRevision}`),
    ['a@6', 'c@7'],
  );
  await s.close();
  // kept: a@3 (latest <= 5), everything after 5; removed: a@2, b@4, b@5 tombstone
  assert.deepEqual(storedRevisions(dir), ['3', '6', '7', '8t']);
  const s2 = await openStore(t, dir);
  assert.equal(s2.compactRev, 5);
  await s2.compact(8).done;
  assert.equal(s2.rev, 8);
  await s2.close();
  assert.deepEqual(storedRevisions(dir), ['6']);
  const s3 = await openStore(t, dir);
  assert.equal(s3.rev, 8, 'the revision survives even when its records were compacted away');
  assert.equal(s3.compactRev, 8);
  assert.equal(put(s3, 9, ['d', '1']), 9);
});

test('an interrupted compaction is finished on open', async (t) => {
  const dir = tmp(t);
  const s = await MvccStore.open({ dir });
  for (let i = 1; i <= 50; i++) put(s, i, [`k${i % 5}`, `v${i}`]);
  await s.commit();
  await s.close();
  // Simulate a crash right after the compaction was scheduled: mark it scheduled, not finished.
  const { env, db: meta } = openLmdb(dir, 'meta');
  const rev = Buffer.alloc(8);
  rev.writeUInt32BE(40, 4);
  await meta.put(Buffer.from('scheduledCompactRev'), rev);
  await env.close();
  assert.equal(storedRevisions(dir).length, 50);
  const s2 = await MvccStore.open({ dir });
  assert.equal(s2.compactRev, 40);
  assert.throws(() => s2.range(b('k1'), undefined, { rev: 39 }), {
    message: 'mvcc: required revision has been compacted',
  });
  await s2.hashKV(0); // waits for running compactions
  await s2.close();
  // txn i put k(i % 5) at revision i + 1: each key keeps its latest revision <= 40 (36..40),
  // and all of 41..51 stay
  const left = storedRevisions(dir).map(Number);
  assert.deepEqual(left, [36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51]);
});

test('a process killed during compaction finishes it on the next open', async (t) => {
  const dir = tmp(t);
  const out = runUntilKilled(
    join(dir, 'compactor.mjs'),
    join(dir, 'data'),
    `let ci = 0;
for (let round = 0; round < 2; round++) {
  for (let i = 0; i < 30000; i += 500) {
    const txn = s.write(++ci);
    for (let j = i; j < i + 500; j++) txn.put(Buffer.from('key' + j), Buffer.from('r' + round), 0n);
    txn.end();
  }
}
await s.commit();
let finished = false;
s.compact(s.rev).done.then(() => { finished = true; });
await s.commit(); // the scheduled compaction is durable; some steps may have run meanwhile
console.log(finished ? 'finished' : 'interrupted');
`,
  );
  assert.equal(out.trim(), 'interrupted', 'the kill came too late to test resumption');
  const data = join(dir, 'data');
  const s = await MvccStore.open({ dir: data });
  assert.equal(s.rev, 121);
  assert.equal(s.compactRev, 121);
  await s.hashKV(0); // waits for the resumed compaction
  const all = s.range(ALL, ALL);
  assert.equal(all.count, 30000);
  assert.ok(all.kvs.every((kv) => kv.value.toString() === 'r1' && kv.version === 2n));
  await s.close();
  const stored = storedRevisions(data);
  assert.equal(stored.length, 30000, 'only the second-round records remain');
  assert.ok(stored.every((rev) => Number(rev) > 61));
});

test('equal histories hash equal whatever the physical compaction progress', async (t) => {
  const a = await openStore(t);
  const c = await openStore(t);
  for (const s of [a, c]) {
    for (let i = 1; i <= 200; i++) {
      const txn = s.write(i);
      txn.put(b(`k${i % 13}`), b(`v${i}`), 0n);
      if (i % 17 === 0) txn.deleteRange(b('k1'), b('k2'));
      txn.end();
    }
  }
  assert.deepEqual(await a.hash(), await c.hash());
  const { done } = a.compact(150);
  const hc = c.compact(150);
  const [ha, hb] = await Promise.all([a.hashKV(180), c.hashKV(180)]); // hashKV waits for compaction
  await Promise.all([done, hc.done]);
  assert.deepEqual(ha, hb);
  assert.deepEqual(ha.compactRevision, 150);
  assert.deepEqual(ha.revision, 180);
  put(c, 201, ['x', 'different']);
  put(a, 201, ['x', 'other']);
  assert.notEqual((await a.hashKV(0)).hash, (await c.hashKV(0)).hash);
  assert.deepEqual(await a.hashKV(180), ha, 'later writes do not change a past hash');
});

test('a large compaction runs in steps without blocking the event loop', async (t) => {
  const s = await openStore(t);
  const n = 60_000;
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < n; i += 1000) {
      const txn = s.write(round * n + i + 1);
      for (let j = i; j < i + 1000; j++) txn.put(b(`key${j}`), b(`r${round}`), 0n);
      txn.end();
    }
  }
  await s.commit();
  // Count event-loop turns while the compaction runs: a compaction done in one synchronous pass
  // would let none through. (Turns, not wall-clock gaps, so a loaded machine cannot flake it.)
  let turns = 0;
  let ticking = true;
  const tick = (): void => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  await s.compact(s.rev).done;
  ticking = false;
  assert.equal(s.range(ALL, ALL, { countOnly: true }).count, n);
  assert.equal(s.range(b('key123'), undefined).kvs[0]!.value.toString(), 'r1');
  const steps = Math.floor(n / COMPACT_KEYS_PER_STEP);
  assert.ok(turns >= steps, `only ${turns} event-loop turns during compaction of ${n} keys`);
});

test('dbSize reports lmdb pages; compaction frees pages in use', async (t) => {
  const s = await openStore(t);
  for (let i = 0; i < 20; i++) {
    const txn = s.write(i + 1);
    for (let j = 0; j < 100; j++) txn.put(b(`k${j}`), Buffer.alloc(1000, i), 0n);
    txn.end();
  }
  await s.commit();
  const size = s.dbSize();
  assert.ok(size >= 2_000_000, `db size ${size}`);
  assert.ok(s.dbSizeInUse() <= size);
  assert.ok(s.dbSizeInUse() > 1_800_000);
  await s.compact(s.rev).done;
  assert.ok(s.dbSize() >= size, 'lmdb never shrinks the file');
  assert.ok(s.dbSizeInUse() < s.dbSize() / 5, `in use after compaction ${s.dbSizeInUse()} of ${size}`);
});
