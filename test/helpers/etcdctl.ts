/**
 * Runs Debian's etcdctl 3.4 (v3 API) against an endpoint, or tsetcd's own command line
 * (`tsetcd snapshot restore`, ...), capturing output and exit code.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './util.js';

/** How long one etcdctl run may take before it is killed. */
export const ETCDCTL_TIMEOUT_MS = 15_000;

/** What an etcdctl run produced. */
export interface CtlResult {
  stdout: string;
  stderr: string;
  /** Exit code; -1 when it was killed (timeout). */
  code: number;
}

/** Options of `etcdctl`. */
export interface CtlOptions {
  /** Written to stdin, then stdin is closed (e.g. `txn` in interactive format). */
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** `etcdctl --endpoints <endpoint> ...args` with ETCDCTL_API=3. Never rejects for a non-zero exit. */
export function etcdctl(endpoint: string, args: string[], opts: CtlOptions = {}): Promise<CtlResult> {
  const env = { ETCDCTL_API: '3', ...opts.env };
  return runCommand(process.env.ETCDCTL_BIN ?? 'etcdctl', ['--endpoints', endpoint, ...args], {
    ...opts,
    env,
  });
}

/** `node bin/tsetcd.js ...args` (tsetcd's own subcommands). Never rejects for a non-zero exit. */
export function tsetcdCli(args: string[], opts: CtlOptions = {}): Promise<CtlResult> {
  return runCommand(process.execPath, [join(repoRoot(), 'bin', 'tsetcd.js'), ...args], opts);
}

/** Runs a command to its end (killed after the timeout), stdin from `input`. */
export function runCommand(cmd: string, args: string[], opts: CtlOptions = {}): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? ETCDCTL_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
    child.stdin.on('error', () => {
      // etcdctl may exit before reading stdin; its exit code tells the story
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The member a snapshot is restored for: its name, data dir and peer URL (a `Proc` is one). */
export interface RestoreTarget {
  name: string;
  dataDir: string;
  peer: string;
}

/**
 * `snapshot restore <file>` arguments (etcdctl's and tsetcd's alike) restoring `file` into
 * `m.dataDir` as member `m.name` advertising `m.peer`, in the cluster `initialCluster` (default:
 * `m` alone) with cluster token `token` (default: the tool's).
 */
export function restoreArgs(
  file: string,
  m: RestoreTarget,
  opts: { initialCluster?: string; token?: string } = {},
): string[] {
  return [
    ...['snapshot', 'restore', file, '--name', m.name, '--data-dir', m.dataDir],
    ...[
      '--initial-cluster',
      opts.initialCluster ?? `${m.name}=${m.peer}`,
      '--initial-advertise-peer-urls',
      m.peer,
    ],
    ...(opts.token === undefined ? [] : ['--initial-cluster-token', opts.token]),
  ];
}

/** What `snapshot status -w json` prints (etcdctl's and tsetcd's alike). */
export interface SnapshotStatusJson {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** Parses a `snapshot status -w json` run; throws with its stderr when it exited non-zero. */
export function snapshotStatusJson(r: CtlResult): SnapshotStatusJson {
  if (r.code !== 0) throw new Error(`snapshot status exited with ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as SnapshotStatusJson;
}
