// Start-up to healthy with N keys: tsetcd next to etcd 3.4, one member each, same machine, same
// run (indicative). Each kind gets a data dir loaded with N keys x 256 B (100 puts per txn, 16 txns
// in flight: the same load for both), then is restarted --restarts times after a clean stop
// (SIGTERM) and as many times after a crash (SIGKILL); each restart is timed from spawn to
// /health ok, and the server's CPU time (utime+stime) until then is read from /proc.
// Usage: node scripts/bench-startup.mjs [--keys 1000000] [--restarts 3] [--dir D] [--kinds etcd,tsetcd]
// --dir keeps the loaded data dirs in D (D/<kind>-<keys>) and reuses them in a later run, so the
// load (minutes at 1M keys) is paid once. Run `npm run build` first; `npm run bench:startup`.
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const lib = await import('./bench-lib.mjs');
const { root, argOf, mem, cpuSeconds, startLoaded, launchTimed, machineLoad, fmt, ratio } = lib;
const { kill, stop } = await import(join(root, 'dist/test/helpers/cluster.js'));

const args = process.argv.slice(2);
const keys = Number(argOf(args, '--keys', '1000000'));
const restarts = Number(argOf(args, '--restarts', '3'));
const keepDir = argOf(args, '--dir', undefined);
const kinds = String(argOf(args, '--kinds', 'etcd,tsetcd')).split(',');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One kind: load (unless already loaded in --dir), then timed restarts. */
async function run(kind) {
  const { p, close, loadS } = await startLoaded(kind, keys, keepDir, 'bench-startup');
  const out = { clean: [], crash: [], cleanCpu: [], crashCpu: [], loadS };
  try {
    for (let i = 0; i < restarts; i++) {
      await stop(p); // SIGTERM: a clean stop
      out.clean.push(await launchTimed(p));
      out.cleanCpu.push(cpuSeconds(p.child.pid));
      out.rssMiB = mem(p.child.pid).rss;
    }
    for (let i = 0; i < restarts; i++) {
      await kill(p); // SIGKILL: no clean close
      out.crash.push(await launchTimed(p));
      out.crashCpu.push(cpuSeconds(p.child.pid));
    }
    await stop(p);
  } finally {
    await close();
  }
  return out;
}

const results = {
  keys,
  machine: { load: machineLoad() },
};
for (const kind of kinds) results[kind] = await run(kind);
const e = results.etcd ?? {};
const t = results.tsetcd ?? {};
const row = (name, ev, tv, d = 2) => `| ${name} | ${fmt(ev, d)} | ${fmt(tv, d)} | ${ratio(ev, tv)} |`;
const s = (xs) => (xs && xs.length > 0 ? median(xs) / 1000 : undefined);
const c = (xs) => (xs && xs.length > 0 ? median(xs) : undefined);
console.log(
  [
    `machine load at start: ${results.machine.load}`,
    '',
    `### Start-up to /health ok, ${keys.toLocaleString('en-US')} keys x 256 B, one member each (median of ${restarts}; lower is better)`,
    '',
    '| metric | etcd 3.4 | tsetcd | tsetcd/etcd |',
    '|---|---|---|---|',
    row('restart after SIGTERM, spawn to healthy (s)', s(e.clean), s(t.clean)),
    row('  server CPU until healthy (s)', c(e.cleanCpu), c(t.cleanCpu)),
    row('restart after SIGKILL, spawn to healthy (s)', s(e.crash), s(t.crash)),
    row('  server CPU until healthy (s)', c(e.crashCpu), c(t.crashCpu)),
    row('RSS once healthy (MiB)', e.rssMiB, t.rssMiB, 0),
    row('load time (s; only when loaded in this run)', e.loadS, t.loadS, 1),
    '',
    `all restarts (ms): etcd clean ${(e.clean ?? []).map((x) => x.toFixed(0)).join(', ')}; crash ${(e.crash ?? []).map((x) => x.toFixed(0)).join(', ')}`,
    `                  tsetcd clean ${(t.clean ?? []).map((x) => x.toFixed(0)).join(', ')}; crash ${(t.crash ?? []).map((x) => x.toFixed(0)).join(', ')}`,
  ].join('\n'),
);
