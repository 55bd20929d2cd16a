// Goal: the WAL's contract on a healthy disk — saves are durable and replay returns exactly what
// was saved (including conflict truncation, snapshot markers and segment cuts); concurrent saves
// share one write + fdatasync; slow fsyncs are logged and every fsync is observed; a torn tail
// is repaired and logged; damage before the tail refuses to start with a typed error.
// Method: the simulated file system (SimFs) for most cases, with a seeded model-based property
// test mirrored in RaftLogStorage; one smoke test on the real file system in a fresh temp dir.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { SeededRng } from '../pkg/rng.js';
import type { Entry, HardState } from '../raft/types.js';
import { WalError } from './errors.js';
import { SimFs } from './fs-faulty.js';
import { RaftLogStorage } from './raft-log-storage.js';
import { Wal } from './wal.js';

const META = { memberId: 0x1111n, clusterId: 0x2222n };
const DIR = '/data/member/wal';

function ent(index: number, term: number, size = 32): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { term, index, type: 0, data };
}

function hs(term: number, commit: number, vote = 1n): HardState {
  return { term, vote, commit };
}

function logs(): {
  warn: [object, string][];
  info: [object, string][];
  logger: { warn: (o: object, m: string) => void; info: (o: object, m: string) => void };
} {
  const warn: [object, string][] = [];
  const info: [object, string][] = [];
  return { warn, info, logger: { warn: (o, m) => warn.push([o, m]), info: (o, m) => info.push([o, m]) } };
}

test('save then reopen returns metadata, hard state and entries', async () => {
  const fs = new SimFs(new SeededRng(1));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 64 * 1024 });
  await wal.save(hs(1, 0), [ent(1, 1), ent(2, 1)]);
  await wal.save(hs(1, 2), [ent(3, 1)]);
  await wal.close();
  fs.crash(); // everything acknowledged was synced: a power cut loses nothing
  const r = await Wal.open(DIR, { fs, segmentBytes: 64 * 1024 });
  assert.deepEqual(r.metadata, META);
  assert.deepEqual(r.hardState, hs(1, 2));
  assert.deepEqual(r.entries, [ent(1, 1), ent(2, 1), ent(3, 1)]);
  assert.equal(r.snapshot, undefined);
  assert.equal(r.repaired, undefined);
  await r.wal.save(undefined, [ent(4, 2)]);
  await r.wal.close();
  const r2 = await Wal.open(DIR, { fs, segmentBytes: 8192 });
  assert.deepEqual(
    r2.entries.map((e) => e.index),
    [1, 2, 3, 4],
  );
  await r2.wal.close();
});

test('create refuses a directory that already holds a WAL; open refuses an empty one', async () => {
  const fs = new SimFs(new SeededRng(2));
  await (await Wal.create(DIR, META, { fs, segmentBytes: 8192 })).close();
  await assert.rejects(
    Wal.create(DIR, META, { fs, segmentBytes: 8192 }),
    (e: unknown) => e instanceof WalError && e.code === 'exists',
  );
  await fs.mkdirp('/empty');
  await assert.rejects(
    Wal.open('/empty', { fs }),
    (e: unknown) => e instanceof WalError && e.code === 'not-found',
  );
});

test('group commit: saves queued during an fsync share the next single write + fdatasync', async () => {
  const fs = new SimFs(new SeededRng(3));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 1024 * 1024, preallocate: false });
  let release: (() => void) | undefined;
  const held = new Promise<void>((r) => (release = r));
  let syncs = 0;
  fs.faults.syncDelay = () => (++syncs === 1 ? held : Promise.resolve());
  const writes0 = fs.counts.write;
  const syncs0 = fs.counts.datasync;
  const first = wal.save(hs(1, 0), [ent(1, 1)]);
  // Let the first batch reach its fdatasync, then queue 100 more saves behind it.
  const deadline = Date.now() + 5000;
  while (syncs === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(syncs, 1);
  const rest: Promise<void>[] = [];
  for (let i = 2; i <= 101; i++) rest.push(wal.save(hs(1, i - 1), [ent(i, 1)]));
  release!();
  await first;
  await Promise.all(rest);
  assert.equal(fs.counts.write - writes0, 2, 'one write per batch');
  assert.equal(fs.counts.datasync - syncs0, 2, 'one fdatasync per batch');
  await wal.close();
  const r = await Wal.open(DIR, { fs, segmentBytes: 8192 });
  assert.equal(r.entries.length, 101);
  assert.deepEqual(r.hardState, hs(1, 100));
  await r.wal.close();
});

test('every fsync is observed; a slow one is logged as etcd does', async () => {
  const fs = new SimFs(new SeededRng(4));
  const seen: number[] = [];
  const l = logs();
  let clock = 0;
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 8192 });
  await wal.close();
  // A clock that advances 1.5 s per reading makes every fdatasync look slow.
  const r = await Wal.open(DIR, {
    fs,
    segmentBytes: 8192,
    logger: l.logger,
    onFsync: (s) => seen.push(s),
    now: () => (clock += 1500),
  });
  await r.wal.save(hs(1, 0), [ent(1, 1)]);
  await r.wal.save(hs(1, 1), [ent(2, 1)]);
  assert.deepEqual(seen, [1.5, 1.5]);
  assert.equal(l.warn.filter(([, m]) => m === 'slow fdatasync').length, 2);
  await r.wal.close();
});

