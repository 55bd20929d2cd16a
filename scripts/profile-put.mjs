// CPU profile of tsetcd's put path (issue 15): starts a fresh tsetcd cluster (1 or 3 members) with
// `node --cpu-prof`, drives puts through the Go clientv3 generator (bench/go/etcdload), measures
// the servers' CPU per put (/proc/<pid>/stat utime+stime, summed over members), stops the members
// with SIGTERM so the profiles are written, and prints the top self-time frames of the member that
// was the leader (and of all members together), grouped by function and by area.
//
// Usage: node scripts/profile-put.mjs [--members 1|3] [--clients N] [--total N] [--op put|txn-put]
//                                     [--top 25] [--keep DIR] [--no-prof] [--by-tid]   (run `npm run build` first)
// The lead's final numbers: run it on the idle machine; everything here is indicative.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGoGen } from '../dist/bench/go-gen.js';
import { cpuSeconds } from '../dist/bench/support.js';
import { planCluster, startAll, stop, stopAll } from '../dist/test/helpers/cluster.js';
import { tempDir } from '../dist/test/helpers/util.js';
import { argOf } from './bench-lib.mjs';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const args = process.argv.slice(2);
const flag = (name, dflt) => argOf(args, name, dflt);
const members = Number(flag('--members', '1'));
const clients = Number(flag('--clients', '1'));
const total = Number(flag('--total', clients === 1 ? '3000' : '30000'));
const op = flag('--op', 'put');
const top = Number(flag('--top', '25'));
const keep = flag('--keep', undefined);
/** --no-prof: measure CPU per request only (no profiler running in the members). */
const profile = !args.includes('--no-prof');
/** --by-tid: CPU per thread (name:tid) rather than summed by name (which thread pool does what). */
const byTid = args.includes('--by-tid');

/**
 * Self time per frame and per area from a .cpuprofile (V8's sampled call tree), counting only the
 * samples taken between `fromUs` and `toUs` (CLOCK_MONOTONIC µs, as V8's timestamps and
 * process.hrtime), and leaving out (idle).
 */
function summarise(profile, fromUs, toUs) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const id = profile.samples[i];
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    const next = profile.timeDeltas[i + 1] ?? 0;
    dt.set(id, (dt.get(id) ?? 0) + next);
  }
  const frames = new Map();
  const areas = new Map();
  let totalUs = 0;
  for (const [id, us] of dt) {
    const cf = byId.get(id).callFrame;
    const file = cf.url.replace(/^file:\/\/.*?\/(dist\/|node_modules\/)/, '$1');
    const name = `${cf.functionName || '(anonymous)'} ${file ? `${file.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : ''}`;
    frames.set(name, (frames.get(name) ?? 0) + us);
    const area = !cf.url
      ? cf.functionName.startsWith('(')
        ? cf.functionName
        : '(native)'
      : cf.url.startsWith('node:')
        ? cf.url.split('/').slice(0, 2).join('/')
        : cf.url.includes('node_modules/')
          ? cf.url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1')
          : cf.url.replace(/.*\/dist\/(src\/[^/]+|[^/]+).*/, '$1');
    areas.set(area, (areas.get(area) ?? 0) + us);
    totalUs += us;
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalUs, frames: sorted(frames), areas: sorted(areas) };
}

function print(title, s, requests) {
  console.log(
    `\n### ${title}: main thread ${(s.totalUs / 1000).toFixed(0)} ms busy in the measured window, ${(s.totalUs / requests).toFixed(0)} µs per request`,
  );
  console.log('\n| self % | µs/req | area |\n|---|---|---|');
  for (const [a, us] of s.areas.slice(0, 12)) {
    console.log(`| ${((100 * us) / s.totalUs).toFixed(1)} | ${(us / requests).toFixed(1)} | ${a} |`);
  }
  console.log('\n| self % | µs/req | frame |\n|---|---|---|');
  for (const [f, us] of s.frames.slice(0, top)) {
    console.log(
      `| ${((100 * us) / s.totalUs).toFixed(1)} | ${(us / requests).toFixed(1)} | \`${f.trim()}\` |`,
    );
  }
}

