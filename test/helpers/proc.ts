/**
 * What the benchmark scripts measure of a process: its CPU time so far (Linux /proc), and the wall
 * time and peak RSS of a command run to completion (GNU time).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (sysconf(_SC_CLK_TCK): 100 on Linux). */
export const CLK_TCK = 100;

/**
 * CPU time (user + system) process `pid` used so far, ms: fields 14 and 15 of /proc/<pid>/stat
 * (counted after the command name, which may hold spaces). Throws ENOENT once the process is gone.
 */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** What `timeCommand` measured. */
export interface CommandTime {
  /** Wall time, ms (fractional). */
  ms: number;
  /** Peak resident set size, KiB (GNU time's %M). */
  peakRssKiB: number;
}

/**
 * Runs `cmd argv` under /usr/bin/time with ETCDCTL_API=3 and answers its wall time and peak RSS;
 * throws with the tail of its stderr when it exits non-zero.
 */
export function timeCommand(cmd: string, argv: readonly string[]): CommandTime {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...argv], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr.slice(-2000)}`);
  return { ms, peakRssKiB: Number(r.stderr.trim().split('\n').at(-1)) };
}
