/**
 * The Go clientv3 load generator (bench/go/etcdload/main.go) from Node: built once, offline, in
 * GOPATH mode against Debian's golang-etcd-server-dev into a cache dir (rebuilt when the source is
 * newer than the binary), then run with flags; its JSON result is parsed and returned.
 *
 * Why Go: etcd's own benchmark tool uses clientv3, and a Go generator needs far less CPU per
 * request than a Node one, so on a 2-core machine the servers get the cores and their own
 * efficiency shows (issue 15).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's etcd 3.4 sources (golang-etcd-server-dev). */
export const ETCD_GOPATH = '/usr/share/gocode';
/** Where the built binary and Go's build cache live across runs and clones. */
export const GO_BENCH_CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsetcd-go-bench');
/** Longest a build may take (cold: ~15 s on an idle 2-core machine). */
export const GO_BUILD_TIMEOUT_MS = 600_000;

const ROOT = new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url).pathname;
const SOURCE_DIR = join(ROOT, 'bench', 'go', 'etcdload');

/** One run of the generator; field names are its flags. */
export interface GoLoadOptions {
  /** host:port list; conn i dials endpoints[i % n]. */
  endpoints: string[];
  op: 'put' | 'range' | 'txn-put' | 'lock' | 'lock-rpc';
  /** lock, lock-rpc: the one lock name every client takes (default "bench-lock"). */
  lockName?: string;
  clients: number;
  conns: number;
  /** Requests in the measured phase (ignored when durationSec is given). */
  total?: number;
  durationSec?: number;
  warmup?: number;
  keySize?: number;
  valSize?: number;
  keySpaceSize?: number;
  /** Range only: 'l' linearizable (default) or 's' serializable. */
  consistency?: 'l' | 's';
  rangeKey?: string;
  seed?: number;
  /** Per-request deadline in seconds (default 30). */
  timeoutSec?: number;
}

/** The generator's JSON result (see `result` in main.go). */
export interface GoLoadResult {
  op: string;
  clients: number;
  conns: number;
  requests: number;
  succeeded: number;
  errors: number;
  errorCounts: Record<string, number>;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Requests that took 500 ms or more (a ReadIndex answered only after its retry shows here). */
  slowOver500Ms: number;
  maxMs: number;
  meanMs: number;
  /** The generator's own user+system CPU per request, microseconds. */
  clientCpuUsPerReq: number;
}

/** Whether the generator can be built here (Go and the etcd 3.4 sources installed). */
export function goGenAvailable(): boolean {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  return go.status === 0 && existsSync(join(ETCD_GOPATH, 'src', 'go.etcd.io', 'etcd', 'clientv3'));
}

/**
 * Builds the generator if the cached binary is missing or older than main.go; returns its path.
 * Throws with Go's output when the build fails.
 */
export function buildGoGen(): string {
  const bin = join(GO_BENCH_CACHE, 'etcdload');
  const src = join(SOURCE_DIR, 'main.go');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  mkdirSync(GO_BENCH_CACHE, { recursive: true });
  // GOPATH mode needs the package under <gopath>/src; a temp GOPATH holds a symlink to it.
  const gopath = mkdtempSync(join(tmpdir(), 'tsetcd-gopath-'));
  try {
    const pkgDir = join(gopath, 'src', 'tsetcd.bench');
    mkdirSync(pkgDir, { recursive: true });
    symlinkSync(SOURCE_DIR, join(pkgDir, 'etcdload'));
    const r = spawnSync('go', ['build', '-o', bin, '.'], {
      cwd: join(pkgDir, 'etcdload'),
      encoding: 'utf8',
      timeout: GO_BUILD_TIMEOUT_MS,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: `${gopath}:${ETCD_GOPATH}`,
        GOCACHE: join(GO_BENCH_CACHE, 'gocache'),
        GOFLAGS: '-mod=mod',
      },
    });
    if (r.status !== 0) {
      throw new Error(`building bench/go/etcdload failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(gopath, { recursive: true, force: true });
  }
  return bin;
}

/** The generator's argv for `o`. */
export function goGenArgs(o: GoLoadOptions): string[] {
  const a = ['--endpoints', o.endpoints.join(','), '--op', o.op];
  a.push('--clients', String(o.clients), '--conns', String(o.conns));
  if (o.durationSec !== undefined) a.push('--duration', `${o.durationSec}s`);
  else if (o.total !== undefined) a.push('--total', String(o.total));
  const opt = (flag: string, v: number | string | undefined) => {
    if (v !== undefined) a.push(flag, String(v));
  };
  opt('--warmup', o.warmup);
  opt('--key-size', o.keySize);
  opt('--val-size', o.valSize);
  opt('--key-space-size', o.keySpaceSize);
  opt('--consistency', o.consistency);
  opt('--range-key', o.rangeKey);
  opt('--lock-name', o.lockName);
  opt('--seed', o.seed);
  if (o.timeoutSec !== undefined) a.push('--timeout', `${o.timeoutSec}s`);
  return a;
}

/**
 * Runs the generator (building it first if needed) and resolves with its result. Asynchronous, so
 * that a caller's own children (members whose output it drains) keep running. Exit status 1 with a
 * JSON document means some requests failed: the result is returned with `errors` > 0. Anything
 * else (usage error, unreachable endpoint) rejects with its stderr.
 */
export function runGoGen(o: GoLoadOptions): Promise<GoLoadResult> {
  const bin = buildGoGen();
  const args = goGenArgs(o);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-8192);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? '';
      if ((code === 0 || code === 1) && line.startsWith('{')) resolve(JSON.parse(line) as GoLoadResult);
      else reject(new Error(`etcdload ${args.join(' ')} failed (${code ?? signal}): ${err}`));
    });
  });
}
