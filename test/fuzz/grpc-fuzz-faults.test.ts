// Goal: fuzzing under faults (issue 16) in npm test — the gRPC fuzzer's traffic (valid, mutated,
// framing, header, oversized and raw-connection cases) against a 3-member cluster while the Jepsen
// nemesis kills, pauses and partitions members: no member crashes (exits by itself), no call hangs
// or breaks the oracle outside a fault's window, no fd or memory growth in members that lived
// through the run, every call ended, and HashKV equal on every member at the end.
// Method: test/fuzz/faults-run.ts. Long: `npm run fuzz:faults -- --duration 600 --seed N`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzzUnderFaults } from './faults-run.js';

test('fuzzing while members are killed, paused and cut off: no crash, hang or leak; replicas agree', {
  timeout: 300_000,
}, async (t) => {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261203;
  t.diagnostic(`seed ${seed} (replay: npm run fuzz:faults -- --seed ${seed} --duration 20)`);
  const r = await fuzzUnderFaults({ seed, durationMs: 20_000, log: (l) => t.diagnostic(l) });
  for (const f of r.faults) t.diagnostic(`fault ${f.kind}: ${f.detail}`);
  t.diagnostic(
    `${r.fuzz.cases} cases, ${r.fuzz.excused} excused; HashKV at ${r.agreement?.revision}: ${r.agreement?.hashes.map((h) => h.hash).join(' ')}`,
  );
  t.diagnostic(`before ${JSON.stringify(r.before)} after ${JSON.stringify(r.after)}`);
  assert.deepEqual(r.crashes, []);
  assert.ok(r.agreement, 'the replicas were not compared');
  assert.deepEqual(
    r.fuzz.failures.map((f) => `case ${f.index} ${f.cls}: ${f.reason}\n  input: ${f.input}`),
    [],
  );
  assert.deepEqual(r.leaks, []);
  assert.ok(r.faults.length >= 2, `too few faults: ${JSON.stringify(r.faults)}`);
  assert.ok(r.fuzz.cases >= 100, `only ${r.fuzz.cases} cases`);
  assert.ok(r.fuzz.excused < r.fuzz.cases, 'every case was excused: the oracle judged nothing');
});
