// Locks, watches and snapshot restore: tsetcd next to etcd 3.4, one member each, same machine,
// same run (indicative; measure CPU per request rather than wall clock on a shared machine).
// Rows, and the generator of each:
//   - lock+unlock, 1 client, and contended (10 and 100 clients on one lock name): the Go clientv3
//     generator (bench/go/etcdload): `lock` is clientv3/concurrency's Mutex (what `etcdctl lock`
//     does: a txn, a range, a watch when contended, a delete), `lock-rpc` the v3lock service's
//     Lock and Unlock RPCs. Throughput counts lock+unlock pairs; latency is one pair.
//     The server's CPU per pair is read from /proc/<pid>/stat around each run.
//   - watch event delay at 10,000 watchers: `node dist/bench/watch.js` (a Node grpc-js client,
//     the same for both: 10k watchers on 1k keys over 100 streams, 1,000 puts/s).
//   - snapshot restore of an etcd snapshot of 100k keys: `etcdctl snapshot restore` vs `tsetcd
//     snapshot restore` of the same file (wall time, peak RSS).
// Usage: node scripts/bench-lock-watch.mjs [--seconds 5] [--no-lock] [--no-watch] [--no-restore]
//        [--watchers 10000] [--restore-keys 100000]   (`npm run bench:lock-watch`; run `npm run build` first)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const lib = await import('./bench-lib.mjs');
const { root, argOf, cpuSeconds, launchTimed, machineLoad, fmt, ratio, restore } = lib;
const { planSingle, kill } = await import(join(root, 'dist/test/helpers/cluster.js'));
const { tempDir } = await import(join(root, 'dist/test/helpers/util.js'));
const { runGoGen, goGenAvailable } = await import(join(root, 'dist/bench/go-gen.js'));

const args = process.argv.slice(2);
const seconds = Number(argOf(args, '--seconds', '5'));
const watchers = Number(argOf(args, '--watchers', '10000'));
const restoreKeys = Number(argOf(args, '--restore-keys', '100000'));
const KINDS = ['etcd', 'tsetcd'];
const LOCK_ROWS = [
  { op: 'lock', clients: 1 },
  { op: 'lock-rpc', clients: 1 },
  { op: 'lock', clients: 10 },
  { op: 'lock', clients: 100 },
  { op: 'lock-rpc', clients: 100 },
];

/** Lock rows on one fresh member of `kind`: the generator's result plus server CPU per pair. */
async function lockRows(kind) {
  const dir = tempDir(`bench-lock-${kind}-`);
  const p = await planSingle(kind, 'm', join(dir.path, 'data'), { token: `bench-lock-${kind}` });
  const out = [];
  try {
    await launchTimed(p);
    for (const row of LOCK_ROWS) {
      const conns = Math.min(row.clients, 10);
      const common = {
        endpoints: [p.client],
        op: row.op,
        clients: row.clients,
        conns,
        lockName: `l-${row.op}-${row.clients}`,
      };
      await runGoGen({ ...common, total: Math.max(20, row.clients * 2) }); // warm-up (sessions, connections)
      const c0 = cpuSeconds(p.child.pid);
      const r = await runGoGen({ ...common, durationSec: seconds });
      const cpu = cpuSeconds(p.child.pid) - c0;
      out.push({
        ...row,
        rps: r.rps,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        errors: r.errors,
        cpuUs: (cpu * 1e6) / Math.max(1, r.succeeded),
      });
    }
  } finally {
    await kill(p);
    dir.remove();
  }
  return out;
}

/** bench/watch.js for both kinds; its per-kind lines parsed. */
function watchRows() {
  return new Promise((resolve, reject) => {
    const argv = [
      join(root, 'dist/bench/watch.js'),
      '--watchers',
      String(watchers),
      '--seconds',
      String(seconds),
      '--target',
      'both',
    ];
    const c = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    c.stdout.on('data', (d) => {
      text += d;
    });
    c.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`watch bench exited ${code}:\n${text}`));
      const rows = {};
      for (const line of text.split('\n')) {
        const m =
          /^(tsetcd|etcd)\s+writes (\d+).*events (\d+)\/(\d+)\s+delay p50 ([\d.]+) ms\s+p99 ([\d.]+) ms\s+max ([\d.]+) ms.*server RSS max (\d+) MiB\s+server CPU ([\d.]+) s/.exec(
            line,
          );
        if (m) {
          rows[m[1]] = {
            writes: +m[2],
            delivered: +m[3],
            expected: +m[4],
            p50Ms: +m[5],
            p99Ms: +m[6],
            maxMs: +m[7],
            rssMiB: +m[8],
            cpuS: +m[9],
          };
        }
      }
      resolve({ rows, text });
    });
  });
}

