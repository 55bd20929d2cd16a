// Goal: the key index persisted in lmdb (index-store.ts) makes opening a store cheap and stays
// exact: a reopen reads no revision records (nothing is rebuilt), a store written without the
// persisted index (an older store or an import) gets it built once on open with identical reads,
// the live-key count survives restarts, the in-memory layer empties once lmdb has every change,
// and keys longer than lmdb's longest key keep their order and history across restarts.
// Method: stores in fresh temp dirs; the open log line says whether the index was built; the
// persisted index of a closed store is erased through lmdb directly to fake an older store.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { open } from 'lmdb';
import { tempDirFor } from '../../test/helpers/util.js';
import { MvccStore } from './index.js';
import { INDEX_KEY_BYTES_MAX } from './index-store.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ALL = Buffer.from([0]);

const tmp = (t: TestContext): string => tempDirFor(t, 'mvcc-index-test-');

/** Opens the store in `dir`, returning it and whether its open built the key index. */
async function openLogged(dir: string): Promise<{ s: MvccStore; built: boolean }> {
  let built: boolean | undefined;
  const logger = {
    info: (obj: unknown, msg?: string) => {
      if (msg === 'mvcc: opened store') built = (obj as { indexBuilt: boolean }).indexBuilt;
    },
    warn: () => {},
    error: () => {},
  };
  const s = await MvccStore.open({ dir, sync: false, logger });
  assert.notEqual(built, undefined, 'open logs whether it built the index');
  return { s, built: built === true };
}

/** Writes a history with overwrites, deletes, long keys and a compaction; returns the store. */
async function history(dir: string): Promise<MvccStore> {
  const { s } = await openLogged(dir);
  const long = (c: string, n: number) => `${'L'.repeat(INDEX_KEY_BYTES_MAX)}${c.repeat(n)}`;
  let ci = 0;
  for (let i = 0; i < 400; i++) {
    const txn = s.write(++ci);
    txn.put(b(`k${i % 53}`), b(`v${i}`), 0n);
    if (i % 9 === 0) txn.put(b(long('x', (i % 3) + 1)), b(`long${i}`), 0n);
    if (i % 13 === 0) txn.deleteRange(b(`k${(i * 7) % 53}`), b(`k${(i * 7) % 53}~`));
    if (i % 50 === 0) txn.deleteRange(b(long('x', 1)), undefined);
    txn.end();
    if (i === 250) {
      await s.commit();
      await s.compact(s.rev - 20).done;
    }
  }
  await s.commit();
  return s;
}

/** Everything a reader can see: every revision's full range, counts, and the live-key count. */
function view(s: MvccStore): unknown {
  const out: unknown[] = [s.rev, s.compactRev, s.keysTotal];
  for (let r = Math.max(1, s.compactRev); r <= s.rev; r += 5) {
    out.push(
      s.range(ALL, ALL, { rev: r }).kvs.map((kv) => [kv.key.length, kv.key.subarray(-4), kv.modRevision]),
    );
    out.push(s.range(b('k2'), b('k4'), { rev: r, countOnly: true }).count);
    out.push(s.range(b('L'), ALL, { rev: r, limit: 2 }).kvs.map((kv) => kv.key.length));
  }
  return out;
}

test('a reopen builds nothing and sees the same store; the in-memory layer empties', async (t) => {
  const dir = tmp(t);
  const s = await history(dir);
  const before = view(s);
  const hash = await s.hashKV(0);
  // only the long keys (3 of them, one deleted and re-put) stay in memory once lmdb has it all
  assert.ok(s.indexEntriesInMemory <= 3, `in-memory entries: ${s.indexEntriesInMemory}`);
  await s.close();
  const { s: s2, built } = await openLogged(dir);
  t.after(() => s2.close());
  assert.equal(built, false, 'the index was persisted, not rebuilt');
  assert.deepEqual(view(s2), before);
  assert.deepEqual(await s2.hashKV(0), hash);
});

test('a store without the persisted index gets it built once on open', async (t) => {
  const dir = tmp(t);
  const s = await history(dir);
  const before = view(s);
  await s.close();
  // fake a store written before the index was persisted: drop both index databases' records
  const env = open<Buffer, Buffer>({
    path: join(dir, 'db'),
    maxDbs: 8,
    keyEncoding: 'binary',
    encoding: 'binary',
  });
  for (const name of ['index', 'index-aux']) {
    const db = env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' });
    await db.clearAsync();
  }
  await env.close();
  const { s: s2, built } = await openLogged(dir);
  assert.equal(built, true);
  assert.deepEqual(view(s2), before);
  await s2.close();
  const { s: s3, built: again } = await openLogged(dir);
  t.after(() => s3.close());
  assert.equal(again, false, 'built once');
  assert.deepEqual(view(s3), before);
});
