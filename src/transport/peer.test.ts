/**
 * Goal: reconnect delays grow exponentially from RECONNECT_BACKOFF_MS_MIN, stop at
 * RECONNECT_BACKOFF_MS_MAX, keep at least half of each step, and are reproducible from the seed.
 * Method: table over attempts with a seeded rng, plus rngs pinned at the extremes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Rng, SeededRng } from '../pkg/index.js';
import { RECONNECT_BACKOFF_MS_MAX, RECONNECT_BACKOFF_MS_MIN } from './limits.js';
import { backoffMs } from './peer.js';

const fixed = (x: number): Rng => ({ next: () => x, int: (n) => Math.floor(x * n) });

test('backoff grows, caps and jitters within [step/2, step)', () => {
  const table: [attempt: number, step: number][] = [
    [0, RECONNECT_BACKOFF_MS_MIN],
    [1, RECONNECT_BACKOFF_MS_MIN * 2],
    [3, RECONNECT_BACKOFF_MS_MIN * 8],
    [5, Math.min(RECONNECT_BACKOFF_MS_MAX, RECONNECT_BACKOFF_MS_MIN * 32)],
    [40, RECONNECT_BACKOFF_MS_MAX],
  ];
  for (const [attempt, step] of table) {
    assert.equal(backoffMs(attempt, fixed(0)), step / 2, `attempt ${attempt} low`);
    assert.ok(backoffMs(attempt, fixed(0.999999)) < step, `attempt ${attempt} high`);
    const r = backoffMs(attempt, new SeededRng(attempt));
    assert.ok(r >= step / 2 && r < step, `attempt ${attempt} seeded`);
  }
  const run = (seed: number) => {
    const rng = new SeededRng(seed);
    return Array.from({ length: 8 }, (_, i) => backoffMs(i, rng));
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
});
