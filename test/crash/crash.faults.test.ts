// Goal: the long version of the crash test, for `npm run test:faults`: many kill/restart cycles with
// more writers. Method: crashRun with a seeded schedule; prints the seed to repeat a failure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashRun } from './crash-run.js';

test('SIGKILL 50 times under 64 writers loses no acknowledged write', { timeout: 900_000 }, async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
  t.diagnostic(`seed ${seed} (repeat with CRASH_SEED=${seed})`);
  const report = await crashRun({ seed, cycles: 50, writers: 64, killAfterMs: [10, 1000] }, t);
  t.diagnostic(JSON.stringify(report));
  assert.ok(report.acknowledged > 0);
});
