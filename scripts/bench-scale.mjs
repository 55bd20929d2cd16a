// The scale curve: tsetcd next to etcd 3.4 at several store sizes (default 100k and 1M keys; the
// issue's curve adds 4M: --keys 100000,1000000,4000000), one member each, same machine, same run
// (indicative). For each key count N and each server, on a data dir loaded with N keys x 256 B
// (bench-lib's loader: 100 puts per txn, 16 txns in flight):
//   - load: time and keys/s, peak RSS (VmHWM);
//   - put and range with the Go clientv3 generator, 100 clients, --seconds each: requests/s, p99,
//     server CPU per request (puts: 8-byte keys, 256-byte values, key space N; range: one loaded
//     key, linearizable);
//   - RSS after;
//   - restart after SIGTERM, spawn to /health ok;
//   - compaction pause: a physical compaction to the current revision while 10 clients put; the
//     Compact call's time and the puts' max latency meanwhile.
// Writes a markdown table per metric to stdout, --json and an SVG plot (--svg, default
// <tmp>/bench-scale.svg). --dir D keeps/reuses loaded data dirs (D/<kind>-<N>, as bench-startup).
// Usage: node scripts/bench-scale.mjs [--keys 100000,1000000] [--seconds 5] [--dir D] [--svg f] [--json f]
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const lib = await import('./bench-lib.mjs');
const { root, argOf, mem, cpuSeconds, startLoaded, launchTimed, machineLoad, fmt, ratio, keyOf } = lib;
const { stop } = await import(join(root, 'dist/test/helpers/cluster.js'));
const { connect } = await import(join(root, 'dist/test/helpers/grpc.js'));
const { runGoGen } = await import(join(root, 'dist/bench/go-gen.js'));

const args = process.argv.slice(2);
const keyCounts = String(argOf(args, '--keys', '100000,1000000'))
  .split(',')
  .map(Number);
const seconds = Number(argOf(args, '--seconds', '5'));
const keepDir = argOf(args, '--dir', undefined);
const jsonOut = argOf(args, '--json', undefined);
const svgOut = argOf(args, '--svg', join(tmpdir(), 'bench-scale.svg'));
const KINDS = ['etcd', 'tsetcd'];

/** Go generator run with the server's CPU per request around it. */
async function gen(p, o) {
  const c0 = cpuSeconds(p.child.pid);
  const r = await runGoGen({ endpoints: [p.client], conns: Math.min(o.clients, 10), ...o });
  return { ...r, cpuUs: ((cpuSeconds(p.child.pid) - c0) * 1e6) / Math.max(1, r.succeeded) };
}

