// tsetcd next to etcd 3.4 on loopback, same load generator, same flags, same run. Starts both
// clusters (3 members each by default) with fresh data dirs, runs issue #5/#15's matrix (put at
// 1/100/1000 clients, txn-put at 100, linearizable and serializable range at 100) with the
// connections spread over every member, and prints a markdown table: throughput and p99 of each,
// their ratios, and the servers' CPU time per request summed over the members (/proc/<pid>/stat
// utime+stime before and after each run; it includes the generator's warm-up requests and is
// divided by them too).
//
// Generators (--gen): `go` (default when Go and Debian's etcd 3.4 sources are installed) is
// bench/go/etcdload, Go's clientv3 — the client etcd's own benchmark tool uses, which leaves the
// cores to the servers; `node` is `tsetcd bench` (src/cli/bench), which needs a large share of a
// 2-core machine itself. Rounds alternate which cluster goes first.
//
// Usage: node scripts/bench-cluster.mjs [--quick] [--gen go|node] [--members 1|3] [--rounds N]
//                                       [--only put1,put100,...] [--json out.json]
// (run `npm run build` first; needs Debian's etcd on the PATH).
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goGenAvailable, runGoGen } from '../dist/bench/go-gen.js';
import { cpuSeconds } from '../dist/bench/support.js';
import { endpoints, planCluster, startAll, stopAll } from '../dist/test/helpers/cluster.js';
import { tempDir } from '../dist/test/helpers/util.js';
import { argOf } from './bench-lib.mjs';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name) => argOf(args, name, undefined);
const quick = args.includes('--quick');
const only = flag('--only') ? new Set(flag('--only').split(',')) : undefined;
const jsonOut = flag('--json');
const gen = flag('--gen') ?? (goGenAvailable() ? 'go' : 'node');
const members = Number(flag('--members') ?? 3);
const rounds = Number(flag('--rounds') ?? (quick ? 1 : 3));
if (gen !== 'go' && gen !== 'node') throw new Error('--gen must be go or node');
if (members !== 1 && members !== 3) throw new Error('--members must be 1 or 3');
if (!(rounds >= 1)) throw new Error('--rounds must be >= 1');

/** A fresh cluster of `kind` (test/helpers/cluster.ts), quiet logs, healthy. */
async function startCluster(kind, dir) {
  const procs = await planCluster(dir, members, {
    kind,
    names: ['a', 'b', 'c'].slice(0, members),
    token: `bench-${kind}`,
    extraFlags: ['--log-level', 'error'],
  });
  await startAll(procs);
  return procs;
}

function rssMiB(pid) {
  const r = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  return Math.round(Number(r.stdout.trim()) / 1024);
}

const scale = quick ? 0.2 : 1;
const n = (x) => Math.max(100, Math.round(x * scale));
const V = 256;
/** The matrix; `total` and `warmup` are requests per round. */
const rows = [
  { id: 'put1', label: 'put, 1 client', op: 'put', clients: 1, conns: 1, total: n(3000), warmup: 200 },
  {
    id: 'put100',
    label: 'put, 100 clients',
    op: 'put',
    clients: 100,
    conns: 12,
    total: n(30000),
    warmup: 2000,
  },
  {
    id: 'put1000',
    label: 'put, 1000 clients',
    op: 'put',
    clients: 1000,
    conns: 100,
    total: n(60000),
    warmup: 5000,
  },
  {
    id: 'txnput100',
    label: 'txn-put, 100 clients',
    op: 'txn-put',
    clients: 100,
    conns: 12,
    total: n(30000),
    warmup: 2000,
  },
  {
    id: 'rangel100',
    label: 'range linearizable, 100 clients',
    op: 'range',
    consistency: 'l',
    clients: 100,
    conns: 12,
    total: n(40000),
    warmup: 2000,
  },
  {
    id: 'ranges100',
    label: 'range serializable, 100 clients',
    op: 'range',
    consistency: 's',
    clients: 100,
    conns: 12,
    total: n(40000),
    warmup: 2000,
  },
].filter((r) => !only || only.has(r.id));

/** Runs `tsetcd bench` once against `eps`; resolves with its result in the Go generator's shape. */
function runNodeGen(row, eps) {
  const argv = [row.op];
  if (row.op === 'range') argv.push('foo', '--consistency', row.consistency);
  argv.push('--clients', row.clients, '--conns', row.conns, '--total', row.total, '--warmup', row.warmup);
  if (row.op !== 'range') argv.push('--val-size', V, '--key-space-size', 100000);
  argv.push('--endpoints', eps.join(','), '-w', 'json');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/tsetcd.js'), 'bench', ...argv.map(String)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => {
      try {
        const r = JSON.parse(out).results[0];
        resolve({
          requests: r.requests,
          succeeded: r.succeeded,
          errors: r.errorCount,
          errorCounts: r.errors,
          seconds: r.durationSec,
          rps: r.throughput,
          p50Ms: r.latencyMs.p50Ms,
          p99Ms: r.latencyMs.p99Ms,
          clientCpuUsPerReq: (r.benchCpu.cpuMs * 1000) / r.requests,
        });
      } catch {
        reject(new Error(`tsetcd bench ${argv.join(' ')} exited ${code}: ${out.slice(-2000)}`));
      }
    });
  });
}