test('property: replay equals a model log under appends with conflicts, hard states, markers and cuts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), async (seed) => {
      const rng = new SeededRng(seed);
      const fs = new SimFs(rng);
      const opts = { fs, segmentBytes: 4096, maxWals: 2 };
      let wal = await Wal.create(DIR, META, opts);
      const model = new RaftLogStorage();
      let term = 1;
      let commit = 0;
      let snapIndex = 0;
      let last = 0;
      for (let step = 0; step < 60; step++) {
        const roll = rng.int(10);
        if (roll < 6) {
          // Append 1-4 entries, sometimes rewriting uncommitted ones (conflict truncation).
          const from = last > commit && rng.int(3) === 0 ? commit + 1 + rng.int(last - commit) : last + 1;
          if (from <= last) term++;
          const es = Array.from({ length: 1 + rng.int(4) }, (_, i) => ent(from + i, term, rng.int(200)));
          commit = Math.min(commit + rng.int(3), from - 1);
          const h = hs(term, commit);
          await wal.save(h, es);
          model.append(es);
          model.setHardState(h);
          last = es[es.length - 1]!.index;
        } else if (roll < 7 && commit > snapIndex) {
          snapIndex = commit;
          const meta = {
            index: snapIndex,
            term: model.term(snapIndex),
            confState: { voters: [1n], learners: [] },
          };
          await wal.saveSnapshot(meta);
          model.createSnapshot(snapIndex, meta.confState, new Uint8Array([1]));
          await wal.releaseTo(snapIndex);
        } else if (roll < 8) {
          await wal.close();
          fs.crash();
          wal = (await Wal.open(DIR, opts)).wal;
        } else {
          const h = hs(term, commit, BigInt(rng.int(3)));
          await wal.save(h, []);
          model.setHardState(h);
        }
      }
      await wal.close();
      fs.crash();
      const r = await Wal.open(DIR, opts);
      assert.equal(r.repaired, undefined);
      assert.deepEqual(r.hardState, model.initialState().hardState);
      assert.equal(r.snapshot?.index ?? 0, snapIndex);
      const want = last > snapIndex ? model.entries(snapIndex + 1, last + 1, Number.POSITIVE_INFINITY) : [];
      assert.deepEqual(r.entries, want);
      assert.ok(r.wal.segmentNames().length >= 1);
      await r.wal.close();
    }),
    { numRuns: 30 },
  );
});

test('segments are cut when full, named seq-index, and released segments are purged beyond maxWals', async () => {
  const fs = new SimFs(new SeededRng(5));
  const l = logs();
  const opts = { fs, segmentBytes: 4096, maxWals: 2, logger: l.logger };
  const wal = await Wal.create(DIR, META, opts);
  for (let i = 1; i <= 100; i++) await wal.save(hs(1, i - 1), [ent(i, 1, 100)]);
  const names = wal.segmentNames();
  assert.ok(names.length >= 4, `expected several segments, got ${names.length}`);
  assert.equal(names[0], '0000000000000000-0000000000000000.wal');
  for (let i = 1; i < names.length; i++) {
    assert.match(names[i]!, new RegExp(`^${i.toString(16).padStart(16, '0')}-[0-9a-f]{16}\\.wal$`));
  }
  // Without a snapshot marker nothing may be released.
  assert.deepEqual(await wal.releaseTo(100), []);
  await wal.saveSnapshot({ index: 90, term: 1, confState: { voters: [1n], learners: [] } });
  const deleted = await wal.releaseTo(90);
  assert.ok(deleted.length > 0);
  assert.equal(wal.segmentNames().length, Math.max(2, names.length - deleted.length));
  assert.deepEqual(
    (await fs.readdir(DIR)).filter((n) => n.endsWith('.wal')),
    wal.segmentNames(),
  );
  await wal.close();
  const r = await Wal.open(DIR, opts);
  assert.equal(r.snapshot?.index, 90);
  assert.deepEqual(
    r.entries.map((e) => e.index),
    [91, 92, 93, 94, 95, 96, 97, 98, 99, 100],
  );
  assert.deepEqual(r.hardState, hs(1, 99));
  await r.wal.close();
});

