import { test } from 'node:test';
import { fuzzClusterRun } from './cluster-run.js';

const durationS = Number(process.env.FUZZ_DURATION ?? 300);

test('a long seeded fuzz run: every call answered, no member lost, replicas agree', {
  timeout: (durationS + 180) * 1000,
}, async (t) => {
  const seed =
    process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.diagnostic(`fuzz seed ${seed} (replay: FUZZ_SEED=${seed}, or npm run fuzz -- --seed ${seed})`);
  await fuzzClusterRun(t, { seed, durationMs: durationS * 1000, concurrency: 6, stopOnFailure: false });
});
