/**
 * `npm run fuzz:faults -- [--seed N] [--duration S] [--faults kill,pause,...] [--concurrency N]`:
 * a long fuzz run under faults (faults-run.ts). Prints the faults, the fuzz table, the leak
 * comparison and the HashKV agreement; exits 1 on a crash, an oracle failure or a leak.
 */
import { parseArgs } from 'node:util';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { DEFAULT_FUZZ_FAULTS, fuzzUnderFaults } from './faults-run.js';
import { formatReport } from './runner.js';

helpFromHeader(import.meta.url);

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    duration: { type: 'string', default: '300' },
    faults: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
console.log(`fuzz under faults, seed ${seed} (replay: npm run fuzz:faults -- --seed ${seed})`);
const r = await fuzzUnderFaults({
  seed,
  durationMs: Number(values.duration) * 1000,
  faults: values.faults ? values.faults.split(',') : DEFAULT_FUZZ_FAULTS,
  concurrency: Number(values.concurrency),
  log: (l) => console.log(l),
});
for (const f of r.faults) console.log(`fault ${f.kind}: ${f.detail}`);
console.log(formatReport(r.fuzz));
console.log(`excused (oracle failed while a fault was active): ${r.fuzz.excused}`);
for (const b of r.before) {
  const a = r.after.find((x) => x.pid === b.pid);
  console.log(
    `${b.member} pid ${b.pid}: fds ${b.fds} -> ${a?.fds ?? '(restarted)'}, anon RSS ${(b.rssAnonBytes / 2 ** 20).toFixed(1)} -> ${a ? (a.rssAnonBytes / 2 ** 20).toFixed(1) : '(restarted)'} MiB`,
  );
}
if (r.agreement)
  console.log(
    `HashKV at revision ${r.agreement.revision}: ${r.agreement.hashes.map((h) => h.hash).join(' ')}`,
  );
for (const c of r.crashes) console.log(`CRASH: ${c}`);
for (const l of r.leaks) console.log(`LEAK: ${l}`);
process.exit(r.crashes.length > 0 || r.fuzz.failures.length > 0 || r.leaks.length > 0 ? 1 : 0);
