// Goal: the long version of crash.test.ts — hundreds of SIGKILLs of a real writer process, at
// random moments and at aimed failpoints, over several seeds and writer counts; every
// acknowledged entry must survive each one, intact and gap-free.
// Method: runCrashTest (testdata/crash-harness.ts), 4 seeds x 60 kills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCrashTest } from './testdata/crash-harness.js';

for (const [seed, writers] of [
  [101, 1],
  [102, 10],
  [103, 100],
  [104, 1000],
] as const) {
  test(`seed ${seed}, ${writers} writers, 60 SIGKILLs: no acknowledged entry lost`, async () => {
    const r = await runCrashTest({
      seed,
      kills: 60,
      writers,
      segmentBytes: 32 * 1024,
      acksMax: 2000,
      failpoints: 'walAfterWrite=0.001,walBeforeCut=0.02,walAfterCutTmp=0.02,walAfterSync=0.001',
    });
    assert.ok(r.acked > 60);
  });
}
