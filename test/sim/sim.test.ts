// Goal: Raft's safety properties (election safety, log matching, leader completeness, state
// machine safety, durable commits, linearizable ReadIndex) and liveness after healing hold under
// message loss, delay, duplication, reordering, partitions, crashes, membership changes and
// leadership transfers. Method: the deterministic simulator (cluster.ts) runs a few hundred seeds,
// each of which derives its whole scenario from the seed; a failure message carries the seed and
// a one-line repro. Seeds that once found bugs are pinned below as regression tests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSeed, type SimStats } from './cluster.js';

const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 300);

test(`simulator: ${SEEDS} random seeds keep every invariant`, () => {
  const total: Partial<Record<keyof SimStats, number>> = {};
  for (let seed = 1; seed <= SEEDS; seed++) {
    const st = runSeed(seed);
    for (const [k, v] of Object.entries(st) as [keyof SimStats, number][]) total[k] = (total[k] ?? 0) + v;
  }
  // The runs must actually exercise the features they claim to test.
  assert.ok((total.applied ?? 0) > SEEDS * 20, 'entries were committed and applied');
  assert.ok((total.readsAnswered ?? 0) > SEEDS, 'ReadIndex requests were answered');
  assert.ok((total.snapshotsSent ?? 0) > 10, 'snapshots were sent to lagging followers');
  assert.ok((total.confChangesApplied ?? 0) > SEEDS, 'membership changes were applied');
  assert.ok((total.crashes ?? 0) > SEEDS / 2, 'members crashed and restarted');
  assert.ok((total.transfers ?? 0) > 10, 'leadership transfers were requested');
});

// Regression seeds: each found a real bug once.
const REGRESSIONS: [number, string][] = [
  [7, 'a lost MsgApp kept a full inflight window (maxInflightMsgs 1) closed forever'],
  [2, 'a joining member rejected a snapshot that predated its own addition and never caught up'],
  [209, 'a founding member that crashed before persisting its bootstrap elected itself alone'],
  [144, 'slow flow control (1 entry per message, 1 inflight) with a long backlog after healing'],
  [236, 'a network slower than the election timeout (generator now respects Raft timing)'],
  [4371, 'a lone founding member that crashed before applying anything was never restarted'],
  [282, 'a leader removing itself stepped down at once; the commit never reached the last voter'],
  [643, 'shrinking 2 -> 1 voters: the removed member was stopped before the other applied it'],
];

for (const [seed, what] of REGRESSIONS) {
  test(`simulator regression seed ${seed}: ${what}`, () => {
    const st = runSeed(seed);
    assert.ok(st.applied > 0);
  });
}
