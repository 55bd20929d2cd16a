// Memory, start-up and scale: tsetcd next to etcd 3.4 in the same run, same flags, same client
// (indicative: one run each, on whatever else the machine is doing). For each key count N:
//   - one single member of each kind, fresh data dir: load N keys (256-byte values, 100 puts per
//     txn, 16 txns in flight), peak RSS while loading (the process's VmHWM) and RSS after;
//   - a range over all N keys without a limit: time to the whole response, and the server's peak
//     RSS during it above its RSS before (VmHWM reset through /proc/<pid>/clear_refs when we may);
//   - restart (SIGTERM, start again): time from spawn to /health ok, RSS once healthy;
// then once: `snapshot restore` of an etcd snapshot of --restore-keys keys (default 100,000, etcd's
// own `etcdctl snapshot restore` vs `tsetcd snapshot restore`, wall time and peak RSS), and a
// 3-member cluster of each kind: RSS per member idle, and after loading min(N, 100k) keys.
// Prints a markdown table per N, and writes --json and an SVG plot (--svg, default
// docs/images/bench-memory.svg when --write-docs-image is given, else <tmp>/bench-memory.svg).
// Usage: node scripts/bench-memory.mjs [--keys 100000[,1000000,...]] [--restore-keys N]
//        [--no-cluster] [--no-restore] [--json out.json] [--svg out.svg]
// (run `npm run build` first; needs etcd and etcdctl 3.4 on the PATH; `npm run bench:memory`).
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const { connect } = await import(join(root, 'dist/test/helpers/grpc.js'));
const { planCluster, planSingle, startAll, stopAll, kill, stop } = await import(
  join(root, 'dist/test/helpers/cluster.js')
);
const { tempDir } = await import(join(root, 'dist/test/helpers/util.js'));
const {
  mem,
  resetPeak,
  load,
  launchTimed,
  machineLoad,
  fmt,
  ratio,
  VALUE_BYTES,
  QUOTA_FLAGS,
  restore,
  argOf,
} = await import('./bench-lib.mjs');

const args = process.argv.slice(2);
const arg = (name, dflt) => argOf(args, name, dflt);
const keyCounts = String(arg('--keys', '100000')).split(',').map(Number);
const restoreKeys = Number(arg('--restore-keys', '100000'));
const withCluster = !args.includes('--no-cluster');
const withRestore = !args.includes('--no-restore');
const jsonOut = arg('--json', undefined);
const svgOut = arg('--svg', join(tmpdir(), 'bench-memory.svg'));
const KINDS = ['etcd', 'tsetcd'];

/** The single-member rows for `kind` at `n` keys. */
async function single(kind, n) {
  const dir = tempDir(`bench-mem-${kind}-`);
  const p = await planSingle(kind, 'm', join(dir.path, 'data'), { token: `bench-mem-${kind}` });
  p.args.push(...QUOTA_FLAGS);
  const out = {};
  try {
    await launchTimed(p);
    const pid = p.child.pid;
    const t0 = performance.now();
    await load(p.client, 0, n);
    out.loadS = (performance.now() - t0) / 1000;
    const m = mem(pid);
    out.loadPeakMiB = m.hwm;
    out.loadedRssMiB = m.rss;

    // one range over everything, no limit
    const m0 = mem(pid);
    const before = m0.rss;
    const peakReset = resetPeak(pid);
    let peak = before;
    let peakAnon = m0.anon;
    const sampler = setInterval(() => {
      const m1 = mem(pid);
      peak = Math.max(peak, m1.rss);
      peakAnon = Math.max(peakAnon, m1.anon);
    }, 20);
    const c = connect(p.client, { maxReceiveBytes: 2 ** 31 - 1 });
    const t1 = performance.now();
    const r = await c.kv.range(
      { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) },
      { deadlineMs: 600_000 },
    );
    out.rangeAllS = (performance.now() - t1) / 1000;
    clearInterval(sampler);
    c.close();
    if (Number(r.count) !== n || r.kvs.length !== n)
      throw new Error(`${kind}: range returned ${r.kvs.length}/${r.count} of ${n}`);
    out.rangeAllExtraMiB = Math.max(peak, peakReset ? mem(pid).hwm : 0) - before;
    // anonymous memory only (heap, buffers): without the mapped database pages the range read
    out.rangeAllExtraAnonMiB = Math.max(peakAnon, mem(pid).anon) - m0.anon;

    // restart: SIGTERM, then time to healthy
    await stop(p);
    out.startS = (await launchTimed(p)) / 1000;
    out.restartRssMiB = mem(p.child.pid).rss;
  } finally {
    await kill(p);
    dir.remove();
  }
  return out;
}

