/**
 * Goal: the latency histogram reports nearest-rank percentiles correctly, exactly below 256 us and
 * within its stated 1/128 relative precision above, never below the true value and never above max.
 * Method: a table of small data sets with hand-computed answers, then seeded random data sets
 * checked against percentiles computed from the sorted raw values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../pkg/index.js';
import { LatencyHistogram, latencyUsMax } from './histogram.js';

function histOf(values: readonly number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('percentiles: table of exact cases (values below 256 us are exact)', () => {
  const cases: { name: string; values: number[]; p: number; want: number }[] = [
    { name: 'empty', values: [], p: 50, want: 0 },
    { name: 'one value', values: [7], p: 50, want: 7 },
    { name: 'one value p99.9', values: [7], p: 99.9, want: 7 },
    { name: '1..100 p50', values: range(1, 100), p: 50, want: 50 },
    { name: '1..100 p90', values: range(1, 100), p: 90, want: 90 },
    { name: '1..100 p99', values: range(1, 100), p: 99, want: 99 },
    { name: '1..100 p99.9', values: range(1, 100), p: 99.9, want: 100 },
    { name: '1..100 p100', values: range(1, 100), p: 100, want: 100 },
    { name: '1..100 p0 is min', values: range(1, 100), p: 0, want: 1 },
    { name: '1..10 p50 (rank 5)', values: range(1, 10), p: 50, want: 5 },
    { name: '1..10 p51 (rank 6)', values: range(1, 10), p: 51, want: 6 },
    { name: 'unsorted input', values: [9, 1, 5, 3, 7], p: 50, want: 5 },
    { name: 'duplicates', values: [2, 2, 2, 2, 200], p: 80, want: 2 },
    { name: 'duplicates tail', values: [2, 2, 2, 2, 200], p: 81, want: 200 },
    { name: 'fractions round', values: [1.4, 1.6, 2.5], p: 100, want: 3 },
    { name: 'negative counts as 0', values: [-5], p: 50, want: 0 },
    // 1..1000: p99.9 is rank 999 exactly (not 1000 through float error); 999 is the top of its
    // 4-wide bucket [996, 999].
    { name: '1..1000 p99.9', values: range(1, 1000), p: 99.9, want: 999 },
    // p50 is rank 500, in the 2-wide bucket [500, 501] of [256, 512): the bucket's top is reported.
    { name: '1..1000 p50 bucket top', values: range(1, 1000), p: 50, want: 501 },
    // The top of a bucket is capped at the exact max.
    { name: 'capped at max', values: [1000, 1000], p: 50, want: 1000 },
  ];
  for (const c of cases) {
    assert.equal(histOf(c.values).percentile(c.p), c.want, c.name);
  }
});

test('min, max, mean and count are exact; summary is in milliseconds', () => {
  const h = histOf([1000, 3000, 123_457]);
  assert.equal(h.count, 3);
  assert.equal(h.min, 1000);
  assert.equal(h.max, 123_457);
  assert.equal(h.mean, (1000 + 3000 + 123_457) / 3);
  const s = h.summary();
  assert.equal(s.maxMs, 123.457);
  assert.equal(s.minMs, 1);
  assert.equal(s.count, 3);
  assert.deepEqual(new LatencyHistogram().summary(), {
    count: 0,
    minMs: 0,
    avgMs: 0,
    p50Ms: 0,
    p90Ms: 0,
    p99Ms: 0,
    p999Ms: 0,
    maxMs: 0,
  });
});

test('values above the range clamp to latencyUsMax', () => {
  const h = histOf([latencyUsMax * 4]);
  assert.equal(h.max, latencyUsMax);
  assert.equal(h.percentile(50), latencyUsMax);
});

test('percentile rejects p outside [0, 100]', () => {
  assert.throws(() => histOf([1]).percentile(101), RangeError);
  assert.throws(() => histOf([1]).percentile(-1), RangeError);
  assert.throws(() => histOf([1]).percentile(Number.NaN), RangeError);
});

test('random data: reported percentile within [exact, exact * (1 + 1/128)] and <= max', () => {
  const rng = new SeededRng(42);
  for (let round = 0; round < 30; round++) {
    const n = 1 + rng.int(5000);
    // Log-uniform values from 1 us to ~10 s, like real latency spreads.
    const values = Array.from({ length: n }, () => Math.round(Math.exp(rng.next() * Math.log(1e7))));
    const sorted = [...values].sort((a, b) => a - b);
    const h = histOf(values);
    for (const p of [1, 25, 50, 90, 99, 99.9, 100]) {
      const rank = Math.max(1, Math.ceil(Number(((p / 100) * n).toPrecision(12))));
      const exact = sorted[rank - 1]!;
      const got = h.percentile(p);
      assert.ok(got >= exact, `round ${round} n=${n} p${p}: got ${got} < exact ${exact}`);
      assert.ok(
        got <= exact * (1 + 1 / 128),
        `round ${round} n=${n} p${p}: got ${got} too far above ${exact}`,
      );
      assert.ok(got <= h.max);
    }
  }
});

test('bucket boundaries: every value lands in a bucket whose top is >= it and within 1/128', () => {
  // p50 of [v, huge] is rank 1, so it reports the top of v's bucket uncapped by max.
  const rng = new SeededRng(7);
  const probes = [0, 1, 255, 256, 257, 511, 512, 513, 1023, 1024, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31];
  for (let i = 0; i < 2000; i++) probes.push(rng.int(2 ** 32 - 1));
  for (const v of probes) {
    const top = histOf([v, latencyUsMax]).percentile(50);
    assert.ok(top >= v, `v=${v} top=${top}`);
    assert.ok(top <= v + Math.max(0, v / 128), `v=${v} top=${top}`);
  }
});

test('merge equals recording everything into one histogram', () => {
  const a = histOf(range(1, 500));
  const b = histOf(range(400, 3000));
  const all = histOf([...range(1, 500), ...range(400, 3000)]);
  a.merge(b);
  assert.deepEqual(a.summary(), all.summary());
});
