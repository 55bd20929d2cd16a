/**
 * The in-process starter: tsetcd members as objects in this process (src/server's `Member`, with
 * src/api's `ApiServer` on a client port when wanted), for tests that read a member's state
 * directly, inject transport faults or stop and restart members fast. Unlike the rest of
 * test/helpers, this file imports src/ — it is the one place that does; the differential harness
 * (member.ts, diff.ts, ...) must not, so it never shares code with the server it judges.
 *
 * - `testMemberConfig(o)`: the one MemberConfig of tests, with the defaults every test used;
 * - `InprocCluster.start(n, extra, {token, api})`: n members on real peer sockets sharing one
 *   `FaultHooks`, each restartable on its data dir and ports;
 * - `startTrio(prefix, t, extra)`: three members without client servers, stopped with the test.
 */
import { ApiServer } from '../../src/api/server.js';
import { Member, type MemberConfig } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { FaultHooks } from '../../src/transport/index.js';
import { connect, type EtcdClients } from './grpc.js';
import { freePort, tempDir, waitFor } from './util.js';

/** What a test says about a member; everything else gets the default below. */
export type TestMemberOptions = Partial<MemberConfig> & {
  dataDir: string;
  /** Listen for peers on 127.0.0.1:<peerPort> and advertise it (needed by clusters). */
  peerPort?: number;
};

/**
 * A MemberConfig for tests. Defaults: name "m1", no client URLs, peer URL http://127.0.0.1:2380
 * (advertised only; nothing listens unless `peerPort` is given), a single-member initial cluster,
 * token "etcd-cluster", etcd's request limits (1.5 MiB, 128 txn ops), no backend quota.
 */
export function testMemberConfig(o: TestMemberOptions): MemberConfig {
  const { peerPort, ...rest } = o;
  const peerUrls = peerPort === undefined ? ['http://127.0.0.1:2380'] : [`http://127.0.0.1:${peerPort}`];
  return {
    name: 'm1',
    clientUrls: [],
    peerUrls,
    initialCluster: [],
    initialClusterToken: 'etcd-cluster',
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    quotaBackendBytes: 0,
    ...(peerPort === undefined ? {} : { listenPeer: { host: '127.0.0.1', port: peerPort } }),
    ...rest,
  };
}

/** One member of an InprocCluster. */
export interface InprocNode {
  name: string;
  cfg: MemberConfig;
  clientPort: number;
  member: Member | undefined;
  api: ApiServer | undefined;
  /** host:port of its client (gRPC) server. */
  endpoint: string;
}

/** Options of `InprocCluster.start`. */
export interface InprocOptions {
  /** --initial-cluster-token; default "inproc". */
  token?: string;
  /** Member names are <prefix>0..; default "n". */
  namePrefix?: string;
  /** Serve gRPC on each member's client port (default true). */
  api?: boolean;
}

/**
 * n tsetcd members in this process, each with its own peer listener and (unless `api: false`)
 * client gRPC server. A stopped member's client server closes too, so its clients see the
 * connection drop (as with a killed process). `restart(i)` reopens the same data dir and ports.
 */
export class InprocCluster {
  readonly nodes: InprocNode[] = [];
  readonly faults = new FaultHooks();
  private readonly clients: EtcdClients[] = [];
  private readonly dir = tempDir('tsetcd-inproc-');
  private api = true;

  get dataDir(): string {
    return this.dir.path;
  }

