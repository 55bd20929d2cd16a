// Goal: the inline fdatasync (WalOptions.syncInlineEntriesMax, a small batch made durable with a
// synchronous fdatasync on the event loop instead of through the thread pool) keeps the WAL's
// promise: a save resolves only once it is durable, an fsync error fails the WAL closed, and
// larger batches still take the asynchronous path.
// Method: the simulated file system (SimFs, `inlineSync` on) counts both kinds of fdatasync; power
// cuts at random moments throw away everything not made durable, and a reopen must hold every
// acknowledged entry. Breaking the inline path so it acknowledges without its fdatasync fails the
// power-cut test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../pkg/rng.js';
import type { Entry } from '../raft/types.js';
import { WalError } from './errors.js';
import { SimFs } from './fs-faulty.js';
import { SYNC_INLINE_STREAK, Wal, type WalOptions } from './wal.js';

const META = { memberId: 7n, clusterId: 9n };
const DIR = '/d/member/wal';

function ent(index: number, term: number, size = 48): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 7 + term * 31 + i) & 0xff;
  return { term, index, type: 0, data };
}

function inlineFs(seed: number): SimFs {
  const fs = new SimFs(new SeededRng(seed));
  fs.inlineSync = true;
  return fs;
}

test('one-entry saves take the inline fdatasync after a streak of them; bigger batches the thread pool', async () => {
  const fs = inlineFs(1);
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 64 * 1024, syncInlineEntriesMax: 1 });
  // fdatasyncs through the thread pool (the WAL's, and the next segment's preparation's)
  const pooled = () => fs.counts.datasync - fs.counts.datasyncNow;
  const warm = SYNC_INLINE_STREAK - 1;
  for (let i = 1; i <= 10; i++) await wal.save({ term: 1, vote: 1n, commit: i - 1 }, [ent(i, 1)]);
  assert.equal(fs.counts.datasyncNow, 10 - warm);
  // a hard-state-only save (a vote) is a batch of zero entries: inline too
  await wal.save({ term: 2, vote: 1n, commit: 10 }, []);
  assert.equal(fs.counts.datasyncNow, 11 - warm);
  // three entries in one save: through the pool, and the streak starts again
  let p0 = pooled();
  await wal.save(undefined, [ent(11, 2), ent(12, 2), ent(13, 2)]);
  assert.equal(fs.counts.datasyncNow, 11 - warm);
  assert.ok(pooled() > p0);
  for (let i = 14; i < 14 + warm; i++) await wal.save(undefined, [ent(i, 2)]);
  assert.equal(fs.counts.datasyncNow, 11 - warm, 'not inline until the streak is long enough again');
  await wal.save(undefined, [ent(14 + warm, 2)]);
  assert.equal(fs.counts.datasyncNow, 12 - warm);
  // two saves queued in one turn form one batch of two entries: through the pool
  p0 = pooled();
  const next = 15 + warm;
  await Promise.all([wal.save(undefined, [ent(next, 2)]), wal.save(undefined, [ent(next + 1, 2)])]);
  assert.equal(fs.counts.datasyncNow, 12 - warm);
  assert.ok(pooled() > p0);
  await wal.close();
  const r = await Wal.open(DIR, { fs });
  assert.equal(r.entries.length, next + 1);
  await r.wal.close();
});

test('off by default: a WAL without syncInlineEntriesMax never syncs inline', async () => {
  const fs = inlineFs(2);
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 64 * 1024 });
  for (let i = 1; i <= 5; i++) await wal.save(undefined, [ent(i, 1)]);
  assert.equal(fs.counts.datasyncNow, 0);
  await wal.close();
});

test('EIO on the inline fdatasync: the save rejects, the WAL is failed, acknowledged saves survive', async () => {
  const fs = inlineFs(3);
  const opts: WalOptions = { fs, segmentBytes: 64 * 1024, syncInlineEntriesMax: 1 };
  const wal = await Wal.create(DIR, META, opts);
  for (let i = 1; i <= 5; i++) await wal.save({ term: 1, vote: 1n, commit: i - 1 }, [ent(i, 1)]);
  const inlineBefore = fs.counts.datasyncNow;
  assert.ok(inlineBefore > 0);
  fs.faults.failFsync = () => 'EIO';
  await assert.rejects(
    wal.save(undefined, [ent(6, 1)]),
    (e: unknown) => e instanceof WalError && e.code === 'fsync-failed',
  );
  assert.equal(fs.counts.datasyncNow, inlineBefore + 1, 'the failing fdatasync was the inline one');
  fs.faults.failFsync = undefined;
  await assert.rejects(
    wal.save(undefined, [ent(6, 1)]),
    (e: unknown) => e instanceof WalError && e.code === 'failed',
  );
  await wal.close();
  fs.crash();
  const r = await Wal.open(DIR, opts);
  assert.deepEqual(
    r.entries.slice(0, 5),
    [1, 2, 3, 4, 5].map((i) => ent(i, 1)),
  );
  await r.wal.close();
});

test('power cuts after inline-synced saves: every acknowledged entry is recovered', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rng = new SeededRng(seed * 977);
    const fs = inlineFs(seed);
    const opts: WalOptions = { fs, segmentBytes: 4096 + rng.int(3) * 4096, syncInlineEntriesMax: 1 };
    let wal = await Wal.create(DIR, META, opts);
    const acked: Entry[] = [];
    let next = 1;
    for (let epoch = 1; epoch <= 4; epoch++) {
      if (epoch > 1) {
        const r = await Wal.open(DIR, opts);
        for (const e of acked)
          assert.deepEqual(r.entries[e.index - 1], e, `seed ${seed}: entry ${e.index} lost`);
        wal = r.wal;
        next = r.entries.length + 1;
      }
      // one writer, one entry at a time: every save is an inline one
      const saves = 1 + rng.int(40);
      for (let i = 0; i < saves; i++) {
        const e = ent(next, epoch, 16 + rng.int(300));
        await wal.save({ term: epoch, vote: 1n, commit: next - 1 }, [e]);
        acked[e.index - 1] = e;
        acked.length = e.index;
        next++;
      }
      // a write that is never acknowledged, then the power goes
      void wal.save(undefined, [ent(next, epoch)]).catch(() => {});
      fs.crash();
    }
    const last = await Wal.open(DIR, opts);
    for (const e of acked)
      assert.deepEqual(last.entries[e.index - 1], e, `seed ${seed}: entry ${e.index} lost`);
    assert.ok(fs.counts.datasyncNow > 10, `seed ${seed}: the inline path was not taken`);
    await last.wal.close();
  }
});
