// 3-member tsetcd next to 3-member etcd 3.4 on loopback, same load generator (`tsetcd bench
// --compare`), same flags, same run. Starts both clusters with fresh data dirs, runs issue #5's
// matrix (put at 1/100/1000 clients, linearizable and serializable range at 100 clients) with the
// connections spread over all three members of each cluster, and prints a markdown table of
// tsetcd/etcd ratios (throughput: higher is better; p99: etcd's over tsetcd's, higher is better).
// Usage: node scripts/bench-cluster.mjs [--quick] [--only put1,put100,...] [--json out.json]
// (run `npm run build` first; needs Debian's etcd on the PATH).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { endpoints, planCluster, startAll, stopAll } from '../dist/test/helpers/cluster.js';
import { tempDir } from '../dist/test/helpers/util.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? new Set(args[onlyArg + 1].split(',')) : undefined;
const jsonArg = args.indexOf('--json');
const jsonOut = jsonArg >= 0 ? args[jsonArg + 1] : undefined;

/** A fresh 3-member cluster of `kind` (test/helpers/cluster.ts), quiet logs, healthy. */
async function startCluster(kind, dir) {
  const procs = await planCluster(dir, 3, {
    kind,
    names: ['a', 'b', 'c'],
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
const rows = [
  {
    id: 'put1',
    label: 'put, 1 client',
    argv: ['put', '--clients', '1', '--conns', '1', '--total', n(3000), '--warmup', 200],
  },
  {
    id: 'put100',
    label: 'put, 100 clients',
    argv: ['put', '--clients', '100', '--conns', '12', '--total', n(30000), '--warmup', 2000],
  },
  {
    id: 'put1000',
    label: 'put, 1000 clients',
    argv: ['put', '--clients', '1000', '--conns', '100', '--total', n(60000), '--warmup', 5000],
  },
  {
    id: 'rangel100',
    label: 'range linearizable, 100 clients',
    argv: [
      'range',
      'foo',
      '--consistency',
      'l',
      '--clients',
      '100',
      '--conns',
      '12',
      '--total',
      n(40000),
      '--warmup',
      2000,
    ],
  },
  {
    id: 'ranges100',
    label: 'range serializable, 100 clients',
    argv: [
      'range',
      'foo',
      '--consistency',
      's',
      '--clients',
      '100',
      '--conns',
      '12',
      '--total',
      n(40000),
      '--warmup',
      2000,
    ],
  },
].filter((r) => !only || only.has(r.id));

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
  const compare = ['etcd', 'tsetcd'].map((k) => `${k}=${endpoints(clusters[k])}`).join(',');
  const results = [];
  for (const row of rows) {
    const argv = [...row.argv.map(String), '--rounds', '3', '--compare', compare, '-w', 'json'];
    if (row.argv[0] === 'put') argv.push('--val-size', String(V), '--key-space-size', '100000');
    process.stderr.write(`== ${row.label}\n`);
    const r = spawnSync(process.execPath, [join(root, 'bin/tsetcd.js'), 'bench', ...argv], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) {
      process.stderr.write(r.stdout);
      exitCode = 1;
    }
    const doc = JSON.parse(r.stdout);
    results.push({ row, doc });
  }
  const rss = {};
  for (const kind of ['etcd', 'tsetcd']) rss[kind] = clusters[kind].map((p) => rssMiB(p.child.pid));
  const lines = [
    '| workload (3 members, 256 B values) | etcd req/s | tsetcd req/s | ratio | etcd p99 ms | tsetcd p99 ms | p99 ratio (etcd/tsetcd) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const { row, doc } of results) {
    const [e, t] = doc.results;
    const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
    lines.push(
      `| ${row.label} | ${fmt(e.throughput)} | ${fmt(t.throughput)} | **${(t.throughput / e.throughput).toFixed(2)}x** | ${e.latencyMs.p99Ms.toFixed(2)} | ${t.latencyMs.p99Ms.toFixed(2)} | ${(e.latencyMs.p99Ms / t.latencyMs.p99Ms).toFixed(2)}x |`,
    );
  }
  lines.push(
    '',
    `RSS after the run (MiB, per member): etcd ${rss.etcd.join(' / ')}, tsetcd ${rss.tsetcd.join(' / ')}`,
  );
  console.log(lines.join('\n'));
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ results: results.map((r) => r.doc), rss }, null, 2));
} finally {
  for (const kind of ['etcd', 'tsetcd']) await stopAll(clusters[kind] ?? []);
  for (const d of Object.values(dirs)) d.remove();
}
process.exit(exitCode);
