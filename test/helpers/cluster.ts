/**
 * The one launcher of multi-member clusters as processes: N members of tsetcd (or etcd 3.4 — same
 * flags) on free ports (or given ones), each a child process whose output is kept; launch, kill
 * and relaunch per member. Used by the e2e and differential cluster tests, the Jepsen-style suite,
 * the fuzzer, the cluster benchmarks, the failover measurement and `npm start`
 * (scripts import it from dist/test/helpers/cluster.js).
 *
 * A `Proc` is a plain record, so a test can derive a variant of a member (other flags, same data
 * dir) with a spread. Every launched process is SIGKILLed at the latest when this process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { commandFor, isHealthy, type MemberKind } from './member.js';
import { freePort, onProcessExit, type TempDir, tempDir, waitFor } from './util.js';

/** How much of a member's output is kept for failure reports. */
export const PROC_LOG_KEEP_CHARS = 50_000;
/** Default deadline for a launched member to answer /health. */
export const PROC_START_TIMEOUT_MS = 30_000;
/** How long `stop` waits after SIGTERM before it sends SIGKILL. */
export const PROC_STOP_GRACE_MS = 10_000;

/** One member process: how to start it, and its current child. */
export interface Proc {
  kind: MemberKind;
  name: string;
  /** host:port of the client URL (etcdctl --endpoints, grpc-js). */
  client: string;
  /** The peer URL, http://host:port. */
  peer: string;
  dataDir: string;
  cmd: string;
  args: string[];
  /** Extra environment variables of the process. */
  env: Record<string, string>;
  child: ChildProcess | undefined;
  /** The process's stdout and stderr (the last PROC_LOG_KEEP_CHARS), across launches. */
  log: string;
  /** Resolves with the exit code once the current child exits. */
  exited: Promise<number | null>;
}

/** What one member is started with. */
export interface MemberSpec {
  kind?: MemberKind;
  name: string;
  dataDir: string;
  /** host:port of the client listener. */
  client: string;
  /** http://host:port of the peer listener. */
  peer: string;
  /** etcd --initial-cluster: name=peerURL,... */
  initialCluster: string;
  token: string;
  /** Flags after the standard ones (e.g. ['--log-level', 'warn']). */
  extraFlags?: string[];
  env?: Record<string, string>;
}

/** Options of a new cluster. */
export interface ClusterSpec {
  kind?: MemberKind;
  /** Member names; default m1..mN. */
  names?: string[];
  /** --initial-cluster-token; default "procs-test". */
  token?: string;
  /** Flags for every member, after the standard ones. */
  extraFlags?: string[];
  /** Environment of member i. */
  env?: (index: number, name: string) => Record<string, string>;
  /** Fixed ports of member i instead of free ones (`npm start` uses seed 000's ports). */
  ports?: (index: number) => { client: number; peer: number };
  /** Listen and advertise host; default 127.0.0.1. */
  host?: string;
  /** Data dir of member i; default <dataRoot>/<name>. */
  dataDir?: (index: number, name: string) => string;
}

/** The etcd flags that start one member of a new cluster. */
export function memberFlags(s: MemberSpec): string[] {
  return [
    ...['--name', s.name, '--data-dir', s.dataDir],
    ...['--listen-client-urls', `http://${s.client}`, '--advertise-client-urls', `http://${s.client}`],
    ...['--listen-peer-urls', s.peer, '--initial-advertise-peer-urls', s.peer],
    ...['--initial-cluster', s.initialCluster, '--initial-cluster-token', s.token],
    ...(s.extraFlags ?? []),
  ];
}

/** Builds (does not start) one member process. */
export function planMember(s: MemberSpec): Proc {
  const kind = s.kind ?? 'tsetcd';
  const { cmd, pre } = commandFor(kind);
  return {
    kind,
    name: s.name,
    client: s.client,
    peer: s.peer,
    dataDir: s.dataDir,
    cmd,
    args: [...pre, ...memberFlags(s)],
    env: s.env ?? {},
    child: undefined,
    log: '',
    exited: Promise.resolve(null),
  };
}

/** Builds (does not start) the processes of a new n-member cluster under `dataRoot`. */
export async function planCluster(dataRoot: string, n: number, spec: ClusterSpec = {}): Promise<Proc[]> {
  const host = spec.host ?? '127.0.0.1';
  const ports = spec.ports
    ? Array.from({ length: n }, (_, i) => spec.ports!(i))
    : await Promise.all(
        Array.from({ length: n }, async () => ({ client: await freePort(), peer: await freePort() })),
      );
  const names = spec.names ?? Array.from({ length: n }, (_, i) => `m${i + 1}`);
  const initialCluster = names.map((name, i) => `${name}=http://${host}:${ports[i]!.peer}`).join(',');
  return names.map((name, i) =>
    planMember({
      kind: spec.kind,
      name,
      dataDir: spec.dataDir?.(i, name) ?? join(dataRoot, name),
      client: `${host}:${ports[i]!.client}`,
      peer: `http://${host}:${ports[i]!.peer}`,
      initialCluster,
      token: spec.token ?? 'procs-test',
      extraFlags: spec.extraFlags,
      env: spec.env?.(i, name),
    }),
  );
}

