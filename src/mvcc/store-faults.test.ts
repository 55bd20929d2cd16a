// Goal: the store's disk-fault seam (store-faults.ts) fails the store as a real lmdb error would and
// never reorders batches. Method: stores opened with scripted hooks: an ENOSPC before a batch and an
// EIO after one must make commit() reject with that error and the store refuse later commits; with
// random per-batch delays (a slow disk), many small batches and a compaction must leave lmdb with
// exactly what a store without faults holds (equal hashes after reopening), and a slow first batch
// must not let later fast ones overtake it. Checked to fail: with MvccStore.batch() not chaining
// batches (each waits only its own delay), reads after commit() miss the slow batch's write.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { tempDirFor } from '../../test/helpers/util.js';
import { MvccStore, type StoreFaults } from './index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const tmp = (t: TestContext): string => tempDirFor(t, 'mvcc-faults-');

function put(s: MvccStore, ci: number, k: string, v: string): void {
  const txn = s.write(ci);
  txn.put(b(k), b(v), 0n);
  txn.end();
}

const errno = (code: string) => Object.assign(new Error(`${code}: injected`), { code });

test('an injected ENOSPC or fsync EIO fails the store for good', async (t) => {
  for (const where of ['before', 'after'] as const) {
    let armed = false;
    const faults: StoreFaults = {
      beforeBatch: async () => {
        if (armed && where === 'before') throw errno('ENOSPC');
      },
      afterBatch: async () => {
        if (armed && where === 'after') throw errno('EIO');
      },
    };
    const s = await MvccStore.open({ dir: tmp(t), sync: false, faults });
    t.after(() => s.close());
    put(s, 1, 'a', '1');
    await s.commit();
    armed = true;
    put(s, 2, 'b', '2');
    await assert.rejects(s.commit(), /injected/, where);
    armed = false;
    assert.throws(() => put(s, 3, 'c', '3'), /injected/, `${where}: the store stays failed`);
    await assert.rejects(s.commit(), /injected/, `${where}: the store stays failed`);
  }
});

test('a slow disk with varying delays keeps batches in order', async (t) => {
  let n = 0;
  const slow: StoreFaults = {
    beforeBatch: () => new Promise((r) => setTimeout(r, [30, 1, 15, 0, 8][n++ % 5])),
    afterBatch: async () => {},
  };
  const hashes: string[] = [];
  for (const faults of [undefined, slow]) {
    const dir = tmp(t);
    const s = await MvccStore.open({ dir, sync: false, faults });
    let ci = 0;
    let compacted: Promise<void> | undefined;
    for (let round = 0; round < 20; round++) {
      put(s, ++ci, `k${round % 4}`, `v${round}`);
      // a batch per round, each with its own delay
      await new Promise((r) => setImmediate(r));
      if (round === 12) compacted = s.compact(s.rev - 2).done;
    }
    await compacted;
    await s.commit();
    await s.close();
    const again = await MvccStore.open({ dir, sync: false });
    const all = (await again.hash()).hash;
    hashes.push(
      `hashKV ${(await again.hashKV(0)).hash} hash ${all} ci ${again.consistentIndex} rev ${again.rev}`,
    );
    await again.close();
  }
  assert.equal(hashes[1], hashes[0]);
  assert.match(hashes[0]!, / ci 20 /);

  // A slow first batch and fast later ones: reads and the reopened store still see every write.
  const dir = tmp(t);
  let m = 0;
  const firstSlow: StoreFaults = {
    beforeBatch: () => new Promise((r) => setTimeout(r, m++ === 0 ? 60 : 0)),
    afterBatch: async () => {},
  };
  const s = await MvccStore.open({ dir, sync: false, faults: firstSlow });
  for (let i = 1; i <= 5; i++) {
    put(s, i, `x${i}`, `v${i}`);
    await new Promise((r) => setImmediate(r));
  }
  await s.commit();
  const seen = [1, 2, 3, 4, 5].filter((i) => s.range(b(`x${i}`), undefined).kvs.length === 1);
  assert.deepEqual(seen, [1, 2, 3, 4, 5], 'reads after commit() see every write');
  await s.close();
  const again = await MvccStore.open({ dir, sync: false });
  assert.equal(again.consistentIndex, 5);
  assert.equal(again.range(b('x'), b('y')).count, 5);
  await again.close();
});
