// Goal: the bounded CI run of the Jepsen-style suite — a real 3-process cluster under process
// faults (SIGKILL + restart, SIGSTOP/SIGCONT), disk faults (failed fdatasync, full disk) and network
// faults (partitions, bridge, one-way loss, lossy and slow links) keeps every acknowledged write,
// answers linearizably, runs multi-key transactions strictly serializably (Elle's list-append), delivers watch events in order without gaps or duplicates, and expires no
// lease early. Method: test/jepsen/runner.ts records the history; every checker must report zero
// violations and nothing undecided, and the run must have actually done something (faults injected,
// operations succeeded, watch events delivered, leases expired) so an idle run cannot pass.
// The long run is jepsen.faults.test.ts (npm run test:faults) and `npm run jepsen`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_GROUPS } from './nemesis.js';
import { problemsOf, type RunResult, runJepsen } from './runner.js';

const SEED = Number(process.env.JEPSEN_SEED ?? 20261126);

/** No violation, nothing undecided, and enough done that the run meant something. */
function assertClean(r: RunResult, groups: string[], minOk = 100): void {
  const s = r.summary;
  const problems = problemsOf(r);
  assert.deepEqual(problems.slice(0, 20), [], `seed ${s.seed}: ${JSON.stringify(s)}`);
  const injected = Object.keys(s.faultsInjected);
  for (const g of groups)
    assert.ok(
      FAULT_GROUPS[g]!.some((k) => injected.includes(k)),
      `no ${g} fault injected: ${JSON.stringify(s.faultsInjected)}`,
    );
  assert.ok(s.ops.ok >= minOk, `too few successful operations: ${JSON.stringify(s.ops)}`);
  for (const t of ['put', 'get', 'cas', 'delete']) assert.ok((s.ops.byType[t] ?? 0) > 0, `no ${t} ops`);
  assert.ok(s.watchEvents > 0, 'no watch events');
  assert.ok(s.txns.ok >= 10, `too few committed multi-key transactions: ${JSON.stringify(s.txns)}`);
  for (const c of s.checks)
    if (c.checker !== 'lease') assert.ok(c.checked > 0, `${c.checker} checked nothing`);
}

test('process and disk faults: no violations', { timeout: 300_000 }, async () => {
  const r = await runJepsen({
    seed: SEED,
    durationMs: 25_000,
    faults: [...FAULT_GROUPS.process!, ...FAULT_GROUPS.disk!],
    gapMs: [500, 1500],
    holdMs: [1000, 3000],
  });
  assertClean(r, ['process', 'disk']);
  assert.ok(r.summary.leaseKeysExpired > 0, 'no lease expired during the run');
});

test('network faults, with compaction during the run: no violations', { timeout: 300_000 }, async () => {
  const r = await runJepsen({
    seed: SEED + 1,
    durationMs: 25_000,
    faults: FAULT_GROUPS.network!,
    gapMs: [500, 1500],
    holdMs: [1000, 3000],
    compactEveryMs: 2000,
    minCompactions: 3,
  });
  assertClean(r, ['network']);
  assert.ok(r.summary.compactions >= 3, `too few compactions: ${r.summary.compactions}`);
});

test('two faults at once (process + network, disk + process, ...): no violations', {
  timeout: 300_000,
}, async () => {
  const r = await runJepsen({
    seed: SEED + 2,
    durationMs: 30_000,
    faults: [...FAULT_GROUPS.process!, ...FAULT_GROUPS.network!, ...FAULT_GROUPS.disk!],
    gapMs: [1500, 3000],
    holdMs: [1000, 3000],
    combineFaults: true,
  });
  // Two faults at once leave the cluster unavailable for much of the run: fewer operations succeed.
  assertClean(r, [], 50);
  const overlapping = r.history.faults.filter((f) => f.detail.startsWith('with '));
  assert.ok(overlapping.length >= 4, `too few combined faults: ${JSON.stringify(r.summary.faultsInjected)}`);
});
