// Multi-process clusters for e2e tests: N members of tsetcd (or etcd 3.4, same flags) on free ports,
// each a child process whose output is kept; kill/relaunch per member; every process is killed when
// the test ends (the caller registers `stopAll` with t.after).
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, repoRoot, waitFor } from '../helpers/index.js';

export interface Proc {
  name: string;
  /** host:port of the client URL. */
  client: string;
  peer: string;
  dataDir: string;
  cmd: string;
  args: string[];
  child: ChildProcess | undefined;
  log: string;
  /** Resolves with the exit code once the current child exits. */
  exited: Promise<number | null>;
}

export type Kind = 'tsetcd' | 'etcd';

export interface ClusterSpec {
  kind?: Kind;
  /** Member names; default m1..mN. */
  names?: string[];
  token?: string;
  extraFlags?: string[];
}

/** Builds (does not start) the processes of a new cluster under `dataRoot`. */
export async function planCluster(dataRoot: string, n: number, spec: ClusterSpec = {}): Promise<Proc[]> {
  const ports = await Promise.all(Array.from({ length: 2 * n }, () => freePort()));
  const names = spec.names ?? Array.from({ length: n }, (_, i) => `m${i + 1}`);
  const initial = names.map((name, i) => `${name}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
  return names.map((name, i) =>
    planMember({
      kind: spec.kind ?? 'tsetcd',
      name,
      dataDir: join(dataRoot, name),
      client: `127.0.0.1:${ports[2 * i]}`,
      peer: `http://127.0.0.1:${ports[2 * i + 1]}`,
      initialCluster: initial,
      token: spec.token ?? 'procs-test',
      extraFlags: spec.extraFlags ?? [],
    }),
  );
}

export function planMember(o: {
  kind: Kind;
  name: string;
  dataDir: string;
  client: string;
  peer: string;
  initialCluster: string;
  token: string;
  extraFlags: string[];
}): Proc {
  const tsetcd = o.kind === 'tsetcd';
  return {
    name: o.name,
    client: o.client,
    peer: o.peer,
    dataDir: o.dataDir,
    cmd: tsetcd ? process.execPath : (process.env.ETCD_BIN ?? 'etcd'),
    args: [
      ...(tsetcd ? [join(repoRoot(), 'bin', 'tsetcd.js')] : []),
      ...['--name', o.name, '--data-dir', o.dataDir],
      ...['--listen-client-urls', `http://${o.client}`, '--advertise-client-urls', `http://${o.client}`],
      ...['--listen-peer-urls', o.peer, '--initial-advertise-peer-urls', o.peer],
      ...['--initial-cluster', o.initialCluster, '--initial-cluster-token', o.token],
      ...o.extraFlags,
    ],
    child: undefined,
    log: '',
    exited: Promise.resolve(null),
  };
}

export function launch(p: Proc): void {
  const child = spawn(p.cmd, p.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    p.log = (p.log + d.toString()).slice(-40000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  p.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  p.child = child;
}

export async function isHealthy(p: Proc): Promise<boolean> {
  try {
    const res = await fetch(`http://${p.client}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { health: string }).health === 'true';
  } catch {
    return false;
  }
}

export async function waitHealthy(p: Proc, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      if (p.child && p.child.exitCode !== null) throw new Error(`${p.name} exited early:\n${p.log}`);
      return isHealthy(p);
    },
    { timeoutMs, what: `${p.name} healthy\n${p.log.slice(-4000)}` },
  );
}

/** Starts every member (all at once, as a bootstrap needs) and waits until each is healthy. */
export async function startAll(procs: Proc[]): Promise<void> {
  for (const p of procs) launch(p);
  for (const p of procs) await waitHealthy(p);
}

export async function kill(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const c = p.child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const done = p.exited;
  c.kill(signal);
  await done;
}

export async function stopAll(procs: Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => kill(p)));
}