test('a torn last record is truncated and logged; later saves and replays are clean', async () => {
  const fs = new SimFs(new SeededRng(6));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 8192 });
  for (let i = 1; i <= 5; i++) await wal.save(undefined, [ent(i, 1)]);
  await wal.close();
  const path = `${DIR}/0000000000000000-0000000000000000.wal`;
  const bytes = fs.peek(path);
  let end = bytes.length;
  while (bytes[end - 1] === 0) end--;
  fs.poke(path, end - 3, new Uint8Array([0xaa])); // damage the last record only
  const l = logs();
  const r = await Wal.open(DIR, { fs, segmentBytes: 8192, logger: l.logger });
  assert.ok(r.repaired);
  assert.equal(r.repaired.file, path);
  assert.deepEqual(
    r.entries.map((e) => e.index),
    [1, 2, 3, 4],
  );
  assert.ok(l.warn.some(([, m]) => m.includes('torn tail')));
  await r.wal.save(undefined, [ent(5, 2)]);
  await r.wal.close();
  const r2 = await Wal.open(DIR, { fs, segmentBytes: 8192 });
  assert.equal(r2.repaired, undefined);
  assert.deepEqual(r2.entries.at(-1), ent(5, 2));
  await r2.wal.close();
});

test('damage before the tail refuses to start with a typed error naming file and offset', async () => {
  const fs = new SimFs(new SeededRng(7));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 8192 });
  for (let i = 1; i <= 5; i++) await wal.save(undefined, [ent(i, 1)]);
  await wal.close();
  const path = `${DIR}/0000000000000000-0000000000000000.wal`;
  const bytes = fs.peek(path);
  // Find the second entry's frame: scan for its data pattern and flip a byte in it.
  const needle = ent(2, 1).data;
  let at = -1;
  for (let i = 0; i < bytes.length - needle.length && at < 0; i++) {
    if (needle.every((b, k) => bytes[i + k] === b)) at = i;
  }
  assert.ok(at > 0);
  fs.poke(path, at + 4, new Uint8Array([bytes[at + 4]! ^ 0x10]));
  await assert.rejects(Wal.open(DIR, { fs, segmentBytes: 8192 }), (e: unknown) => {
    assert.ok(e instanceof WalError);
    assert.equal(e.code, 'corrupt');
    assert.equal(e.file, path);
    assert.ok(typeof e.offset === 'number' && e.offset < at && e.offset > 0);
    assert.match(e.message, /corrupt record in .* at offset \d+/);
    return true;
  });
});

test('save contract: gaps are refused, conflicting appends replace the tail', async () => {
  const fs = new SimFs(new SeededRng(8));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 8192 });
  await wal.save(undefined, [ent(1, 1), ent(2, 1), ent(3, 1)]);
  await assert.rejects(
    wal.save(undefined, [ent(5, 1)]),
    (e: unknown) => e instanceof WalError && e.code === 'out-of-order',
  );
  await wal.save(undefined, [ent(2, 2)]);
  await wal.close();
  const r = await Wal.open(DIR, { fs, segmentBytes: 8192 });
  assert.deepEqual(r.entries, [ent(1, 1), ent(2, 2)]);
  await r.wal.close();
  await assert.rejects(
    r.wal.save(undefined, [ent(3, 2)]),
    (e: unknown) => e instanceof WalError && e.code === 'closed',
  );
});

test('real file system: create, save, reopen in a fresh temp dir', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsetcd-wal-'));
  try {
    const walDir = join(dir, 'member', 'wal');
    const wal = await Wal.create(walDir, META, { segmentBytes: 64 * 1024 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => wal.save(hs(1, i), [ent(i + 1, 1)])));
    await wal.close();
    const r = await Wal.open(walDir, { segmentBytes: 64 * 1024 });
    assert.equal(r.entries.length, 50);
    assert.deepEqual(r.entries[49], ent(50, 1));
    await r.wal.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('releaseTo is clamped to the newest durable snapshot marker; maxWals 0 keeps every file', async () => {
  const fs = new SimFs(new SeededRng(9));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 4096, maxWals: 0 });
  for (let i = 1; i <= 60; i++) await wal.save(hs(1, i - 1), [ent(i, 1, 100)]);
  const n = wal.segmentNames().length;
  assert.ok(n >= 3);
  await wal.saveSnapshot({ index: 50, term: 1, confState: { voters: [1n], learners: [] } });
  assert.deepEqual(await wal.releaseTo(60), [], 'maxWals 0 keeps every segment');
  await assert.rejects(
    wal.saveSnapshot({ index: 40, term: 1, confState: { voters: [1n], learners: [] } }),
    (e: unknown) => e instanceof WalError && e.code === 'out-of-order',
  );
  await wal.close();

  const fs2 = new SimFs(new SeededRng(10));
  const w2 = await Wal.create(DIR, META, { fs: fs2, segmentBytes: 4096, maxWals: 1 });
  for (let i = 1; i <= 60; i++) await w2.save(hs(1, i - 1), [ent(i, 1, 100)]);
  await w2.saveSnapshot({ index: 10, term: 1, confState: { voters: [1n], learners: [] } });
  // Asked to release up to 60, it releases only up to the marker at 10: entries 11.. stay.
  await w2.releaseTo(60);
  await w2.close();
  const r = await Wal.open(DIR, { fs: fs2, segmentBytes: 4096 });
  assert.equal(r.snapshot?.index, 10);
  assert.deepEqual(
    r.entries.map((e) => e.index),
    Array.from({ length: 50 }, (_, i) => i + 11),
  );
  await r.wal.close();
});