  /** Starts `n` members together (each waits for a leader, which needs a quorum). */
  static async start(
    n: number,
    extra: Partial<MemberConfig> = {},
    opts: InprocOptions | string = {},
  ): Promise<InprocCluster> {
    const o = typeof opts === 'string' ? { token: opts } : opts;
    const c = new InprocCluster();
    c.api = o.api ?? true;
    const prefix = o.namePrefix ?? 'n';
    const ports = await Promise.all(Array.from({ length: 2 * n }, () => freePort()));
    const initialCluster = Array.from({ length: n }, (_, i) => ({
      name: `${prefix}${i}`,
      peerUrls: [`http://127.0.0.1:${ports[2 * i]}`],
    }));
    for (let i = 0; i < n; i++) {
      const clientPort = ports[2 * i + 1]!;
      const name = `${prefix}${i}`;
      c.nodes.push({
        name,
        clientPort,
        endpoint: `127.0.0.1:${clientPort}`,
        member: undefined,
        api: undefined,
        cfg: testMemberConfig({
          name,
          dataDir: `${c.dir.path}/${name}`,
          peerPort: ports[2 * i]!,
          clientUrls: c.api ? [`http://127.0.0.1:${clientPort}`] : [],
          initialCluster,
          initialClusterToken: o.token ?? 'inproc',
          transportFaults: c.faults,
          ...extra,
        }),
      });
    }
    try {
      await Promise.all(c.nodes.map((_, i) => c.restart(i)));
      await c.waitForLeader();
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  /** (Re)starts member `i` on its data dir and ports. */
  async restart(i: number): Promise<void> {
    const node = this.nodes[i]!;
    if (node.member) return;
    const member = await Member.start(node.cfg, silentLogger);
    if (this.api) {
      const api = new ApiServer(member, {
        maxRequestBytes: node.cfg.maxRequestBytes,
        maxTxnOps: node.cfg.maxTxnOps,
      });
      await api.listen('127.0.0.1', node.clientPort);
      node.api = api;
    }
    node.member = member;
  }

  /** Stops member `i`: its client server closes (streams end) and its peers lose it. */
  async stop(i: number): Promise<void> {
    const node = this.nodes[i]!;
    const { member, api } = node;
    node.member = undefined;
    node.api = undefined;
    await api?.close();
    await member?.stop();
  }

  /** A new client connection to member `i` (closed with the cluster). */
  client(i: number): EtcdClients {
    const c = connect(this.nodes[i]!.endpoint);
    this.clients.push(c);
    return c;
  }

  /** The index of the member every running member agrees leads, once there is one. */
  async waitForLeader(timeoutMs = 20_000): Promise<number> {
    let idx = -1;
    await waitFor(
      async () => {
        const running = this.nodes.filter((n) => n.member);
        const lead = running[0]?.member?.leader ?? 0n;
        if (lead === 0n || !running.every((n) => n.member!.leader === lead)) return false;
        idx = this.nodes.findIndex((n) => n.member?.memberId === lead);
        return idx >= 0;
      },
      { timeoutMs, what: 'one leader agreed by every running member' },
    );
    return idx;
  }

  member(i: number): Member {
    const m = this.nodes[i]!.member;
    if (!m) throw new Error(`member ${i} is stopped`);
    return m;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    this.faults.reset();
    await Promise.all(this.nodes.map((_, i) => this.stop(i).catch(() => {})));
    this.dir.remove();
  }
}

/** Three members without client servers sharing one set of transport fault hooks. */
export interface Trio {
  members: Member[];
  faults: FaultHooks;
  dataDir: string;
}

/**
 * Starts three members (names m0..m2, with `extra` config each), closed when the test ends, and
 * waits until all three follow one leader.
 */
export async function startTrio(
  token: string,
  t: { after(fn: () => unknown): void },
  extra: Partial<MemberConfig> = {},
): Promise<Trio> {
  const c = await InprocCluster.start(
    3,
    { maxRequestBytes: 1 << 20, ...extra },
    { token, namePrefix: 'm', api: false },
  );
  t.after(() => c.close());
  return { members: c.nodes.map((n) => n.member!), faults: c.faults, dataDir: c.dataDir };
}

/** One in-process member serving gRPC on a free port of 127.0.0.1. */
export interface InprocServer {
  member: Member;
  api: ApiServer;
  /** host:port of its client (gRPC) server. */
  endpoint: string;
  /** Closes the client server, then stops the member. */
  stop(): Promise<void>;
}

/** Starts `Member.start(cfg)` with an ApiServer (cfg's request limits) on a free port. */
export async function startInprocServer(cfg: MemberConfig): Promise<InprocServer> {
  const member = await Member.start(cfg, silentLogger);
  const api = new ApiServer(member, { maxRequestBytes: cfg.maxRequestBytes, maxTxnOps: cfg.maxTxnOps });
  const addr = await api.listen('127.0.0.1', 0);
  return {
    member,
    api,
    endpoint: `127.0.0.1:${addr.port}`,
    stop: async () => {
      await api.close();
      await member.stop();
    },
  };
}
