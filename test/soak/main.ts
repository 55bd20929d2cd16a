/**
 * `npm run soak -- [--minutes 60] [--sample-every SECONDS] [--rate OPS] [--leak-bytes N]`: the soak
 * run (test/soak/soak.ts) from the command line. Prints every member's RSS, heap, open fds and
 * event-loop delay at each sample (every minute by default), then the leak check's table. Exits 1
 * when a member died or any series grows faster than its threshold. `--leak-bytes` makes the
 * members leak on purpose (a check of the check).
 */
import { parseArgs } from 'node:util';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { formatFindings, runSoak } from './soak.js';

helpFromHeader(import.meta.url);

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    'sample-every': { type: 'string' },
    rate: { type: 'string' },
    'leak-bytes': { type: 'string' },
  },
});
const minutes = Number(values.minutes);
console.log(`soak: ${minutes} min on a 3-member cluster`);
const r = await runSoak({
  minutes,
  ...(values['sample-every'] ? { sampleEveryMs: Number(values['sample-every']) * 1000 } : {}),
  ...(values.rate ? { opsPerSecond: Number(values.rate) } : {}),
  ...(values['leak-bytes'] ? { leakBytesPerStream: Number(values['leak-bytes']) } : {}),
  log: (l) => console.log(l),
});
console.log(
  `ops ok ${r.ops.ok}, failed ${r.ops.failed} (${JSON.stringify(r.ops.byType)}); watch events ${r.watchEvents}; compactions ${r.compactions}`,
);
console.log(formatFindings(r.findings));
for (const d of r.dead) console.log(`DEAD: ${d}`);
const leaking = r.findings.filter((f) => f.leaking);
process.exit(r.dead.length > 0 || leaking.length > 0 ? 1 : 0);
