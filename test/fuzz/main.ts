/**
 * `npm run fuzz -- [--seed N] [--duration S] [--cases N] [--concurrency N] [--class prefix]`: a long
 * manual fuzz run against a fresh 3-member tsetcd cluster. Prints the seed first, every failure with
 * its replayable input, the per-class outcome table, and the end-of-run cluster check.
 */
import { parseArgs } from 'node:util';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { checkClusterAfter, checkNoCallsLeft, describeCluster, startFuzzCluster } from './cluster.js';
import { formatReport, runFuzz } from './runner.js';

helpFromHeader(import.meta.url);

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    duration: { type: 'string', default: '60' },
    cases: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    class: { type: 'string', multiple: true },
    'max-request-bytes': { type: 'string', default: String(1.5 * 1024 * 1024) },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const maxRequestBytes = Number(values['max-request-bytes']);
console.log(`fuzz seed ${seed} (replay: npm run fuzz -- --seed ${seed})`);
const cluster = await startFuzzCluster(3, ['--max-request-bytes', String(maxRequestBytes)]);
let failed = false;
try {
  const report = await runFuzz({
    seed,
    endpoints: cluster.members.map((m) => m.endpoint),
    durationMs: Number(values.duration) * 1000,
    ...(values.cases !== undefined ? { maxCases: Number(values.cases) } : {}),
    concurrency: Number(values.concurrency),
    maxRequestBytes,
    alive: () => cluster.alive(),
    stopOnFailure: false,
    ...(values.class ? { onlyClasses: values.class } : {}),
    log: (l) => console.log(l),
  });
  console.log(formatReport(report));
  failed = report.failures.length > 0;
  const dead = cluster.alive();
  if (dead) {
    console.log(`DEAD MEMBER:\n${dead}`);
    failed = true;
  } else {
    await checkNoCallsLeft(cluster.members.map((m) => m.endpoint));
    console.log('after the run: every call the members started has ended');
    const after = await checkClusterAfter(cluster.members.map((m) => m.endpoint));
    console.log(
      `after the run: all healthy, HashKV at revision ${after.revision} agrees: ${after.hashes.map((h) => h.hash).join(' ')}`,
    );
  }
} catch (e) {
  console.log(`ERROR: ${(e as Error).stack}`);
  for (const m of cluster.members)
    console.log(`--- ${m.name} (${m.endpoint}) log tail ---\n${m.log.slice(-3000)}`);
  console.log(await describeCluster(cluster.members.map((m) => m.endpoint)));
  failed = true;
} finally {
  await cluster.stop();
}
process.exit(failed ? 1 : 0);
