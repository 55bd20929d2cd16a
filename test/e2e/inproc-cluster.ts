/**
 * Three (or n) tsetcd members in this process, each with its own peer listener and client gRPC
 * server, for cluster tests that need to stop and restart members and read their state directly.
 * A stopped member's client server closes too, so its clients see the connection drop (as with a
 * killed process). `restart(i)` reopens the same data dir on the same ports.
 */
import { ApiServer } from '../../src/api/server.js';
import {
  LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  LeaseService,
} from '../../src/proto/etcdserverpb/rpc.js';
import { Member, type MemberConfig } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { FaultHooks } from '../../src/transport/index.js';
import { connect, type EtcdClients, freePort, tempDir, waitFor } from '../helpers/index.js';

export interface Node {
  name: string;
  cfg: MemberConfig;
  clientPort: number;
  member: Member | undefined;
  api: ApiServer | undefined;
  /** host:port of its client (gRPC) server. */
  endpoint: string;
}

export class InprocCluster {
  readonly nodes: Node[] = [];
  readonly faults = new FaultHooks();
  private readonly clients: EtcdClients[] = [];
  private readonly dir = tempDir('tsetcd-inproc-');

  /** Starts `n` members together (each waits for a leader, which needs a quorum). */
  static async start(n: number, extra: Partial<MemberConfig> = {}, token = 'inproc'): Promise<InprocCluster> {
    const c = new InprocCluster();
    const ports = await Promise.all(Array.from({ length: 2 * n }, () => freePort()));
    const initialCluster = Array.from({ length: n }, (_, i) => ({
      name: `n${i}`,
      peerUrls: [`http://127.0.0.1:${ports[2 * i]}`],
    }));
    for (let i = 0; i < n; i++) {
      const peerPort = ports[2 * i]!;
      const clientPort = ports[2 * i + 1]!;
      c.nodes.push({
        name: `n${i}`,
        clientPort,
        endpoint: `127.0.0.1:${clientPort}`,
        member: undefined,
        api: undefined,
        cfg: {
          name: `n${i}`,
          dataDir: `${c.dir.path}/n${i}`,
          clientUrls: [`http://127.0.0.1:${clientPort}`],
          peerUrls: [`http://127.0.0.1:${peerPort}`],
          initialCluster,
          initialClusterToken: token,
          maxRequestBytes: 1.5 * 1024 * 1024,
          maxTxnOps: 128,
          quotaBackendBytes: 0,
          listenPeer: { host: '127.0.0.1', port: peerPort },
          transportFaults: c.faults,
          ...extra,
        },
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
    const api = new ApiServer(member, { maxRequestBytes: node.cfg.maxRequestBytes, maxTxnOps: 128 });
    await api.listen('127.0.0.1', node.clientPort);
    node.member = member;
    node.api = api;
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

/** A LeaseKeepAlive stream with a promise per keep-alive (responses come in request order). */
export interface KeepAliveStream {
  keepAlive(id: bigint, timeoutMs?: number): Promise<LeaseKeepAliveResponse>;
  close(): void;
}

export function openKeepAlive(c: EtcdClients): KeepAliveStream {
  const def = LeaseService.leaseKeepAlive;
  const call = c.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
  const pending: { resolve(r: LeaseKeepAliveResponse): void; reject(e: Error): void }[] = [];
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    for (const p of pending.splice(0)) p.reject(failure);
  };
  call.on('data', (r: LeaseKeepAliveResponse) => pending.shift()?.resolve(r));
  call.on('error', (e: Error) => fail(e));
  call.on('end', () => fail(new Error('keep-alive stream ended')));
  return {
    keepAlive: (id, timeoutMs = 5000) => {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // A response that never comes breaks the request/response pairing: the stream is done.
          fail(new Error(`no keep-alive response within ${timeoutMs} ms`));
          call.cancel();
        }, timeoutMs);
        pending.push({
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        call.write(LeaseKeepAliveRequest.fromPartial({ ID: id }));
      });
    },
    close: () => {
      call.end();
      call.cancel();
    },
  };
}
