// Goal: a WAL written by a real process that is SIGKILLed at random moments never loses an
// acknowledged save: after every kill, a reopen holds every acknowledged entry, intact, gap-free.
// Method: runCrashTest (testdata/crash-harness.ts) spawns testdata/writer.js with 16 concurrent
// writers, kills it after a seeded random number of acknowledgements (and, via failpoints, at
// random passes between write and fdatasync and during segment cuts), 10 times in a row on one
// directory; small segments make cuts frequent. The long run is crash.faults.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCrashTest } from './testdata/crash-harness.js';

test('SIGKILL at random moments, 10 times: every acknowledged entry survives', async () => {
  const r = await runCrashTest({
    seed: Number(process.env.WAL_SEED ?? 1),
    kills: 10,
    writers: 16,
    segmentBytes: 16 * 1024,
    acksMax: 400,
    failpoints: 'walAfterWrite=0.002,walBeforeCut=0.05,walAfterCutTmp=0.05',
  });
  assert.ok(r.acked > 10, `only ${r.acked} entries acknowledged`);
});
