/**
 * What the side-by-side server benchmarks (watch fan-out, lease keep-alive) share: starting a
 * single-member etcd 3.4 or tsetcd with the same flags on free ports in a fresh temp dir (killed
 * and removed afterwards), and reading a server process's RSS and CPU time from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Server start deadline. */
const START_MS = 30_000;

export type ServerKind = 'tsetcd' | 'etcd';

export interface BenchServer {
  child: ChildProcess | undefined;
  endpoint: string;
  cleanup(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
}

/** Resident set size of `pid` in MiB (0 if gone). */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds used by `pid` so far. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Starts one single-member server with etcd's flags (plus `extraFlags`) and waits for /health. */
export async function startServer(kind: ServerKind, extraFlags: string[] = []): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${kind}-`));
  const cp = await freePort();
  const pp = await freePort();
  const args = [
    ...['--name', 'bench', '--data-dir', join(dir, 'data')],
    ...[
      '--listen-client-urls',
      `http://127.0.0.1:${cp}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${cp}`,
    ],
    ...[
      '--listen-peer-urls',
      `http://127.0.0.1:${pp}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${pp}`,
    ],
    ...['--initial-cluster', `bench=http://127.0.0.1:${pp}`],
    ...extraFlags,
  ];
  const child =
    kind === 'etcd'
      ? spawn(process.env.ETCD_BIN ?? 'etcd', args, { stdio: 'ignore' })
      : spawn(process.execPath, [join(repoRoot(), 'bin', 'tsetcd.js'), ...args], { stdio: 'ignore' });
  const cleanup = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  const deadline = Date.now() + START_MS;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${cp}/health`, { signal: AbortSignal.timeout(1000) });
      if ((await res.text()).includes('"health":"true"')) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      cleanup();
      throw new Error(`${kind} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, endpoint: `127.0.0.1:${cp}`, cleanup };
}

/** The p-th percentile of an ascending array (NaN when empty). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