const load = machineLoad();
const lines = [`machine load at start: ${load}`, ''];
if (!args.includes('--no-lock')) {
  if (!goGenAvailable()) throw new Error('the Go generator needs go and golang-etcd-server-dev');
  const res = {};
  for (const kind of KINDS) res[kind] = await lockRows(kind);
  lines.push(
    `### Locks, one member each, Go clientv3 generator, ${seconds} s per row (throughput: higher is better; latency and CPU: lower)`,
    '',
    '| workload | etcd pairs/s | tsetcd pairs/s | ratio | etcd p50 / p99 ms | tsetcd p50 / p99 ms | server CPU per pair µs (etcd / tsetcd) |',
    '|---|---|---|---|---|---|---|',
  );
  LOCK_ROWS.forEach((row, i) => {
    const e = res.etcd[i];
    const t = res.tsetcd[i];
    const errs = e.errors + t.errors > 0 ? ` (errors ${e.errors} / ${t.errors})` : '';
    lines.push(
      `| ${row.op}, ${row.clients} client${row.clients > 1 ? 's, one name' : ''} | ${fmt(e.rps)} | ${fmt(t.rps)} | ${ratio(e.rps, t.rps)} | ${fmt(e.p50Ms, 2)} / ${fmt(e.p99Ms, 2)} | ${fmt(t.p50Ms, 2)} / ${fmt(t.p99Ms, 2)} | ${fmt(e.cpuUs)} / ${fmt(t.cpuUs)}${errs} |`,
    );
  });
  lines.push('');
  console.log(lines.splice(0).join('\n'));
}
if (!args.includes('--no-watch')) {
  const { rows, text } = await watchRows();
  const e = rows.etcd;
  const t = rows.tsetcd;
  if (!e || !t) throw new Error(`watch bench output not understood:\n${text}`);
  lines.push(
    `### Watch event delay, ${watchers.toLocaleString('en-US')} watchers, one member each (bench/watch.js, Node client; lower is better)`,
    '',
    '| metric | etcd 3.4 | tsetcd | tsetcd/etcd |',
    '|---|---|---|---|',
    `| events delivered / expected | ${e.delivered} / ${e.expected} | ${t.delivered} / ${t.expected} | - |`,
    `| delay p50 (ms) | ${fmt(e.p50Ms, 2)} | ${fmt(t.p50Ms, 2)} | ${ratio(e.p50Ms, t.p50Ms)} |`,
    `| delay p99 (ms) | ${fmt(e.p99Ms, 2)} | ${fmt(t.p99Ms, 2)} | ${ratio(e.p99Ms, t.p99Ms)} |`,
    `| delay max (ms) | ${fmt(e.maxMs, 1)} | ${fmt(t.maxMs, 1)} | ${ratio(e.maxMs, t.maxMs)} |`,
    `| server RSS max (MiB) | ${e.rssMiB} | ${t.rssMiB} | ${ratio(e.rssMiB, t.rssMiB)} |`,
    `| server CPU (s) | ${fmt(e.cpuS, 1)} | ${fmt(t.cpuS, 1)} | ${ratio(e.cpuS, t.cpuS)} |`,
    '',
  );
  console.log(lines.splice(0).join('\n'));
}
if (!args.includes('--no-restore')) {
  const r = await restore(restoreKeys);
  lines.push(
    `### Snapshot restore of an etcd snapshot of ${restoreKeys.toLocaleString('en-US')} keys (lower is better)`,
    '',
    '| metric | etcdctl | tsetcd | tsetcd/etcd |',
    '|---|---|---|---|',
    `| wall time (s) | ${fmt(r.etcd.s, 2)} | ${fmt(r.tsetcd.s, 2)} | ${ratio(r.etcd.s, r.tsetcd.s)} |`,
    `| peak RSS (MiB) | ${fmt(r.etcd.peakMiB)} | ${fmt(r.tsetcd.peakMiB)} | ${ratio(r.etcd.peakMiB, r.tsetcd.peakMiB)} |`,
    '',
  );
  console.log(lines.splice(0).join('\n'));
}