function merge(sums) {
  const add = (key) => {
    const m = new Map();
    for (const s of sums) for (const [k, v] of s[key]) m.set(k, (m.get(k) ?? 0) + v);
    return [...m].sort((a, b) => b[1] - a[1]);
  };
  return { totalUs: sums.reduce((t, s) => t + s.totalUs, 0), frames: add('frames'), areas: add('areas') };
}

const cpuOf = (stat) => {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

/** CPU seconds (utime+stime) of each thread of `pid`, summed by thread name (--by-tid: per thread). */
function threadCpu(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '#');
      const name = tid === String(pid) ? 'main' : comm === 'node' ? 'libuv/other' : comm;
      if (byTid) {
        out.set(`${name}:${tid}`, (out.get(`${name}:${tid}`) ?? 0) + cpuOf(stat));
        continue;
      }
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // thread ended
    }
  }
  return out;
}

const dir = tempDir('profile-put-');
const profDir = keep ?? join(dir.path, 'prof');
const procs = await planCluster(dir.path, members, {
  names: ['a', 'b', 'c'].slice(0, members),
  token: 'profile-put',
  extraFlags: ['--log-level', 'error'],
});
for (const p of profile ? procs : []) {
  p.cmd = process.execPath;
  p.args = ['--cpu-prof', '--cpu-prof-dir', join(profDir, p.name), ...p.args];
}
try {
  await startAll(procs);
  const eps = procs.map((p) => p.client);
  // warm up (JIT) before measuring, outside the CPU window but inside the profile
  await runGoGen({
    endpoints: eps,
    op,
    clients,
    conns: Math.min(clients, 12),
    total: Math.min(total, 2000),
    valSize: 256,
    keySpaceSize: 100000,
  });
  const cpu0 = procs.map((p) => cpuSeconds(p.child.pid));
  const threads0 = procs.map((p) => threadCpu(p.child.pid));
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r = await runGoGen({
    endpoints: eps,
    op,
    clients,
    conns: Math.min(clients, 12),
    total,
    valSize: 256,
    keySpaceSize: 100000,
  });
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const cpu = procs.map((p, i) => cpuSeconds(p.child.pid) - cpu0[i]);
  const threads = procs.map((p, i) => {
    const m = new Map();
    for (const [name, sec] of threadCpu(p.child.pid)) m.set(name, sec - (threads0[i].get(name) ?? 0));
    return m;
  });
  const sum = cpu.reduce((a, b) => a + b, 0);
  console.log(
    `${op}, ${clients} client(s), ${members} member(s): ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, errors ${r.errors}`,
  );
  console.log(
    `server CPU per request (utime+stime, /proc): ${((sum * 1e6) / r.requests).toFixed(0)} µs summed (${cpu.map((c) => ((c * 1e6) / r.requests).toFixed(0)).join(' + ')})`,
  );
  const byThread = new Map();
  for (const m of threads) for (const [k, v] of m) byThread.set(k, (byThread.get(k) ?? 0) + v);
  console.log(
    `by thread (µs/req, summed over members): ${[...byThread]
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${((v * 1e6) / r.requests).toFixed(0)}`)
      .join(', ')}`,
  );
  if (profile) await printProfiles(r.requests, fromUs, toUs);
} finally {
  await stopAll(procs);
  dir.remove();
}

/** Stops the members (SIGTERM writes their profiles) and prints the measured window's frames. */
async function printProfiles(requests, fromUs, toUs) {
  for (const p of procs) await stop(p);
  const sums = procs.map((p) => {
    const d = join(profDir, p.name);
    const f = readdirSync(d)
      .filter((x) => x.endsWith('.cpuprofile'))
      .sort()
      .at(-1);
    return summarise(JSON.parse(readFileSync(join(d, f), 'utf8')), fromUs, toUs);
  });
  const busiest = sums.reduce((a, b) => (b.totalUs > a.totalUs ? b : a));
  print('busiest member (the leader)', busiest, requests);
  if (members > 1) print('all members', merge(sums), requests);
  if (keep) console.log(`\nprofiles kept in ${keep} (open in Chrome DevTools)`);
}
