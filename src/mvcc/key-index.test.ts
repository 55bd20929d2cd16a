// Goal: KeyIndex finds the revision visible at any store revision and compacts exactly as etcd's
// keyIndex.compact (which revisions it keeps, which it hands back for deletion).
// Method: table tests on one key history with two generations (put 2, put 4, delete 6, put 8,
// put 10), queried and compacted at every revision.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyIndex, untagSub } from './key-index.js';

function history(): KeyIndex {
  const ki = new KeyIndex('foo');
  ki.put(2, 0);
  ki.put(4, 0);
  ki.tombstone(6, 0);
  ki.put(8, 0);
  ki.put(10, 1);
  return ki;
}

test('findAt sees the last put at or below the revision, none after a tombstone', () => {
  const ki = history();
  const table: [number, number | undefined][] = [
    [1, undefined],
    [2, 2],
    [3, 2],
    [4, 4],
    [5, 4],
    [6, undefined],
    [7, undefined],
    [8, 8],
    [9, 8],
    [10, 10],
    [100, 10],
  ];
  for (const [at, want] of table) {
    const slot = ki.findAt(at);
    assert.equal(slot < 0 ? undefined : ki.revs[slot], want, `at ${at}`);
  }
  assert.equal(ki.ver, 2);
  assert.equal(ki.createdMain, 8);
});

test('compact keeps the latest revision <= rev unless it is a tombstone', () => {
  // [compact at, revisions left (main), revisions removed (main, tombstone?)]
  const table: [number, number[], string[]][] = [
    [1, [2, 4, 6, 8, 10], []],
    [2, [2, 4, 6, 8, 10], []],
    [3, [2, 4, 6, 8, 10], []],
    [4, [4, 6, 8, 10], ['2']],
    [5, [4, 6, 8, 10], ['2']],
    [6, [8, 10], ['2', '4', '6t']],
    [7, [8, 10], ['2', '4', '6t']],
    [8, [8, 10], ['2', '4', '6t']],
    [10, [10], ['2', '4', '6t', '8']],
    [11, [10], ['2', '4', '6t', '8']],
  ];
  for (const [at, left, gone] of table) {
    const ki = history();
    const removed: number[] = [];
    ki.compact(at, removed);
    const mains: number[] = [];
    for (let i = 0; i < ki.revs.length; i += 2) mains.push(ki.revs[i]!);
    assert.deepEqual(mains, left, `left after compact ${at}`);
    const g: string[] = [];
    for (let i = 0; i < removed.length; i += 2) g.push(`${removed[i]}${removed[i + 1]! < 0 ? 't' : ''}`);
    assert.deepEqual(g, gone, `removed by compact ${at}`);
    assert.equal(ki.ver, 2, 'compaction keeps the current generation version');
  }
});

test('compacting a deleted key empties it', () => {
  const ki = new KeyIndex('k');
  ki.put(2, 0);
  ki.tombstone(3, 5);
  const removed: number[] = [];
  ki.compact(3, removed);
  assert.equal(ki.isEmpty(), true);
  assert.deepEqual(removed, [2, 0, 3, -6]);
  assert.equal(untagSub(-6), 5);
});