/** RSS per member of a 3-member cluster: idle after start, then after loading `n` keys. */
async function cluster(kind, n) {
  const dir = tempDir(`bench-mem-cluster-${kind}-`);
  const procs = await planCluster(dir.path, 3, {
    kind,
    token: `bench-mem-c-${kind}`,
    extraFlags: QUOTA_FLAGS,
  });
  try {
    await startAll(procs);
    await new Promise((r) => setTimeout(r, 2000)); // settle (heartbeats, first snapshot of the member table)
    const idle = procs.map((q) => mem(q.child.pid).rss);
    await load(procs[0].client, 0, n);
    const loaded = procs.map((q) => mem(q.child.pid).rss);
    return { idle, loaded };
  } finally {
    await stopAll(procs);
    dir.remove();
  }
}

const results = {
  machine: { load: machineLoad() },
  sizes: [],
};
for (const n of keyCounts) {
  const row = { keys: n };
  for (const kind of KINDS) {
    process.stderr.write(`== ${kind}: ${n} keys\n`);
    row[kind] = await single(kind, n);
  }
  results.sizes.push(row);
}
if (withRestore) {
  process.stderr.write(`== snapshot restore of ${restoreKeys} keys\n`);
  results.restore = { keys: restoreKeys, ...(await restore(restoreKeys)) };
}
if (withCluster) {
  const n = Math.min(100_000, keyCounts[0]);
  results.cluster = { keys: n };
  for (const kind of KINDS) {
    process.stderr.write(`== 3-member ${kind}, ${n} keys\n`);
    results.cluster[kind] = await cluster(kind, n);
  }
}

const lines = [`machine load at start: ${results.machine.load}`, ''];
for (const s of results.sizes) {
  const e = s.etcd;
  const t = s.tsetcd;
  lines.push(
    `### ${s.keys.toLocaleString('en-US')} keys x ${VALUE_BYTES} B, single member (lower is better; ratio tsetcd/etcd)`,
    '',
    '| metric | etcd 3.4 | tsetcd | tsetcd/etcd |',
    '|---|---|---|---|',
    `| peak RSS while loading (MiB) | ${fmt(e.loadPeakMiB)} | ${fmt(t.loadPeakMiB)} | ${ratio(e.loadPeakMiB, t.loadPeakMiB)} |`,
    `| RSS after loading (MiB) | ${fmt(e.loadedRssMiB)} | ${fmt(t.loadedRssMiB)} | ${ratio(e.loadedRssMiB, t.loadedRssMiB)} |`,
    `| load time (s) | ${fmt(e.loadS, 1)} | ${fmt(t.loadS, 1)} | ${ratio(e.loadS, t.loadS)} |`,
    `| range of all keys, no limit (s) | ${fmt(e.rangeAllS, 2)} | ${fmt(t.rangeAllS, 2)} | ${ratio(e.rangeAllS, t.rangeAllS)} |`,
    `| range of all keys: server RSS above its level before (MiB) | ${fmt(e.rangeAllExtraMiB)} | ${fmt(t.rangeAllExtraMiB)} | ${ratio(e.rangeAllExtraMiB, t.rangeAllExtraMiB)} |`,
    `| range of all keys: anonymous RSS above its level before, sampled every 20 ms (MiB) | ${fmt(e.rangeAllExtraAnonMiB)} | ${fmt(t.rangeAllExtraAnonMiB)} | ${ratio(e.rangeAllExtraAnonMiB, t.rangeAllExtraAnonMiB)} |`,
    `| restart to /health ok (s) | ${fmt(e.startS, 2)} | ${fmt(t.startS, 2)} | ${ratio(e.startS, t.startS)} |`,
    `| RSS after restart (MiB) | ${fmt(e.restartRssMiB)} | ${fmt(t.restartRssMiB)} | ${ratio(e.restartRssMiB, t.restartRssMiB)} |`,
    '',
  );
}
if (results.restore) {
  const { etcd: e, tsetcd: t, keys } = results.restore;
  lines.push(
    `### snapshot restore of an etcd snapshot of ${keys.toLocaleString('en-US')} keys`,
    '',
    '| metric | etcdctl snapshot restore | tsetcd snapshot restore | tsetcd/etcd |',
    '|---|---|---|---|',
    `| wall time (s) | ${fmt(e.s, 2)} | ${fmt(t.s, 2)} | ${ratio(e.s, t.s)} |`,
    `| peak RSS (MiB) | ${fmt(e.peakMiB)} | ${fmt(t.peakMiB)} | ${ratio(e.peakMiB, t.peakMiB)} |`,
    '',
  );
}
if (results.cluster) {
  const c = results.cluster;
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  lines.push(
    `### 3-member cluster, RSS per member (MiB)`,
    '',
    '| state | etcd 3.4 | tsetcd | tsetcd/etcd (sum) |',
    '|---|---|---|---|',
    `| idle after start | ${c.etcd.idle.map((x) => fmt(x)).join(' / ')} | ${c.tsetcd.idle.map((x) => fmt(x)).join(' / ')} | ${ratio(sum(c.etcd.idle), sum(c.tsetcd.idle))} |`,
    `| after loading ${c.keys.toLocaleString('en-US')} keys | ${c.etcd.loaded.map((x) => fmt(x)).join(' / ')} | ${c.tsetcd.loaded.map((x) => fmt(x)).join(' / ')} | ${ratio(sum(c.etcd.loaded), sum(c.tsetcd.loaded))} |`,
    '',
  );
}
console.log(lines.join('\n'));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(svgOut, plot(results));
process.stderr.write(`plot written to ${svgOut}\n`);