/**
 * Spawns the member's process (output kept in `p.log`). It is SIGKILLed at the latest when this
 * process exits (also on SIGINT/SIGTERM) unless `killAtExit` is false (`npm start` stops its
 * members itself, with SIGTERM).
 */
export function launch(p: Proc, opts: { killAtExit?: boolean } = {}): void {
  const child = spawn(p.cmd, p.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...p.env },
  });
  const keep = (d: Buffer) => {
    p.log = (p.log + d.toString()).slice(-PROC_LOG_KEEP_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const unregister = opts.killAtExit === false ? () => {} : onProcessExit(() => child.kill('SIGKILL'));
  p.exited = new Promise((resolve) =>
    child.once('exit', (code) => {
      unregister();
      resolve(code);
    }),
  );
  p.child = child;
}

/** Whether the member's current process runs (launched, not exited). */
export function running(p: Proc): boolean {
  return p.child !== undefined && p.child.exitCode === null && p.child.signalCode === null;
}

/** Waits until the member answers /health; fails at once, with its output, if it exits first. */
export async function waitHealthy(p: Proc, timeoutMs = PROC_START_TIMEOUT_MS): Promise<void> {
  await waitFor(
    async () => {
      if (p.child && !running(p)) throw new Error(`${p.name} exited early:\n${p.log.slice(-4000)}`);
      return isHealthy(`http://${p.client}`);
    },
    { timeoutMs, intervalMs: 50, what: `${p.name} healthy\n${p.log.slice(-4000)}` },
  );
}

/** Launches every member (all at once, as a bootstrap needs) and waits until each is healthy. */
export async function startAll(procs: Proc[], timeoutMs = PROC_START_TIMEOUT_MS): Promise<void> {
  for (const p of procs) launch(p);
  for (const p of procs) await waitHealthy(p, timeoutMs);
}

/**
 * Plans a one-member cluster of `kind` on `dataDir` (free client and peer ports, or the peer URL a
 * snapshot was restored for); start it with startAll, after registering it for cleanup.
 */
export async function planSingle(
  kind: MemberKind,
  name: string,
  dataDir: string,
  opts: { token: string; peer?: string },
): Promise<Proc> {
  const peer = opts.peer ?? `http://127.0.0.1:${await freePort()}`;
  return planMember({
    kind,
    name,
    dataDir,
    client: `127.0.0.1:${await freePort()}`,
    peer,
    initialCluster: `${name}=${peer}`,
    token: opts.token,
    extraFlags: [],
  });
}

/**
 * A single member (planSingle, then `extraFlags`) started and healthy. It is added to `procs`
 * before the wait, so that a member that never becomes healthy is still stopped by the caller's
 * `stopAll(procs)`.
 */
export async function startSingle(
  procs: Proc[],
  kind: MemberKind,
  name: string,
  dataDir: string,
  opts: { token: string; peer?: string; extraFlags?: string[] },
): Promise<Proc> {
  const p = await planSingle(kind, name, dataDir, opts);
  p.args.push(...(opts.extraFlags ?? []));
  procs.push(p);
  await startAll([p]);
  return p;
}

/** Sends `signal` (default SIGKILL) to the member's process and waits for it to exit. */
export async function kill(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const c = p.child;
  if (!c || !running(p)) return;
  const done = p.exited;
  c.kill(signal);
  await done;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stop(p: Proc, graceMs = PROC_STOP_GRACE_MS): Promise<void> {
  const c = p.child;
  if (!c || !running(p)) return;
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await kill(p, 'SIGTERM');
  clearTimeout(timer);
}

/** Kills every member's process (SIGKILL). */
export async function stopAll(procs: Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => kill(p)));
}

/**
 * A fresh temp dir and an empty list of member processes, both cleaned up after the test (or
 * suite) `t`: every process in the list killed (stopAll), then the dir removed.
 */
export function procsFor(
  t: { after(fn: () => Promise<void>): void },
  prefix: string,
): { dir: TempDir; procs: Proc[] } {
  const dir = tempDir(prefix);
  const procs: Proc[] = [];
  t.after(async () => {
    await stopAll(procs);
    dir.remove();
  });
  return { dir, procs };
}

/** The members' client endpoints, comma-separated (etcdctl --endpoints). */
export function endpoints(procs: Proc[]): string {
  return procs.map((p) => p.client).join(',');
}

/**
 * Retries a membership change refused as "etcdserver: unhealthy cluster": etcd (and tsetcd) accept
 * one only once every voter has been connected for 5 s, which a freshly (re)started cluster is not.
 */
export async function whenHealthy<T>(change: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  let result: T | undefined;
  await waitFor(
    async () => {
      try {
        result = await change();
        return true;
      } catch (e) {
        if ((e as { details?: string }).details === 'etcdserver: unhealthy cluster') return false;
        throw e;
      }
    },
    { timeoutMs, intervalMs: 250, what: 'a membership change accepted' },
  );
  return result as T;
}
