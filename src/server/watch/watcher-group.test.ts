// Goal: the synced group finds exactly the watchers whose range holds a key — single keys, prefixes
// (including trailing 0xff bytes), other ranges and open ends — also after removals.
// Method: seeded random watchers and keys over a tiny alphabet (so ranges and prefixes overlap
// often), compared with a brute-force scan using Watcher.matches; plus prefixEnd table cases.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../pkg/index.js';
import type { WatchTarget } from './watcher-group.js';
import { prefixEnd, Watcher, WatcherGroup } from './watcher-group.js';

const ALPHABET = ['a', 'b', '\xff', '\0'];

function randomKey(rng: SeededRng): string {
  let k = '';
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) k += ALPHABET[rng.int(ALPHABET.length)];
  return k;
}

test('prefixEnd as etcd GetPrefixRangeEnd', () => {
  assert.equal(prefixEnd('a'), 'b');
  assert.equal(prefixEnd('ab'), 'ac');
  assert.equal(prefixEnd('a\xff'), 'b');
  assert.equal(prefixEnd('a\xff\xff'), 'b');
  assert.equal(prefixEnd('\xff'), undefined);
  assert.equal(prefixEnd('\0'), '\x01');
});

test('forEachMatching equals a brute-force scan', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new SeededRng(seed);
    const group = new WatcherGroup();
    const all: Watcher[] = [];
    const stream = {} as WatchTarget;
    for (let i = 0; i < 60; i++) {
      const key = randomKey(rng);
      const kind = rng.int(4);
      let end: string | null | undefined;
      if (kind === 0) end = undefined;
      else if (kind === 1) end = prefixEnd(key) ?? null;
      else if (kind === 2) end = null;
      else {
        const other = randomKey(rng);
        end = other > key ? other : undefined;
      }
      const w = new Watcher(BigInt(i), stream, key, end, 0, false, false, false, false, false);
      group.add(w);
      all.push(w);
    }
    assert.ok(
      all.some((w) => w.prefix !== undefined),
      'some prefix watchers',
    );
    for (let round = 0; round < 2; round++) {
      for (let q = 0; q < 200; q++) {
        const key = randomKey(rng);
        const got: bigint[] = [];
        group.forEachMatching(key, (w) => got.push(w.id));
        const want = all.filter((w) => group.has(w) && w.matches(key)).map((w) => w.id);
        assert.deepEqual(
          got.sort((x, y) => Number(x - y)),
          want.sort((x, y) => Number(x - y)),
          `seed ${seed} key ${JSON.stringify(key)}`,
        );
      }
      // Remove half, then check again.
      for (const w of all) if (group.has(w) && rng.int(2) === 0) assert.equal(group.delete(w), true);
      assert.equal(group.size, all.filter((w) => group.has(w)).length);
    }
  }
});
