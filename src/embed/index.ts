/**
 * tsetcd/embed: run a tsetcd member inside your own Node process (for tests, or for an application
 * that wants etcd's semantics without another process), and talk to it with tsetcd/client.
 *
 * ```ts
 * import { startMember } from 'tsetcd/embed';
 * import { Client } from 'tsetcd/client';
 * const m = await startMember({ dataDir: '/tmp/my.etcd' });           // 127.0.0.1, free ports
 * const client = new Client({ endpoints: [m.endpoint] });
 * ...
 * client.close();
 * await m.stop();
 * ```
 *
 * Kept apart from tsetcd/client on purpose: the client never imports the server.
 */
import { createServer } from 'node:net';
import { ApiServer } from '../api/server.js';
import { importEtcdDataDir, Member, type MemberConfig } from '../server/index.js';
import { createLogger, type LogLevel, silentLogger } from '../server/logger.js';

/** Options of `startMember`; anything of MemberConfig not given takes etcd's default. */
export interface EmbedConfig extends Partial<MemberConfig> {
  /** Where the member keeps its WAL and store (required: embedding never picks a directory for you). */
  dataDir: string;
  /** Member name; default "default" (etcd's). */
  name?: string;
  /** Host to listen on for clients and peers; default 127.0.0.1. */
  host?: string;
  /** Client port; default a free one. */
  clientPort?: number;
  /** Peer port; default a free one. */
  peerPort?: number;
  /** Log level of the member's logger; default silent. */
  logLevel?: LogLevel;
}

/** A member running in this process. */
export interface EmbeddedMember {
  readonly member: Member;
  /** host:port of the client gRPC (and HTTP) listener. */
  readonly endpoint: string;
  /** http://host:port of the client listener. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** Stops the client listener, then the member (WAL synced and closed). */
  stop(): Promise<void>;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts one member (a single-member cluster unless `initialCluster` says otherwise) and its client
 * listener, and resolves once it serves requests (a single member elects itself first).
 */
export async function startMember(config: EmbedConfig): Promise<EmbeddedMember> {
  const host = config.host ?? '127.0.0.1';
  const name = config.name ?? 'default';
  const clientPort = config.clientPort ?? (await freePort(host));
  const peerPort = config.peerPort ?? (await freePort(host));
  const clientUrl = `http://${host}:${clientPort}`;
  const peerUrl = `http://${host}:${peerPort}`;
  const cfg: MemberConfig = {
    name,
    clientUrls: [clientUrl],
    peerUrls: [peerUrl],
    initialCluster: [{ name, peerUrls: [peerUrl] }],
    initialClusterToken: 'etcd-cluster',
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    quotaBackendBytes: 0,
    listenPeer: { host, port: peerPort },
    ...config,
  };
  const logger = config.logLevel ? createLogger(config.logLevel, name) : silentLogger;
  await importEtcdDataDir({ dataDir: cfg.dataDir, walDir: cfg.walDir, logger }); // an etcd 3.4 data dir
  const member = await Member.start(cfg, logger);
  const api = new ApiServer(member, { maxRequestBytes: cfg.maxRequestBytes, maxTxnOps: cfg.maxTxnOps });
  try {
    await api.listen(host, clientPort);
  } catch (e) {
    await member.stop();
    throw e;
  }
  return {
    member,
    endpoint: `${host}:${clientPort}`,
    clientUrl,
    peerUrl,
    stop: async () => {
      await api.close();
      await member.stop();
    },
  };
}