function runGen(row, eps) {
  if (gen === 'node') return runNodeGen(row, eps);
  return runGoGen({
    endpoints: eps,
    op: row.op,
    clients: row.clients,
    conns: row.conns,
    total: row.total,
    warmup: row.warmup,
    valSize: V,
    keySpaceSize: 100000,
    consistency: row.consistency,
  });
}

/** Server CPU seconds summed over the cluster's members. */
const clusterCpu = (procs) => procs.reduce((s, p) => s + cpuSeconds(p.child.pid), 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dirs = { etcd: tempDir('bench-etcd-'), tsetcd: tempDir('bench-tsetcd-') };
const clusters = {};
let exitCode = 0;
try {
  clusters.etcd = await startCluster('etcd', dirs.etcd.path);
  clusters.tsetcd = await startCluster('tsetcd', dirs.tsetcd.path);
  const value = 'x'.repeat(V);
  for (const kind of ['etcd', 'tsetcd']) {
    const r = spawnSync('etcdctl', ['--endpoints', clusters[kind][0].client, 'put', 'foo', value], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${kind}: seeding foo failed: ${r.stderr}`);
  }
  const results = [];
  for (const row of rows) {
    process.stderr.write(`== ${row.label} (${gen} generator, ${rounds} round(s))\n`);
    const per = { etcd: [], tsetcd: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['etcd', 'tsetcd'] : ['tsetcd', 'etcd'];
      for (const kind of order) {
        const eps = endpoints(clusters[kind]).split(',');
        const cpu0 = clusterCpu(clusters[kind]);
        const r = await runGen(row, eps);
        const cpuSec = clusterCpu(clusters[kind]) - cpu0;
        if (r.errors > 0) {
          process.stderr.write(`${kind}: ${r.errors} errors: ${JSON.stringify(r.errorCounts)}\n`);
          exitCode = 1;
        }
        per[kind].push({ ...r, serverCpuUsPerReq: (cpuSec * 1e6) / (r.requests + row.warmup) });
        process.stderr.write(
          `   ${kind.padEnd(6)} round ${round + 1}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms${r.p999Ms === undefined ? '' : `, p99.9 ${r.p999Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(0)} ms, ${r.slowOver500Ms} took >= 500 ms`}, server CPU ${per[kind].at(-1).serverCpuUsPerReq.toFixed(0)} µs/req\n`,
        );
      }
    }
    const sum = (kind) => {
      const rs = per[kind];
      const ok = rs.reduce((s, r) => s + r.succeeded, 0);
      const secs = rs.reduce((s, r) => s + r.seconds, 0);
      return {
        rps: ok / secs,
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        serverCpuUsPerReq: median(rs.map((r) => r.serverCpuUsPerReq)),
        genCpuUsPerReq: median(rs.map((r) => r.clientCpuUsPerReq)),
        slowOver500Ms: rs.reduce((s, r) => s + (r.slowOver500Ms ?? 0), 0),
        rounds: rs,
      };
    };
    results.push({ row, etcd: sum('etcd'), tsetcd: sum('tsetcd') });
  }
  const rss = {};
  for (const kind of ['etcd', 'tsetcd']) rss[kind] = clusters[kind].map((p) => rssMiB(p.child.pid));
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const lines = [
    `${gen} generator (${gen === 'go' ? 'Go clientv3, bench/go/etcdload' : 'tsetcd bench'}), ${members} member(s) each, 256 B values, ${rounds} round(s) per row; p99 and CPU are medians over rounds`,
    '',
    '| workload | etcd req/s | tsetcd req/s | ratio | etcd p99 ms | tsetcd p99 ms | p99 ratio (etcd/tsetcd) | etcd server CPU µs/req | tsetcd server CPU µs/req | CPU ratio (etcd/tsetcd) | generator CPU µs/req | requests >= 500 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { row, etcd: e, tsetcd: t } of results) {
    lines.push(
      `| ${row.label} | ${fmt(e.rps)} | ${fmt(t.rps)} | **${(t.rps / e.rps).toFixed(2)}x** | ${e.p99Ms.toFixed(2)} | ${t.p99Ms.toFixed(2)} | ${(e.p99Ms / t.p99Ms).toFixed(2)}x | ${e.serverCpuUsPerReq.toFixed(0)} | ${t.serverCpuUsPerReq.toFixed(0)} | **${(e.serverCpuUsPerReq / t.serverCpuUsPerReq).toFixed(2)}x** | ${e.genCpuUsPerReq.toFixed(0)} / ${t.genCpuUsPerReq.toFixed(0)} | ${gen === 'go' ? `${e.slowOver500Ms} / ${t.slowOver500Ms}` : '-'} |`,
    );
  }
  lines.push(
    '',
    'Ratios above 1.00x favour tsetcd. Server CPU is utime+stime summed over the members, per request (warm-up included).',
    `RSS after the run (MiB, per member): etcd ${rss.etcd.join(' / ')}, tsetcd ${rss.tsetcd.join(' / ')}`,
  );
  console.log(lines.join('\n'));
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ gen, members, rounds, results, rss }, null, 2));
} finally {
  for (const kind of ['etcd', 'tsetcd']) await stopAll(clusters[kind] ?? []);
  for (const d of Object.values(dirs)) d.remove();
}
process.exit(exitCode);