/**
 * One SVG, no external service: a panel per metric with a bar per (key count, server), values
 * printed on the bars. Lower is better everywhere.
 */
function plot(res) {
  const metrics = [
    ['loadPeakMiB', 'peak RSS while loading (MiB)'],
    ['restartRssMiB', 'RSS after restart (MiB)'],
    ['startS', 'restart to healthy (s)'],
    ['rangeAllS', 'range of all keys (s)'],
    ['rangeAllExtraMiB', 'RSS added by that range (MiB)'],
  ];
  const panels = metrics.map(([k, title]) => ({
    title,
    bars: res.sizes.flatMap((s) =>
      KINDS.map((kind) => ({
        label: `${kind} ${s.keys >= 1e6 ? `${s.keys / 1e6}M` : `${s.keys / 1e3}k`}`,
        kind,
        v: s[kind][k] ?? 0,
      })),
    ),
  }));
  if (res.restore) {
    panels.push({
      title: `snapshot restore, ${res.restore.keys / 1e3}k keys (s)`,
      bars: KINDS.map((kind) => ({ label: kind, kind, v: res.restore[kind].s })),
    });
  }
  if (res.cluster) {
    panels.push({
      title: `3 members, RSS per member after ${res.cluster.keys / 1e3}k keys (MiB)`,
      bars: KINDS.flatMap((kind) =>
        res.cluster[kind].loaded.map((v, i) => ({ label: `${kind} ${i + 1}`, kind, v })),
      ),
    });
  }
  const W = 460;
  const barH = 18;
  const colors = { etcd: '#4e79a7', tsetcd: '#f28e2b' };
  let y = 40;
  const parts = [];
  for (const p of panels) {
    const max = Math.max(...p.bars.map((b) => b.v), 1e-9);
    parts.push(`<text x="10" y="${y}" font-weight="bold">${p.title}</text>`);
    y += 8;
    for (const b of p.bars) {
      const w = Math.max(1, (b.v / max) * (W - 200));
      parts.push(
        `<text x="10" y="${y + 13}">${b.label}</text>`,
        `<rect x="110" y="${y}" width="${w.toFixed(1)}" height="${barH - 4}" fill="${colors[b.kind]}"/>`,
        `<text x="${(115 + w).toFixed(1)}" y="${y + 12}">${b.v >= 100 ? b.v.toFixed(0) : b.v.toFixed(2)}</text>`,
      );
      y += barH;
    }
    y += 22;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">tsetcd vs etcd 3.4: memory, start-up, scale (lower is better)</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
