// Goal: the seeded Rng is deterministic per seed and stays in range. Method: table of seeds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from './rng.js';

test('same seed, same sequence; different seed, different sequence', () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  const c = new SeededRng(43);
  const sa = Array.from({ length: 8 }, () => a.int(1000));
  const sb = Array.from({ length: 8 }, () => b.int(1000));
  const sc = Array.from({ length: 8 }, () => c.int(1000));
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('int(n) stays in [0, n)', () => {
  const r = new SeededRng(7);
  for (let i = 0; i < 10000; i++) {
    const v = r.int(10);
    assert.ok(v >= 0 && v < 10 && Number.isInteger(v));
  }
});
