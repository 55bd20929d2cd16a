/**
 * Runs many simulator seeds and prints a summary table (npm run test:sim).
 *   node dist/test/sim/sweep.js [--driver] [--seeds N] [--start S] [--verbose] [--chaos-ticks T]
 * Without --driver: the Raft core simulator (cluster.ts, RawNode behind the simulator's own Ready
 * loop). With --driver: the driver simulator (driver-cluster.ts, the production RaftDriver with its
 * crash points over the fault-injecting WAL file system).
 * Exits non-zero on the first failing seed, after printing its seed, repro command and trace.
 */

import { helpFromHeader } from '../../src/pkg/script-help.js';
import { runSeed, SimFailure } from './cluster.js';
import { DriverSimFailure, runDriverSeed } from './driver-cluster.js';

helpFromHeader(import.meta.url);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const driver = process.argv.includes('--driver');
const seeds = Number(arg('--seeds') ?? (driver ? 2000 : 10000));
const start = Number(arg('--start') ?? 1);
const verbose = process.argv.includes('--verbose');
const ct = arg('--chaos-ticks');
const overrides = { verbose, ...(ct ? { chaosTicks: Number(ct) } : {}) };
const runOne = async (seed: number): Promise<Record<string, number>> =>
  driver ? { ...(await runDriverSeed(seed, overrides)) } : { ...runSeed(seed, overrides) };

const totals = new Map<string, number>();
const maxes = new Map<string, number>();
const t0 = process.hrtime.bigint();
let failures = 0;
let passed = 0;
let lastReport = t0;
for (let seed = start; seed < start + seeds; seed++) {
  let st: Record<string, number>;
  try {
    st = await runOne(seed);
  } catch (e) {
    failures++;
    console.error(e instanceof SimFailure || e instanceof DriverSimFailure ? e.message : e);
    process.exitCode = 1;
    break;
  }
  passed++;
  for (const [k, v] of Object.entries(st)) {
    totals.set(k, (totals.get(k) ?? 0) + v);
    maxes.set(k, Math.max(maxes.get(k) ?? 0, v));
  }
  const now = process.hrtime.bigint();
  if (now - lastReport > 10_000_000_000n) {
    lastReport = now;
    console.log(`... seed ${seed} (${seed - start + 1}/${seeds})`);
  }
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(
  `\n${driver ? 'driver' : 'raft'} simulator: seeds ${start}..${start + seeds - 1}: ${passed} passed, ${failures} failed, ${secs.toFixed(1)} s`,
);
console.log(
  `${'metric'.padEnd(20)}${'total'.padStart(14)}${'mean/seed'.padStart(12)}${'max/seed'.padStart(10)}`,
);
for (const [k, v] of totals) {
  const mean = passed > 0 ? v / passed : 0;
  console.log(
    `${k.padEnd(20)}${String(v).padStart(14)}${mean.toFixed(1).padStart(12)}${String(maxes.get(k)).padStart(10)}`,
  );
}
