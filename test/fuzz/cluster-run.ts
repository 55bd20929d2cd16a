/**
 * The fuzz run of the test files (bounded in grpc-fuzz.test.ts, long in grpc-fuzz.faults.test.ts):
 * a fresh 3-process cluster, `runFuzz` with failures reported as test diagnostics while it runs,
 * then no failure allowed, every member alive, no call left open, and the replicas in agreement.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { checkClusterAfter, checkNoCallsLeft, startFuzzCluster } from './cluster.js';
import { formatReport, type RunOptions, type RunReport, runFuzz } from './runner.js';

/** Runs the fuzzer against a new cluster and checks the run and the cluster after it. */
export async function fuzzClusterRun(
  t: TestContext,
  opts: Omit<RunOptions, 'endpoints' | 'alive' | 'log' | 'maxRequestBytes'>,
): Promise<RunReport> {
  const cluster = await startFuzzCluster(3);
  t.after(() => cluster.stop());
  const endpoints = cluster.members.map((m) => m.endpoint);
  const report = await runFuzz({
    ...opts,
    endpoints,
    maxRequestBytes: 1.5 * 1024 * 1024,
    alive: () => cluster.alive(),
    log: (l) => {
      if (l.startsWith('FAILURE')) for (const line of l.split('\n')) t.diagnostic(line);
    },
  });
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);
  assert.deepEqual(
    report.failures.map((f) => `case ${f.index} ${f.cls}: ${f.reason}\n  input: ${f.input}`),
    [],
    `seed ${opts.seed}`,
  );
  assert.equal(cluster.alive(), undefined);
  await checkNoCallsLeft(endpoints);
  const after = await checkClusterAfter(endpoints);
  t.diagnostic(
    `HashKV at revision ${after.revision}: ${after.hashes.map((h) => h.hash).join(' ')}; alarms the run raised: ${after.alarmsRaised}`,
  );
  return report;
}