async function one(kind, n) {
  const { p, close, loadS, loadPeakMiB } = await startLoaded(kind, n, keepDir, 'bench-scale');
  const out = { keys: n, kind };
  if (loadS !== undefined) Object.assign(out, { loadS, loadKeysPerS: n / loadS, loadPeakMiB });
  try {
    const put = await gen(p, {
      op: 'put',
      clients: 100,
      durationSec: seconds,
      keySize: 8,
      valSize: 256,
      keySpaceSize: n,
    });
    out.putRps = put.rps;
    out.putP99Ms = put.p99Ms;
    out.putCpuUs = put.cpuUs;
    const range = await gen(p, {
      op: 'range',
      clients: 100,
      durationSec: seconds,
      rangeKey: keyOf(1).toString(),
    });
    out.rangeRps = range.rps;
    out.rangeP99Ms = range.p99Ms;
    out.rangeCpuUs = range.cpuUs;
    out.rssMiB = mem(p.child.pid).rss;

    // compaction pause: compact (physical) to the current revision while 10 clients put
    const c = connect(p.client);
    const bg = gen(p, {
      op: 'put',
      clients: 10,
      durationSec: seconds,
      keySize: 8,
      valSize: 256,
      keySpaceSize: n,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const { header } = await c.kv.range({ key: keyOf(0) });
    const t1 = performance.now();
    await c.kv.compact({ revision: header.revision, physical: true }, { deadlineMs: 600_000 });
    out.compactMs = performance.now() - t1;
    const during = await bg;
    out.compactPutMaxMs = during.maxMs;
    out.compactPutP99Ms = during.p99Ms;
    c.close();

    await stop(p);
    out.startS = (await launchTimed(p)) / 1000;
    await stop(p);
  } finally {
    await close();
  }
  return out;
}

const results = {
  machine: { load: machineLoad() },
  runs: [],
};
for (const n of keyCounts) for (const kind of KINDS) results.runs.push(await one(kind, n));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);

const METRICS = [
  ['putRps', 'put, 100 clients (req/s; higher is better)', 0],
  ['putP99Ms', 'put p99 (ms)', 1],
  ['putCpuUs', 'put: server CPU per request (µs)', 0],
  ['rangeRps', 'range, 100 clients (req/s; higher is better)', 0],
  ['rangeP99Ms', 'range p99 (ms)', 1],
  ['rangeCpuUs', 'range: server CPU per request (µs)', 0],
  ['loadKeysPerS', 'load, 100 puts per txn (keys/s; higher is better)', 0],
  ['loadPeakMiB', 'peak RSS while loading (MiB)', 0],
  ['rssMiB', 'RSS after the load and runs (MiB)', 0],
  ['startS', 'restart after SIGTERM to /health ok (s)', 2],
  ['compactMs', 'physical compaction to the current revision (ms)', 0],
  ['compactPutMaxMs', 'put max latency during the compaction (ms)', 0],
];
const get = (kind, n, k) => results.runs.find((r) => r.kind === kind && r.keys === n)?.[k];
const lines = [`machine load at start: ${results.machine.load}`, ''];
lines.push(
  `| metric | ${keyCounts.map((n) => `${n.toLocaleString('en-US')} keys: etcd / tsetcd (ratio)`).join(' | ')} |`,
);
lines.push(`|---|${keyCounts.map(() => '---').join('|')}|`);
for (const [k, name, d] of METRICS) {
  lines.push(
    `| ${name} | ${keyCounts.map((n) => `${fmt(get('etcd', n, k), d)} / ${fmt(get('tsetcd', n, k), d)} (${ratio(get('etcd', n, k), get('tsetcd', n, k))})`).join(' | ')} |`,
  );
}
console.log(lines.join('\n'));
writeFileSync(svgOut, plot());
console.log(`\nplot: ${svgOut}`);

/** One panel per metric: value against key count (log scale), a line per server. */
function plot() {
  const W = 300;
  const H = 190;
  const cols = 3;
  const rows = Math.ceil(METRICS.length / cols);
  const color = { etcd: '#1f77b4', tsetcd: '#d62728' };
  const parts = [];
  METRICS.forEach(([k, name], i) => {
    const x0 = (i % cols) * W;
    const y0 = Math.floor(i / cols) * H;
    const vals = results.runs.map((r) => r[k]).filter((v) => typeof v === 'number');
    const max = Math.max(1e-9, ...vals) * 1.1;
    const lx = Math.log10(Math.min(...keyCounts));
    const hx = Math.log10(Math.max(...keyCounts));
    const px = (n) => x0 + 45 + (hx === lx ? 110 : ((Math.log10(n) - lx) / (hx - lx)) * 220);
    const py = (v) => y0 + 160 - (v / max) * 120;
    parts.push(`<text x="${x0 + 10}" y="${y0 + 20}" font-size="11">${name.replace(/&/g, '&amp;')}</text>`);
    parts.push(`<line x1="${x0 + 45}" y1="${y0 + 160}" x2="${x0 + 270}" y2="${y0 + 160}" stroke="#999"/>`);
    parts.push(`<text x="${x0 + 5}" y="${y0 + 44}" font-size="9">${fmt(max, max < 10 ? 2 : 0)}</text>`);
    for (const n of keyCounts)
      parts.push(
        `<text x="${px(n) - 12}" y="${y0 + 175}" font-size="9">${n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`}</text>`,
      );
    for (const kind of KINDS) {
      const pts = keyCounts.map((n) => [n, get(kind, n, k)]).filter(([, v]) => typeof v === 'number');
      if (pts.length === 0) continue;
      parts.push(
        `<polyline fill="none" stroke="${color[kind]}" stroke-width="2" points="${pts.map(([n, v]) => `${px(n).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [n, v] of pts)
        parts.push(`<circle cx="${px(n).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${color[kind]}"/>`);
    }
  });
  const legend = KINDS.map(
    (kind, i) =>
      `<text x="${10 + i * 80}" y="${rows * H + 15}" font-size="12" fill="${color[kind]}">${kind === 'etcd' ? 'etcd 3.4' : 'tsetcd'}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W}" height="${rows * H + 25}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}${legend.join('')}</svg>\n`;
}
