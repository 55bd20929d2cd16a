/**
 * Goal: FaultHooks answers "is this link cut" and "what faults does it carry" exactly as its
 * contract says, so the fault suite can reason about partitions it sets.
 * Method: table checks of `blocked` and `link` after each kind of change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FaultHooks } from './faults.js';

test('partitions cut links between groups only, both ways; heal restores them', () => {
  const f = new FaultHooks();
  f.partition([1n, 2n], [3n], [4n]);
  const cut = (a: bigint, b: bigint) => f.blocked(a, b);
  assert.equal(cut(1n, 2n), false);
  assert.equal(cut(1n, 3n), true);
  assert.equal(cut(3n, 1n), true);
  assert.equal(cut(3n, 4n), true);
  assert.equal(cut(1n, 5n), false, 'a member in no group is unaffected');
  f.partition([1n], [2n]);
  assert.equal(cut(1n, 3n), false, 'a new partition replaces the old');
  f.isolate(3n, [1n, 2n, 3n]);
  assert.deepEqual([cut(3n, 1n), cut(2n, 3n), cut(1n, 2n)], [true, true, false]);
  f.heal();
  assert.equal(cut(3n, 1n), false);
  assert.throws(() => f.partition([1n], [1n, 2n]), /two partition groups/);
});

test('blocked links are one-way', () => {
  const f = new FaultHooks();
  f.blockLink(1n, 2n);
  assert.equal(f.blocked(1n, 2n), true);
  assert.equal(f.blocked(2n, 1n), false);
  f.heal();
  assert.equal(f.blocked(1n, 2n), false);
});

test('link rules: the most specific wins; clearing and reset', () => {
  const f = new FaultHooks();
  f.setLink('*', '*', { delayMs: 1 });
  f.setLink('*', 2n, { delayMs: 2 });
  f.setLink(1n, '*', { delayMs: 3 });
  f.setLink(1n, 2n, { dropProbability: 0.5 });
  assert.deepEqual(f.link(1n, 2n), { dropProbability: 0.5, delayMs: 0 });
  assert.deepEqual(f.link(1n, 3n), { dropProbability: 0, delayMs: 3 });
  assert.deepEqual(f.link(3n, 2n), { dropProbability: 0, delayMs: 2 });
  assert.deepEqual(f.link(3n, 4n), { dropProbability: 0, delayMs: 1 });
  f.setLink(1n, 2n, {});
  assert.deepEqual(f.link(1n, 2n), { dropProbability: 0, delayMs: 3 });
  f.heal();
  assert.deepEqual(f.link(1n, 3n), { dropProbability: 0, delayMs: 3 }, 'heal keeps link rules');
  f.reset();
  assert.deepEqual(f.link(1n, 3n), { dropProbability: 0, delayMs: 0 });
  assert.throws(() => f.setLink(1n, 2n, { dropProbability: 2 }), /\[0, 1\]/);
});
