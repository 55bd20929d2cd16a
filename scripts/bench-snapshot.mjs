// Snapshots in etcd's format, tsetcd next to etcd 3.4 (indicative, one run each): loads N keys
// (default 1M, 100-byte values, 100 puts per txn) into a single etcd member and a single tsetcd
// member, then
//  - times `etcdctl snapshot save` against each, idle;
//  - measures a save's impact on concurrent writes: W writers (10, then 100; closed loop, one put
//    in flight each, over 4 channels) for a baseline window, then again while `etcdctl snapshot
//    save` runs: puts/s before and during, the save's time under load, and the member's CPU time per
//    put (utime + stime from /proc/<pid>/stat, which the shared machine's load disturbs less than
//    wall-clock throughput);
//  - restores etcd's snapshot with `etcdctl snapshot restore` and with `tsetcd snapshot restore`
//    (wall time and peak RSS from /usr/bin/time), and starts tsetcd on the dir etcdctl restored
//    (the import of an etcd data dir: time to healthy, and the process's peak RSS, VmHWM).
// Usage: node scripts/bench-snapshot.mjs [--keys N] [--window-ms MS] (run `npm run build` first;
// needs etcd and etcdctl 3.4 on the PATH). The lead's command on the idle machine:
//   npm run bench:snapshot                 (1M keys; about 10 minutes)
//   npm run bench:snapshot -- --keys 50000 (a quick check)
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const { b, connect, cpuMs, freePort, isHealthy, restoreArgs, timeCommand, waitFor } = await import(
  join(root, 'dist/test/helpers/index.js')
);
const { kill, planSingle } = await import(join(root, 'dist/test/helpers/cluster.js'));
const { argOf, launchTimed, QUOTA_FLAGS } = await import('./bench-lib.mjs');
const args = process.argv.slice(2);
const keys = Number(argOf(args, '--keys', 1_000_000));
const windowMs = Number(argOf(args, '--window-ms', 5000));
const dir = mkdtempSync(join(tmpdir(), 'tsetcd-bench-snapshot-'));
/** Members started by `start` (killed at the end). */
const procs = [];
/** Other processes started here (killed at the end). */
const children = [];

/** A single member of `kind` (etcd's default cluster token) on fresh ports, started and healthy. */
async function start(kind) {
  const p = await planSingle(kind, 'm', join(dir, kind), { token: 'etcd-cluster' });
  p.args.push(...QUOTA_FLAGS);
  procs.push(p);
  await launchTimed(p, 20_000);
  return { client: p.client, pid: p.child.pid };
}

/** Waits until `client` (host:port) answers /health ok; `what` names it in the timeout error. */
async function healthy(client, what, timeoutMs) {
  await waitFor(() => isHealthy(`http://${client}`), { timeoutMs, intervalMs: 50, what });
}

/**
 * `writers` closed-loop writers (one put in flight each, over 4 channels) until `stop()`; returns
 * the number of puts acknowledged between `mark()` calls.
 */
function writeLoad(client, writers) {
  const chans = Array.from({ length: 4 }, () => connect(client));
  const value = Buffer.alloc(100, 119);
  let done = 0;
  let stopped = false;
  const loops = Array.from({ length: writers }, async (_, w) => {
    let i = 0;
    while (!stopped) {
      await chans[w % 4].kv.put({ key: b(`w/${w}/${i++ % 100}`), value });
      done++;
    }
  });
  return {
    mark: () => done,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      for (const c of chans) c.close();
    },
  };
}

/** Puts/s and member CPU ms per put over `ms` of `load`, or over `during()` when given. */
async function measure(load, pid, ms, during) {
  const c0 = cpuMs(pid);
  const n0 = load.mark();
  const t0 = performance.now();
  let extra;
  if (during) extra = await during();
  else await new Promise((r) => setTimeout(r, ms));
  const secs = (performance.now() - t0) / 1000;
  const puts = load.mark() - n0;
  return {
    perSec: Math.round(puts / secs),
    cpuPerPut: puts > 0 ? (cpuMs(pid) - c0) / puts : NaN,
    secs,
    extra,
  };
}

