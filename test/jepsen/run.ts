/**
 * CLI of the Jepsen-style suite: `npm run jepsen -- --duration 600 --faults all --seed 7`.
 * Flags: --seed N (default: time-based, printed), --duration SECONDS (default 60),
 * --faults LIST (groups process,network,disk or kinds; default all), --clients N, --keys N,
 * --compact-every SECONDS (compact during the run, default 3; 0 = never), --combine (two faults
 * at once from different groups),
 * --history FILE (write the full history as JSON), --report (rewrite docs/RELIABILITY.md's table
 * with this run's numbers). `--check FILE` re-runs the checkers on a saved history instead.
 * Exits 1 when any checker found a violation or could not decide.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { repoRoot } from '../helpers/index.js';
import { checkAll } from './checkers/index.js';
import { parseFaults } from './nemesis.js';
import { updateReliabilityDoc } from './report.js';
import { historyFromJson, runJepsen, summarize } from './runner.js';

helpFromHeader(import.meta.url);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const saved = arg('check');
  if (saved !== undefined) {
    const h = historyFromJson(JSON.parse(readFileSync(saved, 'utf8')));
    const results = checkAll(h);
    for (const res of results) {
      for (const v of res.violations.slice(0, 20))
        process.stderr.write(`VIOLATION ${v.checker}/${v.kind}: ${v.detail}\n`);
      for (const u of res.undecided.slice(0, 20)) process.stderr.write(`UNDECIDED ${res.checker}: ${u}\n`);
    }
    const s = summarize(h, results, { seed: h.seed, faults: [] });
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    process.exit(s.violations > 0 || s.undecided > 0 ? 1 : 0);
  }
  const seed = Number(arg('seed') ?? Date.now() % 1_000_000);
  const durationMs = Number(arg('duration') ?? 60) * 1000;
  const faults = parseFaults(arg('faults') ?? 'all');
  const log = (l: string) => process.stderr.write(`[jepsen] ${l}\n`);
  log(`seed ${seed}, ${durationMs / 1000} s, faults ${faults.join(',')}`);
  const r = await runJepsen({
    seed,
    durationMs,
    faults,
    clients: arg('clients') ? Number(arg('clients')) : undefined,
    keys: arg('keys') ? Number(arg('keys')) : undefined,
    compactEveryMs: Number(arg('compact-every') ?? 3) * 1000,
    combineFaults: process.argv.includes('--combine'),
    historyOut: arg('history'),
    log,
  });
  for (const res of r.results) {
    for (const v of res.violations.slice(0, 20)) log(`VIOLATION ${v.checker}/${v.kind}: ${v.detail}`);
    for (const u of res.undecided.slice(0, 20)) log(`UNDECIDED ${res.checker}: ${u}`);
  }
  process.stdout.write(`${JSON.stringify(r.summary, null, 2)}\n`);
  if (process.argv.includes('--report')) {
    const path = join(repoRoot(), 'docs', 'RELIABILITY.md');
    updateReliabilityDoc(path, r.summary);
    log(`wrote ${path}`);
  }
  process.exit(r.summary.violations > 0 || r.summary.undecided > 0 ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(2);
});
