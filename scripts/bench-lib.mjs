// Helpers shared by the side-by-side benchmark scripts (bench-memory, bench-startup,
// bench-lock-watch, bench-scale): process memory from /proc, the bulk loader, /health polling, a
// timed launch, a loaded single member and the machine's load. Imports the test launcher from dist/ (run `npm run build` first).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;
const { connect } = await import(join(root, 'dist/test/helpers/grpc.js'));
const { launch, planSingle, kill } = await import(join(root, 'dist/test/helpers/cluster.js'));
const { tempDir, freePort } = await import(join(root, 'dist/test/helpers/util.js'));
const { restoreArgs } = await import(join(root, 'dist/test/helpers/etcdctl.js'));
const { cpuMs, timeCommand } = await import(join(root, 'dist/test/helpers/proc.js'));

/** Bytes of every value the loaders put. */
export const VALUE_BYTES = 256;
/** Backend quota flags for the loaded members: 8 GiB, room for the largest loads (the default 2 GiB is not). */
export const QUOTA_FLAGS = ['--quota-backend-bytes', String(8 * 2 ** 30)];
const PUTS_PER_TXN = 100;
const TXNS_IN_FLIGHT = 16;

/** `--name value` from argv, or `dflt`. */
export function argOf(args, name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}

/** VmRSS, VmHWM (peak) and RssAnon of `pid` in MiB. */
export function mem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (f) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024 };
}

/** utime+stime of `pid` in seconds (children not included). */
export const cpuSeconds = (pid) => cpuMs(pid) / 1000;

/** Resets the peak RSS (VmHWM) of `pid` to its current RSS; false when the kernel refuses. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export const keyOf = (i) => Buffer.from(`key/${String(i).padStart(10, '0')}`);

/** Puts keys [from, to) through a client of `endpoint`, 100 puts per txn, 16 txns at a time. */
export async function load(endpoint, from, to) {
  const c = connect(endpoint);
  const value = Buffer.alloc(VALUE_BYTES, 120);
  let next = from;
  const worker = async () => {
    while (next < to) {
      const lo = next;
      next = Math.min(to, next + PUTS_PER_TXN);
      const success = [];
      for (let i = lo; i < next; i++) success.push({ requestPut: { key: keyOf(i), value } });
      await c.kv.txn({ compare: [], success, failure: [] }, { deadlineMs: 60_000 });
    }
  };
  try {
    await Promise.all(Array.from({ length: TXNS_IN_FLIGHT }, worker));
  } finally {
    c.close();
  }
}

/** Whether `client` (host:port) answers /health with health "true". */
export async function healthy(client) {
  try {
    const r = await fetch(`http://${client}/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok && (await r.json()).health === 'true';
  } catch {
    return false;
  }
}

/** Launches `p` and resolves with milliseconds from spawn to /health ok (polled every 10 ms). */
export async function launchTimed(p, timeoutMs = 120_000) {
  const t0 = performance.now();
  launch(p);
  for (;;) {
    if (await healthy(p.client)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`${p.kind} did not become healthy:\n${p.log.slice(-3000)}`);
    if (p.child?.exitCode !== null && p.child?.exitCode !== undefined) {
      throw new Error(`${p.kind} exited:\n${p.log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The machine's 1, 5 and 15 minute load averages, as /proc/loadavg words them ("1.02 0.88 0.70"). */
export const machineLoad = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * Starts a single member of `kind` (with QUOTA_FLAGS) on a data dir holding `keys` keys x 256 B,
 * loading them first unless `keepDir` already holds that dir from an earlier run. With `keepDir`
 * the dir is `keepDir/<kind>-<keys>` (bench-startup and bench-scale share them, hence one token) and
 * a `<kind>-<keys>.loaded` mark beside it records a finished load; without it a temp dir is used.
 * Resolves with the started proc, the load's seconds and peak RSS (MiB) when it loaded, and
 * `close()` (SIGKILL, then the temp dir removed); on failure the member is closed before rejecting.
 */
export async function startLoaded(kind, keys, keepDir, tmpPrefix) {
  const tmp = keepDir ? undefined : tempDir(`${tmpPrefix}-${kind}-`);
  const dataDir = keepDir ? join(keepDir, `${kind}-${keys}`) : join(tmp.path, 'data');
  const loadedMark = join(dataDir, '..', `${kind}-${keys}.loaded`);
  const p = await planSingle(kind, 'm', dataDir, { token: `bench-startup-${kind}` });
  p.args.push(...QUOTA_FLAGS);
  const close = async () => {
    await kill(p);
    tmp?.remove();
  };
  try {
    await launchTimed(p);
    if (existsSync(loadedMark)) return { p, close };
    const t0 = performance.now();
    await load(p.client, 0, keys);
    const loadS = (performance.now() - t0) / 1000;
    const loadPeakMiB = mem(p.child.pid).hwm;
    if (keepDir) writeFileSync(loadedMark, `${new Date().toISOString()}\n`);
    return { p, close, loadS, loadPeakMiB };
  } catch (e) {
    await close();
    throw e;
  }
}

export const fmt = (x, d = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
/** tsetcd's value over etcd's, as "1.23x". */
export const ratio = (e, t) => (e > 0 && t > 0 ? `${(t / e).toFixed(2)}x` : '-');

/** Wall time (s) and peak RSS (MiB) of a command (GNU time). */
export function timed(cmd, argv) {
  const t = timeCommand(cmd, argv);
  return { s: t.ms / 1000, peakMiB: t.peakRssKiB / 1024 };
}

/** etcd's `snapshot restore` and tsetcd's of one etcd snapshot of `n` keys. */
export async function restore(n) {
  const dir = tempDir('bench-mem-restore-');
  const p = await planSingle('etcd', 'm', join(dir.path, 'etcd'), { token: 'bench-mem-restore' });
  p.args.push(...QUOTA_FLAGS);
  try {
    await launchTimed(p);
    await load(p.client, 0, n);
    const file = join(dir.path, 'snap.db');
    const r = spawnSync('etcdctl', ['--endpoints', p.client, 'snapshot', 'save', file], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    if (r.status !== 0) throw new Error(`snapshot save: ${r.stderr}`);
    await kill(p);
    const peer = `http://127.0.0.1:${await freePort()}`;
    return {
      etcd: timed('etcdctl', restoreArgs(file, { name: 'r', dataDir: join(dir.path, 'r-etcd'), peer })),
      tsetcd: timed(process.execPath, [
        join(root, 'bin/tsetcd.js'),
        ...restoreArgs(file, { name: 'r', dataDir: join(dir.path, 'r-tsetcd'), peer }),
      ]),
    };
  } finally {
    await kill(p);
    dir.remove();
  }
}
