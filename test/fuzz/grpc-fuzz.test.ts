// Goal: bad input on the gRPC port gets a clear error and the server keeps serving; the cluster's
// replicas agree afterwards. Method: (1) every input the fuzzer found mishandled, replayed as fixed
// bytes against one tsetcd member, with the exact status expected; (2) the same bytes against real
// etcd 3.4, checking that "same as etcd" holds and that each documented difference is real; (3) a
// bounded seeded fuzz run (valid, mutated, framing, header, oversized and raw-connection cases)
// against a 3-process cluster, then health, a put/get through every member and equal HashKV.
// FUZZ_SEED=<n> replays a seed; the seed is printed either way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { haveCommand, startMember } from '../helpers/index.js';
import { checkClusterAfter, checkNoCallsLeft, startFuzzCluster } from './cluster.js';
import { REGRESSIONS, type RegressionCase } from './regressions.js';
import { formatReport, runFuzz } from './runner.js';
import { connectSession, type RawResult, rawCall } from './wire.js';

const DEADLINE_MS = 15_000;

function summary(r: RawResult): string {
  if (r.outcome === 'status') return `status ${r.grpcStatus} ${JSON.stringify(r.grpcMessage ?? '')}`;
  if (r.outcome === 'http') return `http ${r.httpStatus}`;
  return r.outcome;
}

function expected(c: RegressionCase): string {
  if (c.cancelled) return 'cancelled';
  return c.httpStatus !== undefined
    ? `http ${c.httpStatus}`
    : `status ${c.code} ${JSON.stringify(c.message ?? '')}`;
}

async function replay(endpoint: string, cases: RegressionCase[]): Promise<RawResult[]> {
  const session = connectSession(endpoint);
  try {
    const out: RawResult[] = [];
    for (const c of cases) out.push(await rawCall(session, { ...c.request, deadlineMs: DEADLINE_MS }));
    return out;
  } finally {
    session.destroy();
  }
}

test('inputs the fuzzer found get the status etcd gives them, and the member keeps serving', {
  timeout: 120_000,
}, async (t) => {
  const m = await startMember('tsetcd', { name: 'fz', t });
  const results = await replay(m.endpoint, REGRESSIONS);
  const wrong = REGRESSIONS.flatMap((c, i) =>
    summary(results[i]!) === expected(c)
      ? []
      : [`${c.name}: expected ${expected(c)}, got ${summary(results[i]!)}`],
  );
  assert.deepEqual(wrong, []);
  // still serving on a new connection, and the process is up
  const [after] = await replay(m.endpoint, [REGRESSIONS.find((c) => c.code === 0)!]);
  assert.equal(summary(after!), 'status 0 ""');
  assert.ok(m.pid() !== undefined, 'member process still running');
});

test('etcd 3.4 answers these inputs as documented (same status, or the stated difference)', {
  timeout: 120_000,
  skip: haveCommand(process.env.ETCD_BIN ?? 'etcd') ? false : 'etcd 3.4 not installed',
}, async (t) => {
  const m = await startMember('etcd', { name: 'fz', t });
  const results = await replay(m.endpoint, REGRESSIONS);
  const wrong = REGRESSIONS.flatMap((c, i) => {
    const got = summary(results[i]!);
    const want =
      c.etcd === 'same'
        ? expected(c)
        : c.etcd.code === 'reset'
          ? 'reset'
          : `status ${c.etcd.code} ${JSON.stringify(c.etcd.message ?? '')}`;
    return got === want ? [] : [`${c.name}: etcd expected ${want}, got ${got}`];
  });
  assert.deepEqual(wrong, []);
});

test('a seeded fuzz run against a 3-member cluster: every call answered, replicas agree', {
  timeout: 300_000,
}, async (t) => {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261126;
  t.diagnostic(`fuzz seed ${seed} (replay: FUZZ_SEED=${seed}, or npm run fuzz -- --seed ${seed})`);
  const maxRequestBytes = 1.5 * 1024 * 1024;
  const cluster = await startFuzzCluster(3);
  t.after(() => cluster.stop());
  const endpoints = cluster.members.map((m) => m.endpoint);
  const report = await runFuzz({
    seed,
    endpoints,
    maxCases: Number(process.env.FUZZ_CASES ?? 2000),
    durationMs: 45_000,
    concurrency: 4,
    maxRequestBytes,
    alive: () => cluster.alive(),
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
  assert.ok(report.cases >= 300, `only ${report.cases} cases ran`);
  assert.equal(cluster.alive(), undefined);
  await checkNoCallsLeft(endpoints);
  const after = await checkClusterAfter(endpoints);
  t.diagnostic(
    `HashKV at revision ${after.revision}: ${after.hashes.map((h) => h.hash).join(' ')}; alarms the run raised: ${after.alarmsRaised}`,
  );
});
