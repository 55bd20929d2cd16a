// Goal: kill -9 at any moment loses no acknowledged write (issue 2's crash test). Method: crashRun —
// real processes, concurrent writers, seeded random kill points, restart, compare every acknowledged
// key and revision. A short run here; `npm run test:faults` runs the long one (crash.faults.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashRun } from './crash-run.js';

test('SIGKILL under concurrent writes loses no acknowledged write', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
  t.diagnostic(`seed ${seed} (repeat with CRASH_SEED=${seed})`);
  const report = await crashRun({ seed, cycles: 5, writers: 16, killAfterMs: [50, 400] }, t);
  t.diagnostic(JSON.stringify(report));
  assert.ok(report.acknowledged > 0, 'the writers got some writes acknowledged');
});
