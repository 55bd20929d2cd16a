// Goal: RaftLogStorage honours the Storage contract of ../raft/storage.ts (half-open ranges,
// 'compacted'/'unavailable' errors, maxBytes truncation never below one entry) and its mutators
// (append with conflict truncation, compact, applySnapshot, createSnapshot) behave as etcd's
// MemoryStorage does.
// Method: table tests over a small log whose first index is 4 (snapshot at 3), as etcd's tests use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError } from '../raft/storage.js';
import type { Entry } from '../raft/types.js';
import { WalError } from './errors.js';
import { RaftLogStorage } from './raft-log-storage.js';

const e = (index: number, term: number, size = 0): Entry => ({
  index,
  term,
  type: 0,
  data: new Uint8Array(size),
});

function base(): RaftLogStorage {
  // Snapshot at (3,3), then entries 4 and 5.
  return RaftLogStorage.fromReplay({
    hardState: { term: 5, vote: 1n, commit: 4 },
    entries: [e(4, 4, 10), e(5, 5, 10)],
    snapshot: {
      metadata: { index: 3, term: 3, confState: { voters: [1n], learners: [] } },
      data: new Uint8Array(0),
    },
  });
}

const code = (c: string) => (err: unknown) => err instanceof StorageError && err.code === c;

test('term, firstIndex, lastIndex and their errors', () => {
  const s = base();
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.lastIndex(), 5);
  assert.throws(() => s.term(2), code('compacted'));
  assert.equal(s.term(3), 3);
  assert.equal(s.term(4), 4);
  assert.equal(s.term(5), 5);
  assert.throws(() => s.term(6), code('unavailable'));
  assert.deepEqual(s.initialState().hardState, { term: 5, vote: 1n, commit: 4 });
});

test('entries: half-open ranges, errors, maxBytes truncation keeps at least one entry', () => {
  const s = base();
  assert.throws(() => s.entries(2, 6, Infinity), code('compacted'));
  assert.throws(() => s.entries(3, 4, Infinity), code('compacted'));
  assert.throws(() => s.entries(4, 7, Infinity), code('unavailable'));
  assert.deepEqual(s.entries(4, 5, Infinity), [e(4, 4, 10)]);
  assert.deepEqual(s.entries(4, 6, Infinity), [e(4, 4, 10), e(5, 5, 10)]);
  assert.deepEqual(s.entries(4, 6, 0), [e(4, 4, 10)]);
  assert.deepEqual(s.entries(4, 6, 19), [e(4, 4, 10)]);
  assert.deepEqual(s.entries(4, 6, 20), [e(4, 4, 10), e(5, 5, 10)]);
  assert.deepEqual(s.entries(5, 5, Infinity), []);
});

test('append: conflict truncation, overlap, compacted prefix ignored, gaps refused', () => {
  const table: [Entry[], [number, number][]][] = [
    [
      [e(4, 4), e(5, 5)],
      [
        [4, 4],
        [5, 5],
      ],
    ],
    [
      [e(4, 4), e(5, 6), e(6, 6)],
      [
        [4, 4],
        [5, 6],
        [6, 6],
      ],
    ],
    [
      [e(3, 3), e(4, 4), e(5, 5), e(6, 5)],
      [
        [4, 4],
        [5, 5],
        [6, 5],
      ],
    ],
    [[e(2, 3), e(3, 3), e(4, 5)], [[4, 5]]],
    [[e(4, 5)], [[4, 5]]],
    [
      [e(6, 5)],
      [
        [4, 4],
        [5, 5],
        [6, 5],
      ],
    ],
  ];
  for (const [input, want] of table) {
    const s = base();
    const before = s.entries(4, 6, Infinity);
    s.append(input);
    const got = s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity).map((x) => [x.index, x.term]);
    assert.deepEqual(got, want);
    assert.deepEqual(
      before.map((x) => [x.index, x.term]),
      [
        [4, 4],
        [5, 5],
      ],
      'arrays handed out earlier are untouched',
    );
  }
  assert.throws(
    () => base().append([e(7, 5)]),
    (x: unknown) => x instanceof WalError && x.code === 'out-of-order',
  );
});

test('compact, createSnapshot, applySnapshot', () => {
  const s = base();
  assert.throws(() => s.compact(3), code('compacted'));
  assert.throws(() => s.compact(6), code('unavailable'));
  s.compact(4);
  assert.equal(s.firstIndex(), 5);
  assert.equal(s.term(4), 4);
  const snap = s.createSnapshot(5, { voters: [1n, 2n], learners: [] }, new Uint8Array([1]));
  assert.deepEqual(snap.metadata, { index: 5, term: 5, confState: { voters: [1n, 2n], learners: [] } });
  assert.equal(s.snapshot(), snap);
  assert.throws(() => s.createSnapshot(3, { voters: [], learners: [] }, new Uint8Array(0)), WalError);
  s.applySnapshot({
    metadata: { index: 10, term: 7, confState: { voters: [1n], learners: [] } },
    data: new Uint8Array(0),
  });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 7);
  assert.throws(
    () =>
      s.applySnapshot({
        metadata: { index: 9, term: 7, confState: { voters: [], learners: [] } },
        data: new Uint8Array(0),
      }),
    (x: unknown) => x instanceof WalError && x.code === 'out-of-order',
  );
});
