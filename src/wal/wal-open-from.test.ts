// Goal: Wal.open's `fromIndex` (the newest snapshot file's index, passed at restart) skips the
// segments that hold only entries the newest snapshot marker covers, and never an entry it does not
// cover. Method: the simulated file system; a WAL cut into many small segments; replays with and
// without `fromIndex` compared field by field. That the old segments are really not read is shown
// by damaging one: the skipping replay opens, the full one refuses. Checked to fail: with
// `fromIndex` ignored, the segmentsRead and damaged-segment assertions fail; with the
// marker-coverage fallback removed, the "snapshot file without a marker" case loses entries 51..58.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../pkg/rng.js';
import type { Entry, HardState } from '../raft/types.js';
import { SimFs } from './fs-faulty.js';
import { Wal } from './wal.js';

const META = { memberId: 0x1111n, clusterId: 0x2222n };
const DIR = '/data/member/wal';
const CONF = { voters: [1n], learners: [] };

function ent(index: number, term: number): Entry {
  const data = new Uint8Array(100);
  for (let i = 0; i < data.length; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { term, index, type: 0, data };
}
const hs = (term: number, commit: number): HardState => ({ term, vote: 1n, commit });

/** A WAL of entries 1..100 in 4 KiB segments (all kept), snapshot markers at `markers`. */
async function build(markers: number[]): Promise<{ fs: SimFs; segments: string[] }> {
  const fs = new SimFs(new SeededRng(11));
  const wal = await Wal.create(DIR, META, { fs, segmentBytes: 4096, maxWals: 0 });
  for (let i = 1; i <= 100; i++) {
    await wal.save(hs(2, i - 1), [ent(i, 2)]);
    if (markers.includes(i)) await wal.saveSnapshot({ index: i, term: 2, confState: CONF });
  }
  const segments = wal.segmentNames();
  await wal.close();
  return { fs, segments };
}

test('open from the newest snapshot reads only the segments after it, with the same result', async () => {
  const { fs, segments } = await build([40, 90]);
  assert.ok(segments.length >= 5, `segments: ${segments.length}`);
  const opts = { fs, segmentBytes: 4096, maxWals: 0 };
  const full = await Wal.open(DIR, opts);
  await full.wal.close();
  const from = await Wal.open(DIR, opts, { fromIndex: 90 });
  await from.wal.close();
  assert.equal(full.segmentsRead, segments.length);
  assert.ok(from.segmentsRead <= 2, `read ${from.segmentsRead} of ${segments.length}`);
  assert.deepEqual(from.snapshot, full.snapshot);
  assert.equal(from.snapshot?.index, 90);
  assert.deepEqual(from.hardState, full.hardState);
  assert.deepEqual(from.metadata, full.metadata);
  assert.deepEqual(from.entries, full.entries);
  assert.deepEqual(
    from.entries.map((e) => e.index),
    Array.from({ length: 10 }, (_, i) => 91 + i),
  );
  // The first segment is not read at all: damage there stops only the full replay.
  const first = `${DIR}/${segments[0]}`;
  const b = fs.peek(first);
  fs.poke(first, 200, new Uint8Array([b[200]! ^ 0xff]));
  await assert.rejects(Wal.open(DIR, opts), /corrupt record/);
  const again = await Wal.open(DIR, opts, { fromIndex: 90 });
  assert.deepEqual(again.entries, full.entries);
  // Appends continue after the skipping open, and a later full replay sees them in order.
  await again.wal.save(hs(2, 100), [ent(101, 2)]);
  await again.wal.close();
  fs.poke(first, 200, new Uint8Array([b[200]!]));
  const after = await Wal.open(DIR, opts);
  await after.wal.close();
  assert.deepEqual(
    after.entries.map((e) => e.index),
    Array.from({ length: 11 }, (_, i) => 91 + i),
  );
});

test('a snapshot file newer than every WAL marker: the replay falls back to every segment', async () => {
  // The .snap at 95 was saved but the crash came before its WAL marker: the newest marker is 50.
  const { fs, segments } = await build([50]);
  const opts = { fs, segmentBytes: 4096, maxWals: 0 };
  const r = await Wal.open(DIR, opts, { fromIndex: 95 });
  await r.wal.close();
  assert.equal(r.segmentsRead, segments.length);
  assert.equal(r.snapshot?.index, 50);
  assert.deepEqual(
    r.entries.map((e) => e.index),
    Array.from({ length: 50 }, (_, i) => 51 + i),
  );
});
