/**
 * A 3-member tsetcd cluster of child processes for the client's end-to-end tests, and request counts
 * per member read from each member's own /metrics (grpc_server_handled_total).
 */
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Client, type ClientOptions } from '../../src/client/index.js';
import {
  kill,
  launch,
  type Proc,
  planCluster,
  planMember,
  startAll,
  stopAll,
  waitHealthy,
} from '../helpers/cluster.js';
import { freePort, isHealthy as isHealthyUrl, tempDir, waitFor } from '../helpers/index.js';

/** Whether a member process answers /health with health "true". */
const isHealthy = (p: Proc): Promise<boolean> => isHealthyUrl(`http://${p.client}`);

export interface TestCluster {
  procs: Proc[];
  endpoints(): string[];
  close(): Promise<void>;
  /** Adds a 4th member's process (after MemberAdd) with --initial-cluster-state existing; returns it. */
  planJoin(name: string): Promise<{ proc: Proc; peerURL: string }>;
}

export async function startCluster(n = 3, extraFlags: string[] = []): Promise<TestCluster> {
  const dir = tempDir('tsetcd-client-');
  const procs = await planCluster(dir.path, n, { token: 'client-test', extraFlags });
  try {
    await startAll(procs);
  } catch (e) {
    await stopAll(procs);
    dir.remove();
    throw e;
  }
  return {
    procs,
    endpoints: () => procs.map((p) => p.client),
    close: async () => {
      for (const p of procs) if (p.child && p.child.signalCode === null) p.child.kill('SIGCONT');
      await stopAll(procs);
      dir.remove();
    },
    planJoin: async (name) => {
      const [cp, pp] = [await freePort(), await freePort()];
      const peerURL = `http://127.0.0.1:${pp}`;
      const initial = [...procs.map((p) => `${p.name}=${p.peer}`), `${name}=${peerURL}`].join(',');
      const proc = planMember({
        kind: 'tsetcd',
        name,
        dataDir: join(dir.path, name),
        client: `127.0.0.1:${cp}`,
        peer: peerURL,
        initialCluster: initial,
        token: 'client-test',
        extraFlags: ['--initial-cluster-state', 'existing', ...extraFlags],
      });
      procs.push(proc);
      return { proc, peerURL };
    },
  };
}

/** A cluster shared by one test file's tests, and the clients made against it. */
export interface SharedCluster {
  /** The running cluster; read it inside tests (it is started by a `before` hook). */
  readonly cluster: TestCluster;
  /** A new Client of `o`, closed by the `after` hook. */
  client(o: ClientOptions): Client;
}

/**
 * Registers `before`/`after` hooks for the calling test file: an n-member cluster started before its
 * tests, and after them every client made by `client()` closed, then the cluster closed.
 */
export function sharedCluster(n = 3): SharedCluster {
  let cluster: TestCluster | undefined;
  const clients: Client[] = [];
  before(async () => {
    cluster = await startCluster(n);
  });
  after(async () => {
    for (const c of clients) c.close();
    await cluster?.close();
  });
  return {
    get cluster(): TestCluster {
      if (cluster === undefined) throw new Error('sharedCluster: read .cluster inside a test');
      return cluster;
    },
    client(o) {
      const c = new Client(o);
      clients.push(c);
      return c;
    },
  };
}

/** grpc_server_handled_total for one method on one member (0 when absent). */
export async function handled(client: string, method: string, service = 'etcdserverpb.KV'): Promise<number> {
  const text = await (await fetch(`http://${client}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('grpc_server_handled_total{')) continue;
    if (!line.includes(`grpc_method="${method}"`) || !line.includes(`grpc_service="${service}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Handled counts of `method` on each of `members` (a killed member counts as 0). */
export async function counts(members: Proc[], method = 'Range'): Promise<number[]> {
  return Promise.all(members.map((p) => handled(p.client, method).catch(() => 0)));
}

/** The per-member increase between two `counts` snapshots. */
export function delta(before: number[], after: number[]): number[] {
  return after.map((a, i) => a - (before[i] ?? 0));
}

export { isHealthy, kill, launch, waitFor, waitHealthy };
