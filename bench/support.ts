/**
 * What the side-by-side server benchmarks (watch fan-out, lease keep-alive) share: a single-member
 * etcd 3.4 or tsetcd started with the same flags on free ports in a fresh temp dir by the test
 * launcher (test/helpers/member.ts; killed and removed by `cleanup`), and a server process's RSS
 * and CPU time from /proc.
 */
import { readFileSync } from 'node:fs';
import { type MemberKind, startMember } from '../test/helpers/member.js';
import { cpuMs } from '../test/helpers/proc.js';

/** Server start deadline. */
const START_MS = 30_000;

export type ServerKind = MemberKind;

export interface BenchServer {
  /** The server's process id (undefined for a server this program did not start). */
  pid: number | undefined;
  endpoint: string;
  cleanup(): Promise<void>;
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

/** User + system CPU seconds used by `pid` so far (0 if gone). */
export function cpuSeconds(pid: number): number {
  try {
    return cpuMs(pid) / 1000;
  } catch {
    return 0;
  }
}

/** Samples `pid`'s RSS every 250 ms from now until `stop()`, which answers the peak in MiB. */
export function watchPeakRss(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}

/** `parse(argv)`, or exit 2 with its error and `usage` when the arguments are wrong. */
export function parseArgsOrExit<O>(parse: (argv: string[]) => O, usage: string): O {
  try {
    return parse(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
}

/** `x / y` with two decimals for a tsetcd/etcd ratio line ('n/a' when `y` is 0). */
export function ratio(x: number, y: number): string {
  return y === 0 ? 'n/a' : (x / y).toFixed(2);
}

/** Starts one single-member server with etcd's flags (plus `extraFlags`) and waits for /health. */
export async function startServer(kind: ServerKind, extraFlags: string[] = []): Promise<BenchServer> {
  const m = await startMember(kind, { name: 'bench', extraFlags, startTimeoutMs: START_MS });
  return { pid: m.pid(), endpoint: m.endpoint, cleanup: () => m.cleanup() };
}

/** The p-th percentile of an ascending array (NaN when empty). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
