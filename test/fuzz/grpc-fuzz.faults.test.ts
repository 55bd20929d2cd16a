// Goal: the long version of grpc-fuzz.test.ts: minutes of random valid, mutated, framing, header,
// oversized and raw-connection traffic against a 3-process cluster, with the full oracle (every
// call answered with a clear status, no hang, no crash), then health, put/get through every member
// and HashKV agreement. A fresh random seed each run unless FUZZ_SEED is set; it is printed first,
// and every failure prints its replayable input. FUZZ_DURATION (seconds, default 300) sets the length.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkClusterAfter, checkNoCallsLeft, startFuzzCluster } from './cluster.js';
import { formatReport, runFuzz } from './runner.js';

const durationS = Number(process.env.FUZZ_DURATION ?? 300);

test('a long seeded fuzz run: every call answered, no member lost, replicas agree', {
  timeout: (durationS + 180) * 1000,
}, async (t) => {
  const seed =
    process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.diagnostic(`fuzz seed ${seed} (replay: FUZZ_SEED=${seed}, or npm run fuzz -- --seed ${seed})`);
  const maxRequestBytes = 1.5 * 1024 * 1024;
  const cluster = await startFuzzCluster(3);
  t.after(() => cluster.stop());
  const endpoints = cluster.members.map((m) => m.endpoint);
  const report = await runFuzz({
    seed,
    endpoints,
    durationMs: durationS * 1000,
    concurrency: 6,
    maxRequestBytes,
    alive: () => cluster.alive(),
    stopOnFailure: false,
    log: (l) => {
      if (l.startsWith('FAILURE')) for (const line of l.split('\n')) t.diagnostic(line);
    },
  });
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);
  assert.deepEqual(
    report.failures.map((f) => `case ${f.index} ${f.cls}: ${f.reason}\n  input: ${f.input}`),
    [],
    `seed ${seed}`,
  );
  assert.equal(cluster.alive(), undefined);
  await checkNoCallsLeft(endpoints);
  const after = await checkClusterAfter(endpoints);
  t.diagnostic(
    `HashKV at revision ${after.revision}: ${after.hashes.map((h) => h.hash).join(' ')}; alarms the run raised: ${after.alarmsRaised}`,
  );
});
