/**
 * `npm run jepsen:auth -- [--token simple|jwt] [--duration S] [--seed N] [--faults LIST]`: the
 * Jepsen run with auth on (auth-run.ts). Prints the op counts by user, permission and outcome, the
 * faults, and every violation; exits 1 on any.
 */
import { parseArgs } from 'node:util';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { runAuthJepsen } from './auth-run.js';
import { parseFaults } from './nemesis.js';

helpFromHeader(import.meta.url);

const { values } = parseArgs({
  options: {
    token: { type: 'string', default: 'simple' },
    duration: { type: 'string', default: '60' },
    seed: { type: 'string' },
    faults: { type: 'string', default: 'kill,kill-leader,kill-all,pause-leader,partition-leader' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000;
const log = (l: string) => process.stderr.write(`[jepsen:auth] ${l}\n`);
log(`seed ${seed}, token ${values.token}, ${values.duration} s`);
const r = await runAuthJepsen({
  seed,
  durationMs: Number(values.duration) * 1000,
  token: values.token === 'jwt' ? 'jwt' : 'simple',
  faults: parseFaults(values.faults),
  log,
});
const counts: Record<string, number> = {};
for (const op of r.ops) {
  const k = `${op.user} ${op.allowed === undefined ? 'in-flight-revoke' : op.allowed ? 'allowed' : 'not-allowed'} ${op.outcome}`;
  counts[k] = (counts[k] ?? 0) + 1;
}
const errors: Record<string, number> = {};
for (const op of r.ops)
  if (op.outcome === 'error') errors[`${op.code} ${op.error}`] = (errors[`${op.code} ${op.error}`] ?? 0) + 1;
for (const [e, n] of Object.entries(errors)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 8))
  log(`error x${n}: ${e}`);
for (const f of r.faults) log(`fault ${f.kind}: ${f.detail}`);
for (const v of r.result.violations.slice(0, 30)) log(`VIOLATION ${v.kind}: ${v.detail}`);
process.stdout.write(
  `${JSON.stringify({ seed, token: values.token, ops: r.ops.length, counts, events: r.events.length, reauthentications: r.reauthentications, cluster: r.counters, checked: r.result.checked, violations: r.result.violations.length }, null, 2)}\n`,
);
process.exit(r.result.violations.length > 0 ? 1 : 0);
