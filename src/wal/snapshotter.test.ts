// Goal: the snapshot store keeps snapshots whole or absent, finds the newest good one (setting
// damaged files aside as .broken), purges beyond maxSnapshots, and together with the WAL's
// snapshot marker and releaseTo rebuilds the same raft log storage after a restart.
// Method: SimFs-backed table tests; a fast-check round-trip and fuzz of the file codec; one
// end-to-end restart flow (snapshot -> marker -> release -> reopen -> RaftLogStorage.fromReplay).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SeededRng } from '../pkg/rng.js';
import type { Entry, Snapshot } from '../raft/types.js';
import { WalError } from './errors.js';
import { setFailpoint } from './failpoint.js';
import { SimFs } from './fs-faulty.js';
import { RaftLogStorage } from './raft-log-storage.js';
import { decodeSnapshotFile, encodeSnapshotFile, Snapshotter } from './snapshotter.js';
import { Wal } from './wal.js';

const SNAP = '/d/member/snap';

function snap(term: number, index: number, size = 100): Snapshot {
  return {
    metadata: { term, index, confState: { voters: [1n, 2n, 3n], learners: [9n] } },
    data: Uint8Array.from({ length: size }, (_, i) => (i * index + term) & 0xff),
  };
}

test('file codec: round-trip property and fuzz (never throws, never accepts damage)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.uint8Array({ maxLength: 500 }),
      fc.nat(),
      (term, index, data, at) => {
        const s: Snapshot = { metadata: { term, index, confState: { voters: [1n], learners: [] } }, data };
        const bytes = encodeSnapshotFile(s);
        assert.deepEqual(decodeSnapshotFile(bytes), s);
        const damaged = bytes.slice();
        const k = at % damaged.length;
        damaged[k] = damaged[k]! ^ 0x40;
        assert.equal(typeof decodeSnapshotFile(damaged), 'string');
        assert.equal(typeof decodeSnapshotFile(bytes.slice(0, k)), 'string');
      },
    ),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => typeof decodeSnapshotFile(b) === 'string'));
});

test('save, load, loadNewest, purge', async () => {
  const fs = new SimFs(new SeededRng(1));
  const ss = new Snapshotter(SNAP, { fs, maxSnapshots: 2 });
  assert.equal(await ss.loadNewest(), undefined);
  for (const [t, i] of [
    [1, 10],
    [2, 20],
    [2, 30],
  ] as const)
    await ss.save(snap(t, i));
  assert.deepEqual(await fs.readdir(SNAP), [
    '0000000000000001-000000000000000a.snap',
    '0000000000000002-0000000000000014.snap',
    '0000000000000002-000000000000001e.snap',
  ]);
  assert.deepEqual(await ss.loadNewest(), snap(2, 30));
  assert.deepEqual(await ss.load({ term: 1, index: 10 }), snap(1, 10));
  assert.deepEqual(await ss.loadNewest((m) => m.index <= 20), snap(2, 20));
  await assert.rejects(
    ss.load({ term: 5, index: 50 }),
    (e: unknown) => e instanceof WalError && e.code === 'no-snapshot',
  );
  assert.deepEqual(await ss.purge(), ['0000000000000001-000000000000000a.snap']);
  assert.equal((await ss.list()).length, 2);
});

test('a damaged newest snapshot is set aside as .broken and the previous one is used', async () => {
  const fs = new SimFs(new SeededRng(2));
  const warn: string[] = [];
  const ss = new Snapshotter(SNAP, { fs, logger: { warn: (_o, m) => warn.push(m), info() {} } });
  await ss.save(snap(1, 10));
  await ss.save(snap(1, 20));
  const newest = `${SNAP}/0000000000000001-0000000000000014.snap`;
  fs.poke(newest, 40, new Uint8Array([0xff]));
  await assert.rejects(
    ss.load({ term: 1, index: 20 }),
    (e: unknown) => e instanceof WalError && e.code === 'snapshot-corrupt',
  );
  assert.deepEqual(await ss.loadNewest(), snap(1, 10));
  assert.ok(await fs.exists(`${newest}.broken`));
  assert.equal(warn.length, 1);
});

test('a save interrupted before its rename leaves no .snap file', async () => {
  const fs = new SimFs(new SeededRng(3));
  const ss = new Snapshotter(SNAP, { fs });
  await ss.save(snap(1, 10));
  setFailpoint('snapBeforeRename', () => {
    throw new Error('crash');
  });
  try {
    await assert.rejects(
      ss.save(snap(1, 20)),
      (e: unknown) => e instanceof WalError && e.code === 'write-failed',
    );
  } finally {
    setFailpoint('snapBeforeRename', undefined);
  }
  fs.crash();
  assert.deepEqual(await ss.loadNewest(), snap(1, 10));
  await ss.save(snap(1, 20)); // a leftover .tmp does not block the next save
  assert.deepEqual(await ss.loadNewest(), snap(1, 20));
});

test('restart flow: snapshot + marker + release, then reopen rebuilds the same storage', async () => {
  const fs = new SimFs(new SeededRng(4));
  const opts = { fs, segmentBytes: 4096, maxWals: 1 };
  const wal = await Wal.create('/d/member/wal', { memberId: 1n, clusterId: 2n }, opts);
  const ss = new Snapshotter(SNAP, { fs });
  const live = new RaftLogStorage();
  const ent = (i: number): Entry => ({
    term: 2,
    index: i,
    type: 0,
    data: new Uint8Array(120).fill(i & 0xff),
  });
  for (let i = 1; i <= 80; i++) {
    const hs = { term: 2, vote: 1n, commit: i - 1 };
    await wal.save(hs, [ent(i)]);
    live.append([ent(i)]);
    live.setHardState(hs);
  }
  // The driver's order (etcd's): snapshot file, then WAL marker, then release and compact.
  const s = live.createSnapshot(60, { voters: [1n], learners: [] }, new Uint8Array([6, 0]));
  await ss.save(s);
  await wal.saveSnapshot(s.metadata);
  const deleted = await wal.releaseTo(60);
  assert.ok(deleted.length > 0, 'old segments released');
  live.compact(60);
  await wal.close();
  fs.crash();

  const r = await Wal.open('/d/member/wal', opts);
  assert.equal(r.snapshot?.index, 60);
  const loaded = await ss.load(r.snapshot!);
  const back = RaftLogStorage.fromReplay({ hardState: r.hardState, entries: r.entries, snapshot: loaded });
  assert.equal(back.firstIndex(), 61);
  assert.equal(back.lastIndex(), 80);
  assert.equal(back.term(60), 2);
  assert.deepEqual(
    back.entries(61, 81, Number.POSITIVE_INFINITY),
    live.entries(61, 81, Number.POSITIVE_INFINITY),
  );
  assert.deepEqual(back.initialState(), live.initialState());
  assert.deepEqual(back.snapshot(), loaded);
  await r.wal.close();
});
