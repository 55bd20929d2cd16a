// Goal: MvccStore.copyLive (defragment while writes go on) yields a store identical to the
// original after writes made before, during and after the copy, including a compaction and keys
// longer than lmdb's longest key: same revision, compact revision, consistent index, live keys,
// every revision's range and HashKV. A copy overwhelmed by writes gives up (finish() -> undefined).
// Method: a store in a temp dir; writes interleaved with the copy's awaits; the copy is opened as
// a store of its own and compared read by read.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { tempDirFor } from '../../test/helpers/util.js';
import { MvccStore } from './index.js';
import { LIVE_COPY_RECORDED_BYTES_MAX } from './store.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ALL = Buffer.from([0]);

const tmp = (t: TestContext): string => tempDirFor(t, 'mvcc-copy-live-');

function view(s: MvccStore): unknown {
  const out: unknown[] = [s.rev, s.compactRev, s.consistentIndex, s.keysTotal];
  for (let r = Math.max(1, s.compactRev); r <= s.rev; r += 3) {
    out.push(
      s
        .range(ALL, ALL, { rev: r })
        .kvs.map((kv) => [
          kv.key.subarray(-6).toString('latin1'),
          kv.key.length,
          kv.modRevision,
          kv.version,
          kv.value.toString(),
        ]),
    );
  }
  return out;
}

test('a live copy holds every write made before, during and after it', async (t) => {
  const dir = tmp(t);
  const s = await MvccStore.open({ dir: join(dir, 'orig'), sync: false });
  t.after(() => s.close());
  let ci = 0;
  const write = (i: number) => {
    const txn = s.write(++ci);
    txn.put(b(`k${i % 41}`), b(`v${i}`), 0n);
    if (i % 5 === 0) txn.put(b(`${'L'.repeat(2000)}${i % 3}`), b(`long${i}`), 0n);
    if (i % 11 === 0) txn.deleteRange(b(`k${(i * 3) % 41}`), undefined);
    txn.end();
  };
  for (let i = 0; i < 200; i++) write(i);
  await s.commit();
  const copying = s.copyLive(join(dir, 'copy'));
  for (let i = 200; i < 400; i++) {
    write(i);
    if (i % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  const copy = await copying;
  for (let i = 400; i < 450; i++) write(i);
  await copy.catchUp(); // part of the catching up while writes go on
  for (let i = 450; i < 500; i++) write(i);
  await s.compact(s.rev - 30).done;
  for (let i = 500; i < 520; i++) write(i);
  const file = await copy.finish();
  assert.ok(file !== undefined, 'the copy kept up');
  const want = view(s);
  const hash = await s.hashKV(0);
  mkdirSync(join(dir, 'copied', 'db'), { recursive: true });
  renameSync(file, join(dir, 'copied', 'db', 'data.mdb'));
  const c = await MvccStore.open({ dir: join(dir, 'copied'), sync: false });
  t.after(() => c.close());
  assert.deepEqual(view(c), want);
  assert.deepEqual(await c.hashKV(0), hash);
});

test('a live copy overwhelmed by writes gives up', async (t) => {
  const dir = tmp(t);
  const s = await MvccStore.open({ dir: join(dir, 'orig'), sync: false });
  t.after(() => s.close());
  const copy = await s.copyLive(join(dir, 'copy'));
  const big = Buffer.alloc(1 << 20, 1);
  for (let i = 0; i * big.length <= LIVE_COPY_RECORDED_BYTES_MAX; i++) {
    const txn = s.write(i + 1);
    txn.put(b(`big${i % 7}`), big, 0n);
    txn.end();
    if (i % 16 === 0) await s.commit();
  }
  assert.equal(await copy.finish(), undefined);
});
