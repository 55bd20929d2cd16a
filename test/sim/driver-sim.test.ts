// Goal: the production Raft driver (src/server/raft-driver.ts) keeps Raft's safety properties and
// loses no acknowledged write when its member is killed at any of its named crash points (between
// save, send and apply; around a snapshot install; after a WAL release), inside an fdatasync, or
// by an fsync error, under message loss, duplication, delay, partitions and membership changes.
// Method: the driver simulator (driver-cluster.ts) runs a seed sweep, each seed deriving its whole
// scenario; a failure carries the seed and a one-line repro. Seeds that found bugs are pinned.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RAFT_FAILPOINTS, type RaftFailpoint } from '../../src/server/raft-driver.js';
import {
  DriverSim,
  type DriverSimOptions,
  type DriverSimStats,
  driverOptionsForSeed,
} from './driver-cluster.js';

const SEEDS = Number(process.env.DRIVER_SIM_SEEDS ?? 60);

test(`driver simulator: ${SEEDS} seeds keep every invariant through crashes at every crash point`, async () => {
  const total: Partial<Record<keyof DriverSimStats, number>> = {};
  const crashesAt = new Map<RaftFailpoint, number>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const sim = new DriverSim(driverOptionsForSeed(seed));
    const st = await sim.run();
    for (const [k, v] of Object.entries(st) as [keyof DriverSimStats, number][])
      total[k] = (total[k] ?? 0) + v;
    for (const [k, v] of sim.crashesAt) crashesAt.set(k, (crashesAt.get(k) ?? 0) + v);
  }
  // The sweep must exercise what it claims to check.
  assert.ok((total.applied ?? 0) > SEEDS * 20, 'entries were committed and applied');
  assert.ok((total.readsAnswered ?? 0) > SEEDS, 'ReadIndex requests were answered');
  assert.ok((total.snapshotsInstalled ?? 0) > 10, 'followers installed snapshots from the leader');
  assert.ok((total.confChangesApplied ?? 0) > SEEDS, 'membership changes were applied');
  assert.ok((total.syncCrashes ?? 0) > 10, 'members died inside an fdatasync');
  assert.ok((total.fsyncErrors ?? 0) > 3, 'members stopped on an fsync error');
  for (const name of RAFT_FAILPOINTS) {
    assert.ok((crashesAt.get(name) ?? 0) > 0, `members crashed at ${name}`);
  }
});

test('driver simulator: a seed replays exactly', async () => {
  const a = await new DriverSim(driverOptionsForSeed(1)).run();
  const b = await new DriverSim(driverOptionsForSeed(1)).run();
  assert.deepEqual(a, b);
  assert.ok(a.failpointCrashes > 0);
});

// Regression scenarios, options pinned as printed by the failure report.
const REGRESSIONS: [string, DriverSimOptions][] = [
  [
    'a lone founding member killed inside its first fdatasync restarted with an empty WAL and no configuration',
    {
      seed: 255,
      voters: 1,
      chaosTicks: 182,
      livenessTicks: 150,
      roundsPerTick: 5,
      dropRate: 0.05,
      dupRate: 0.02,
      maxDelayRounds: 1,
      proposeRate: 0.6,
      readRate: 0,
      crashRate: 0,
      restartRate: 0.2,
      partitionRate: 0.03,
      healRate: 0.05,
      confChangeRate: 0.03,
      transferRate: 0.01,
      leaderFaultRate: 0.01,
      failpoints: ['raftAfterSaveSnap', 'raftBeforeLeaderSend', 'raftBeforeSave', 'raftBeforeAdvance'],
      failpointRate: 0.002,
      syncCrashRate: 0.01,
      fsyncErrorRate: 0,
      snapshotCount: 5,
      catchUpEntries: 10,
      walSegmentBytes: 16384,
      electionTicks: 10,
      traceSize: 200,
      verbose: false,
    },
  ],
];

for (const [what, pinned] of REGRESSIONS) {
  test(`driver simulator regression seed ${pinned.seed}: ${what}`, async () => {
    const st = await new DriverSim(pinned).run();
    assert.ok(st.applied > 0);
  });
}
