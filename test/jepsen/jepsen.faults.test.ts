// Goal: the long run of the Jepsen-style suite (npm run test:faults): several minutes of every
// fault kind at once against a 3-process cluster, with zero violations and nothing undecided.
// JEPSEN_DURATION_S sets the length (default 300 s), JEPSEN_SEED the seed. `npm run jepsen --
// --duration 600 --report` runs the same from the command line and rewrites docs/RELIABILITY.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_FAULTS } from './nemesis.js';
import { problemsOf, runJepsen } from './runner.js';

const DURATION_S = Number(process.env.JEPSEN_DURATION_S ?? 300);
const SEED = Number(process.env.JEPSEN_SEED ?? 7);

test(`every fault kind for ${DURATION_S} s: no violations`, {
  timeout: (DURATION_S + 300) * 1000,
}, async () => {
  const r = await runJepsen({
    seed: SEED,
    durationMs: DURATION_S * 1000,
    faults: ALL_FAULTS,
    log: (l) => process.stderr.write(`[jepsen] ${l}\n`),
  });
  const problems = problemsOf(r);
  assert.deepEqual(problems.slice(0, 20), [], JSON.stringify(r.summary));
  assert.ok(Object.keys(r.summary.faultsInjected).length >= 5, JSON.stringify(r.summary.faultsInjected));
  assert.ok(r.summary.ops.ok >= 1000, JSON.stringify(r.summary.ops));
  assert.ok(r.summary.leaseKeysExpired > 0, 'no lease expired');
});