/** Peak RSS (VmHWM) of a running process, MB. */
function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function load(client) {
  const c = connect(client);
  const value = Buffer.alloc(100, 120);
  const perTxn = 100;
  let next = 0;
  const worker = async () => {
    while (next < keys) {
      const from = next;
      next += perTxn;
      const success = [];
      for (let i = from; i < Math.min(from + perTxn, keys); i++) {
        success.push({ requestPut: { key: b(`key/${String(i).padStart(8, '0')}`), value } });
      }
      await c.kv.txn({ compare: [], success, failure: [] });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  c.close();
}

/** Wall time (ms) and peak RSS (MB) of a command, rounded. */
function timed(cmd, args) {
  const t = timeCommand(cmd, args);
  return { ms: Math.round(t.ms), rssMb: Math.round(t.peakRssKiB / 1024) };
}

try {
  const rows = [];
  const impact = [];
  const files = {};
  for (const kind of ['etcd', 'tsetcd']) {
    const { client, pid } = await start(kind);
    const t0 = performance.now();
    await load(client);
    const loadMs = Math.round(performance.now() - t0);
    files[kind] = join(dir, `${kind}.db`);
    const save = timed('etcdctl', ['--endpoints', client, 'snapshot', 'save', files[kind]]);
    rows.push(
      `| snapshot save of ${keys} keys from ${kind}, idle | ${save.ms} ms | ${(statSync(files[kind]).size / 1e6).toFixed(1)} MB (load took ${loadMs} ms) |`,
    );
    for (const writers of [10, 100]) {
      const w = writeLoad(client, writers);
      await new Promise((r) => setTimeout(r, 1000)); // warm up
      const before = await measure(w, pid, windowMs);
      const file = join(dir, `${kind}-${writers}.db`);
      const during = await measure(w, pid, 0, async () => {
        const s0 = performance.now();
        await new Promise((resolve, reject) => {
          const ctl = spawn('etcdctl', ['--endpoints', client, 'snapshot', 'save', file], {
            stdio: 'ignore',
            env: { ...process.env, ETCDCTL_API: '3' },
          });
          ctl.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`snapshot save exited ${code}`)),
          );
        });
        return Math.round(performance.now() - s0);
      });
      await w.stop();
      rmSync(file, { force: true });
      impact.push(
        `| ${kind} | ${writers} | ${before.perSec} | ${during.perSec} | ${(during.perSec / before.perSec).toFixed(2)} | ${during.extra} ms | ${before.cpuPerPut.toFixed(3)} | ${during.cpuPerPut.toFixed(3)} |`,
      );
    }
  }
  const peer = 'http://127.0.0.1:1';
  const er = timed('etcdctl', restoreArgs(files.etcd, { name: 'r', dataDir: join(dir, 'r-etcd'), peer }));
  rows.push(`| etcdctl snapshot restore (etcd's file) | ${er.ms} ms | peak RSS ${er.rssMb} MB |`);
  const tr = timed(process.execPath, [
    join(root, 'bin/tsetcd.js'),
    ...restoreArgs(files.etcd, { name: 'r', dataDir: join(dir, 'r-tsetcd'), peer }),
  ]);
  rows.push(`| tsetcd snapshot restore (etcd's file) | ${tr.ms} ms | peak RSS ${tr.rssMb} MB |`);
  // tsetcd started on the data dir etcdctl restored: the import, then the start.
  const imported = join(dir, 'r-etcd-for-tsetcd');
  cpSync(join(dir, 'r-etcd'), imported, { recursive: true });
  const client = `127.0.0.1:${await freePort()}`;
  const t1 = performance.now();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/tsetcd.js'),
      ...['--name', 'r', '--data-dir', imported, '--listen-client-urls', `http://${client}`],
      ...[
        '--advertise-client-urls',
        `http://${client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${await freePort()}`,
      ],
      ...QUOTA_FLAGS,
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  await healthy(client, 'tsetcd on the etcd dir', 600_000);
  const importMs = Math.round(performance.now() - t1);
  rows.push(
    `| tsetcd started on etcdctl's restored dir (import + start, to healthy) | ${importMs} ms | peak RSS ${peakRssMb(child.pid)} MB |`,
  );
  console.log('| what | time | notes |\n|---|---|---|');
  console.log(rows.join('\n'));
  console.log(
    `\nWrites during a snapshot save (${keys} keys; baseline window ${windowMs} ms, then the save's duration):\n`,
  );
  console.log(
    '| member | writers | puts/s before | puts/s during save | during/before | save under load | member CPU ms/put before | during |\n|---|---|---|---|---|---|---|---|',
  );
  console.log(impact.join('\n'));
} finally {
  for (const p of procs) await kill(p);
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
