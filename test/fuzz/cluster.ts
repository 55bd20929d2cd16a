/**
 * A real 3-process tsetcd cluster for the fuzzer (etcd's clustering flags, free ports, a temp dir),
 * and the end-of-run checks: every member healthy, a put/get through each member, and the same
 * HashKV on every member at one revision once all of them applied it.
 */
import { AlarmRequest_AlarmAction } from '../../src/proto/etcdserverpb/rpc.js';
import { type Proc, planCluster, running, startAll, stopAll } from '../helpers/cluster.js';
import { b, connect, type EtcdClients, tempDir, waitFor } from '../helpers/index.js';

export interface FuzzCluster {
  members: (Proc & { endpoint: string })[];
  /** Every member still running? A description of the dead ones otherwise. */
  alive(): string | undefined;
  stop(): Promise<void>;
}

/** Starts n tsetcd member processes (test/helpers/cluster.ts) and waits until each is healthy. */
export async function startFuzzCluster(n: number, extraFlags: string[] = []): Promise<FuzzCluster> {
  const dir = tempDir('tsetcd-fuzz-');
  const procs = await planCluster(dir.path, n, {
    names: Array.from({ length: n }, (_, i) => `f${i + 1}`),
    token: 'fuzz',
    extraFlags: ['--log-level', 'warn', ...extraFlags],
  });
  const members = procs.map((p) => Object.assign(p, { endpoint: p.client }));
  const cluster: FuzzCluster = {
    members,
    alive: () => {
      const dead = members.filter((m) => !running(m));
      return dead.length === 0
        ? undefined
        : dead
            .map(
              (m) =>
                `${m.name} exited with ${m.child?.signalCode ?? `code ${m.child?.exitCode}`}\n--- ${m.name} log tail ---\n${m.log.slice(-4000)}`,
            )
            .join('\n');
    },
    stop: async () => {
      await stopAll(members);
      dir.remove();
    },
  };
  try {
    await startAll(members);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

export interface AfterCheck {
  revision: bigint;
  hashes: { member: string; hash: number; compactRevision: bigint }[];
  /** Alarms the run raised (and the check disarmed). */
  alarmsRaised: number;
}

async function statusText(c: EtcdClients): Promise<string> {
  try {
    const s = await c.maintenance.status({}, { deadlineMs: 5000 });
    return JSON.stringify({ leader: String(s.leader), errors: s.errors, raftTerm: String(s.raftTerm) });
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The cluster after the fuzz run: /health on every member, a put and a linearizable get through
 * each member, then HashKV at the newest revision once every member applied it. Throws on any
 * disagreement.
 */
export async function checkClusterAfter(endpoints: string[]): Promise<AfterCheck> {
  const clients = endpoints.map((e) => connect(e));
  try {
    // A mutated Alarm request may legitimately have raised an alarm (a flipped action bit makes
    // ACTIVATE); /health is false while one is active, so disarm them first and report them.
    const alarms = await retry(() =>
      clients[0]!.maintenance.alarm({ action: AlarmRequest_AlarmAction.GET }, { deadlineMs: 10_000 }),
    );
    for (const a of alarms.alarms) {
      await retry(() =>
        clients[0]!.maintenance.alarm(
          { action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm },
          { deadlineMs: 10_000 },
        ),
      );
    }
    for (const e of endpoints) {
      await waitFor(
        async () => {
          try {
            const r = await fetch(`http://${e}/health`, { signal: AbortSignal.timeout(2000) });
            return r.ok && ((await r.json()) as { health?: string }).health === 'true';
          } catch {
            return false;
          }
        },
        {
          timeoutMs: 30_000,
          what: `${e} /health after the fuzz run (status: ${await statusText(clients[endpoints.indexOf(e)]!)})`,
        },
      );
    }
    let revision = 0n;
    for (let i = 0; i < clients.length; i++) {
      const key = b(`fuzz-probe/${i}`);
      const put = await retry(() => clients[i]!.kv.put({ key, value: b(`v${i}`) }, { deadlineMs: 10_000 }));
      if (put.header!.revision > revision) revision = put.header!.revision;
      for (const c of clients) {
        const got = await retry(() => c.kv.range({ key }, { deadlineMs: 10_000 }));
        if (got.kvs[0]?.value.toString() !== `v${i}`)
          throw new Error(`probe put through member ${i} not visible on ${endpoints[clients.indexOf(c)]}`);
      }
    }
    // every member applied `revision` (a serializable read is answered from the local store)
    await waitFor(
      async () => {
        for (const c of clients) {
          const r = await c.kv.range({ key: b('fuzz-probe/'), serializable: true }, { deadlineMs: 5000 });
          if (r.header!.revision < revision) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, what: `every member at revision ${revision}` },
    );
    const hashes = [];
    for (let i = 0; i < clients.length; i++) {
      const h = await retry(() => clients[i]!.maintenance.hashKv({ revision }, { deadlineMs: 30_000 }));
      hashes.push({ member: endpoints[i]!, hash: h.hash, compactRevision: h.compactRevision });
    }
    const first = hashes[0]!;
    for (const h of hashes) {
      if (h.hash !== first.hash || h.compactRevision !== first.compactRevision) {
        throw new Error(
          `HashKV at revision ${revision} disagrees: ${JSON.stringify(hashes, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
        );
      }
    }
    return { revision, hashes, alarmsRaised: alarms.alarms.length };
  } finally {
    for (const c of clients) c.close();
  }
}

/** Retries a call for a while: right after a fuzz run a leader change (MoveLeader) may be settling. */
async function retry<T>(fn: () => Promise<T>, tries = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= tries) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Status and member list of every member, for failure reports. */
export async function describeCluster(endpoints: string[]): Promise<string> {
  const lines: string[] = [];
  for (const e of endpoints) {
    const c = connect(e);
    try {
      const ml = await c.cluster.memberList({}, { deadlineMs: 5000 }).catch((err: Error) => err.message);
      lines.push(`${e}: status ${await statusText(c)}`);
      lines.push(
        `  members: ${typeof ml === 'string' ? ml : ml.members.map((m) => `${m.ID.toString(16)} ${m.name || '(unstarted)'} learner=${m.isLearner} ${m.peerURLs.join(',')}`).join('; ')}`,
      );
    } finally {
      c.close();
    }
  }
  return lines.join('\n');
}

/** grpc_server_started_total minus grpc_server_handled_total per method, from /metrics. */
export async function unfinishedCalls(endpoint: string): Promise<Map<string, number>> {
  const text = await (
    await fetch(`http://${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) })
  ).text();
  const open = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^grpc_server_(started|handled)_total\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.grpc_service}/${labels.grpc_method}`;
    const n = Number(m[3]) * (m[1] === 'started' ? 1 : -1);
    open.set(key, (open.get(key) ?? 0) + n);
  }
  for (const [k, v] of open) if (v === 0) open.delete(k);
  return open;
}

/**
 * Every call the members started has ended (the fuzzer's connections are all closed by now): the
 * server holds no stream, watcher or pending handler for a call whose client is gone.
 */
export async function checkNoCallsLeft(endpoints: string[]): Promise<void> {
  for (const e of endpoints) {
    let left = new Map<string, number>();
    try {
      await waitFor(
        async () => {
          left = await unfinishedCalls(e);
          return left.size === 0;
        },
        { timeoutMs: 30_000, what: 'no unfinished calls' },
      );
    } catch {
      throw new Error(`${e} still holds calls nobody waits for: ${JSON.stringify(Object.fromEntries(left))}`);
    }
  }
}
