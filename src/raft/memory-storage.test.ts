// Goal: MemoryStorage follows the Storage contract (half-open ranges, dummy entry at the snapshot,
// error codes) and etcd's MemoryStorage semantics for append/compact/snapshots. Method: table tests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftError } from './errors.js';
import { MemoryStorage } from './memory-storage.js';
import { StorageError } from './storage.js';
import { type Entry, EntryType } from './types.js';

const ent = (index: number, term: number, size = 1): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array(size),
});

function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof StorageError || e instanceof RaftError) return e.code;
    throw e;
  }
}

test('append, overwrite a suffix, read back with size limits', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  s.append([ent(3, 2), ent(4, 2)]);
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.equal(s.term(0), 0);
  assert.deepEqual(
    s.entries(1, 5, 100).map((e) => e.term),
    [1, 1, 2, 2],
  );
  assert.equal(s.entries(1, 5, 2).length, 2);
  assert.equal(s.entries(1, 5, 0).length, 1, 'never fewer than one entry');
  assert.equal(
    code(() => s.entries(1, 6, 100)),
    'unavailable',
  );
  assert.equal(
    code(() => s.term(5)),
    'unavailable',
  );
});

test('compact keeps the dummy entry and reports compacted ranges', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
  s.compact(2);
  assert.equal(s.firstIndex(), 3);
  assert.equal(s.term(2), 1, 'the term at firstIndex()-1 is still known');
  assert.equal(
    code(() => s.term(1)),
    'compacted',
  );
  assert.equal(
    code(() => s.entries(2, 4, 100)),
    'compacted',
  );
  assert.equal(
    code(() => s.compact(2)),
    'compacted',
  );
  // Appending entries that are partly compacted keeps only the new part.
  s.append([ent(2, 1), ent(3, 2), ent(4, 3), ent(5, 3)]);
  assert.deepEqual(
    s.entries(3, 6, 100).map((e) => e.term),
    [2, 3, 3],
  );
});

test('snapshots: create, apply, out of date', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
  const snap = s.createSnapshot(2, { voters: [1n, 2n], learners: [] }, new Uint8Array([7]));
  assert.equal(snap.metadata.term, 1);
  assert.equal(
    code(() => s.createSnapshot(2, null, new Uint8Array())),
    'snapshot-out-of-date',
  );
  assert.deepEqual(s.initialState().confState.voters, [1n, 2n]);
  const t = new MemoryStorage();
  t.applySnapshot({
    metadata: { index: 10, term: 3, confState: { voters: [1n], learners: [] } },
    data: new Uint8Array(),
  });
  assert.equal(t.firstIndex(), 11);
  assert.equal(t.lastIndex(), 10);
  assert.equal(t.term(10), 3);
  assert.equal(
    code(() => t.applySnapshot({ ...t.snapshot(), metadata: { ...t.snapshot().metadata, index: 5 } })),
    'snapshot-out-of-date',
  );
});
