// The dashboard's cost to the cluster: put throughput and the members' CPU time per put with no
// dashboard, and with one `tsetcd dashboard` process open in headless Chromium (the page polls every
// second), its watch tail first on every key (the default: every put becomes an event streamed to
// the page), then on a prefix nothing writes to (the polling alone). Phases alternate, twice, so a
// drift in the machine's load shows up as a difference between runs of the same phase.
// CPU is read from /proc/<pid>/stat (utime+stime) of the three members, and of the dashboard
// process, so the numbers hold up better than throughput on a shared machine.
// Usage: node scripts/bench-dashboard.mjs [--seconds 10] [--clients 32]   (after `npm run build`;
// needs chromium for the "open" phases — without it, the dashboard runs with a headless poller
// instead: one client reading /api/events and the watch tail, which is what the page asks for).
// Indicative only on a shared machine: re-run it on an idle one for numbers to quote.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const dist = (p) => join(root, 'dist', p);
const { planCluster, startAll, stopAll, endpoints } = await import(dist('test/helpers/cluster.js'));
const { tempDir, freePort, waitFor } = await import(dist('test/helpers/util.js'));
const { cpuMs } = await import(dist('test/helpers/proc.js'));
const { chromiumPath } = await import(dist('test/helpers/chromium.js'));
const { Client } = await import(dist('src/client/index.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('seconds', 10);
const clients = arg('clients', 32);
/** CPU time (user + system) of process `pid` so far, seconds. */
const cpuSeconds = (pid) => cpuMs(pid) / 1000;

const dir = tempDir('tsetcd-bench-dashboard-');
const procs = await planCluster(dir.path, 3);
let dash;
let browser;
try {
  await startAll(procs);
  const eps = endpoints(procs).split(',');
  const client = new Client({ endpoints: eps });
  const value = 'x'.repeat(256);

  async function load() {
    let n = 0;
    let i = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        while (performance.now() < until) {
          await client.kv.put(`bench/${c}/${i++ % 1000}`, value);
          n++;
        }
      }),
    );
    return n;
  }

  async function phase(name, dashPid) {
    const pids = procs.map((p) => p.child.pid);
    const before = pids.map(cpuSeconds);
    const dashBefore = dashPid ? cpuSeconds(dashPid) : 0;
    const t0 = performance.now();
    const puts = await load();
    const wall = (performance.now() - t0) / 1000;
    const memberCpu = pids.map(cpuSeconds).reduce((a, v, i) => a + v - before[i], 0);
    const dashCpu = dashPid ? cpuSeconds(dashPid) - dashBefore : 0;
    return {
      phase: name,
      putsPerSec: Math.round(puts / wall),
      memberCpuMsPerPut: Number(((memberCpu * 1000) / puts).toFixed(3)),
      memberCpuPct: Math.round((memberCpu / wall) * 100),
      dashboardCpuPct: Math.round((dashCpu / wall) * 100),
    };
  }

  // The dashboard as users run it: its own process.
  const port = await freePort();
  dash = spawn(
    process.execPath,
    [
      join(root, 'bin/tsetcd.js'),
      'dashboard',
      '--endpoints',
      eps.join(','),
      '--listen',
      `http://127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(async () => (await fetch(url)).ok, { timeoutMs: 15_000, what: 'the dashboard' });

  let viewer;
  const exe = chromiumPath();
  /** Opens the page; `tail`: the watch tail's prefix ('' = every key, the default). */
  async function openViewer(tail) {
    if (exe) {
      const { chromium } = await import('playwright-core');
      browser ??= await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForSelector('#watch-status:text("watching")', { timeout: 15_000 });
      if (tail !== '') {
        await page.fill('input[name="wprefix"]', tail);
        await page.press('input[name="wprefix"]', 'Enter');
        await page.waitForSelector('#watch-status:text("watching")', { timeout: 15_000 });
      }
      return { close: () => page.close() };
    }
    // No browser: read the page's two streams as it would.
    const ac = new AbortController();
    for (const path of ['api/events', `api/watch?prefix=${Buffer.from(tail).toString('base64url')}`]) {
      void fetch(url + path, { signal: ac.signal })
        .then(async (r) => {
          for await (const _ of r.body) {
            // drain
          }
        })
        .catch(() => {});
    }
    return { close: () => ac.abort() };
  }

  await load(); // warm-up
  const rows = [];
  const how = exe ? 'chromium' : 'streams';
  for (let round = 0; round < 2; round++) {
    rows.push(await phase('none', undefined));
    viewer = await openViewer('');
    rows.push(await phase(`open, tail on every key (${how})`, dash.pid));
    await viewer.close();
    viewer = await openViewer('idle/');
    rows.push(await phase(`open, tail on an idle prefix (${how})`, dash.pid));
    await viewer.close();
    viewer = undefined;
  }
  client.close();
  const avg = (name, key) => {
    const r = rows.filter((x) => x.phase.startsWith(name));
    return r.reduce((a, x) => a + x[key], 0) / r.length;
  };
  console.log(`| phase | puts/s | member CPU ms/put | members CPU % | dashboard CPU % |`);
  console.log(`|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.phase} | ${r.putsPerSec} | ${r.memberCpuMsPerPut} | ${r.memberCpuPct} | ${r.dashboardCpuPct} |`,
    );
  for (const open of ['open, tail on every key', 'open, tail on an idle prefix']) {
    const ratio = avg(open, 'putsPerSec') / avg('none', 'putsPerSec');
    const cpu = avg(open, 'memberCpuMsPerPut') / avg('none', 'memberCpuMsPerPut');
    console.log(`${open} / none: throughput ${ratio.toFixed(3)}, member CPU per put ${cpu.toFixed(3)}`);
  }
  console.log(`(${seconds} s phases, ${clients} clients, 256-byte values)`);
} finally {
  await browser?.close();
  if (dash && dash.exitCode === null) {
    dash.kill('SIGTERM');
  }
  await stopAll(procs);
  dir.remove();
}
process.exit(0);
