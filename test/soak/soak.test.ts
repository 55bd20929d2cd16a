// Goal: the soak's leak check in npm test — (1) the least-squares slope and the threshold scaling
// on exact series; (2) a short real soak (about 45 s of puts, txns, ranges, watches, watch churn,
// leases and compaction on a 3-member cluster) in which no member dies and no series of any member
// (anonymous RSS, V8 heap, open fds) grows faster than its scaled threshold; (3) the same check
// failing on a deliberately leaking build (a test-only preload keeps 1 MiB per gRPC stream), so a
// real leak cannot pass. The one-hour run is `npm run soak`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFindings, leakCheck, type MemberSample, runSoak, slope, thresholdScale } from './soak.js';

test('least-squares slope and the scaled thresholds', () => {
  assert.equal(
    slope([
      { x: 0, y: 1 },
      { x: 1, y: 3 },
      { x: 2, y: 5 },
    ]),
    2,
  );
  assert.equal(
    slope([
      { x: 0, y: 4 },
      { x: 1, y: 4 },
    ]),
    0,
  );
  assert.equal(slope([{ x: 1, y: 4 }]), 0);
  assert.equal(thresholdScale(60), 1);
  assert.equal(thresholdScale(120), 1);
  assert.equal(thresholdScale(1), 60);
  const mk = (t: number, fds: number, anonMiB: number): MemberSample => ({
    t,
    member: 'm',
    rssBytes: 0,
    rssAnonBytes: anonMiB * 1024 * 1024,
    heapUsedBytes: 50 * 1024 * 1024,
    fds,
    eventLoopP99Ms: 1,
  });
  // 60 minutes: anon RSS +2 MiB/min is a leak (threshold 1), fds flat are not; the first quarter
  // (a steep warm-up) is ignored.
  const samples = Array.from({ length: 61 }, (_, t) => mk(t, 30, t < 15 ? t * 20 : 300 + 2 * t));
  const f = leakCheck(samples, { minutes: 60, warmupFraction: 0.25 });
  assert.deepEqual(
    f.filter((x) => x.leaking).map((x) => x.series),
    ['rssAnonBytes'],
    formatFindings(f),
  );
  const flat = leakCheck(
    samples.map((s) => ({ ...s, rssAnonBytes: 300 * 1024 * 1024 })),
    {
      minutes: 60,
      warmupFraction: 0.25,
    },
  );
  assert.deepEqual(
    flat.filter((x) => x.leaking),
    [],
  );
});

test('a short soak: no member dies, no series grows past its threshold', { timeout: 180_000 }, async (t) => {
  const r = await runSoak({ minutes: 0.75, sampleEveryMs: 2_000 });
  for (const line of formatFindings(r.findings).split('\n')) t.diagnostic(line);
  t.diagnostic(`ops ${JSON.stringify(r.ops)}, watch events ${r.watchEvents}, compactions ${r.compactions}`);
  assert.deepEqual(r.dead, []);
  assert.ok(r.ops.ok >= 500, `too few operations: ${JSON.stringify(r.ops)}`);
  assert.ok(r.watchEvents > 0, 'no watch events');
  assert.ok(r.samples.length >= 3 * 15, `too few samples: ${r.samples.length}`);
  assert.deepEqual(
    r.findings.filter((f) => f.leaking),
    [],
  );
});

test('the leak check fails on a deliberately leaking member build', { timeout: 180_000 }, async (t) => {
  const r = await runSoak({ minutes: 0.5, sampleEveryMs: 2_000, leakBytesPerStream: 1024 * 1024 });
  for (const line of formatFindings(r.findings).split('\n')) t.diagnostic(line);
  assert.deepEqual(r.dead, []);
  const leaking = r.findings.filter((f) => f.leaking && f.series === 'rssAnonBytes');
  assert.equal(leaking.length, 3, formatFindings(r.findings));
});
