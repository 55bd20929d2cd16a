/**
 * The member's side of the peer port: the transport's links to the other members (kept in step with
 * the member table), Raft messages out (snapshots streamed with their database), messages and
 * snapshots in, and the member's own peer endpoints (peer-http.ts).
 */

import type { ListenAddress } from '../pkg/index.js';
import { type ConfChange, ConfChangeType, type Message, MessageType } from '../raft/index.js';
import { PeerServer, type PeerStats, Transport } from '../transport/index.js';
import type { ResolvedConfig } from './config.js';
import type { LeasePrimary } from './lease-checkpoint.js';
import type { Logger } from './logger.js';
import { MemberRemovedError } from './member-removed.js';
import type { Membership } from './membership.js';
import type { ServerMetrics } from './metrics.js';
import { servePeerHttp } from './peer-http.js';
import type { RaftDriver } from './raft-driver.js';
import type { SnapshotTransfer } from './snapshot-transfer.js';

export interface MemberPeersHost {
  cfg: ResolvedConfig;
  logger: Logger;
  metrics: ServerMetrics;
  memberId: bigint;
  clusterId: bigint;
  membership(): Membership;
  /** The Raft driver, once it is open (messages that arrive before are dropped, as Raft allows). */
  driver(): RaftDriver | undefined;
  stopped(): boolean;
  snapshots: SnapshotTransfer;
  leasePrimary: LeasePrimary;
  promote(id: bigint): Promise<void>;
  /** More endpoints of other parts on the peer port (etcd's /members/hashkv, corrupt-check.ts). */
  serveAlso?(server: PeerServer): void;
  /** Stop the member for good (peers answered that it was removed from the cluster). */
  fail(err: Error): void;
}

export class MemberPeers {
  private transport: Transport | undefined;

  constructor(private readonly host: MemberPeersHost) {}

  /** Starts the peer listener, links to every other member, and serves the member's endpoints. */
  async listen(listen: ListenAddress): Promise<void> {
    const { host } = this;
    const t = await Transport.start({
      localId: host.memberId,
      clusterId: host.clusterId,
      // A unix:// peer URL: the socket is bound here and the transport takes the server as is.
      listen: 'path' in listen ? { host: '', port: 0 } : listen,
      server: 'path' in listen ? await PeerServer.listenPath(listen.path) : undefined,
      advertisePeerUrls: host.cfg.peerUrls,
      logger: host.logger,
      onMessage: (m: Message) => host.driver()?.step(m),
      onUnreachable: (id: bigint) => host.driver()?.reportUnreachable(id),
      // etcd's rafthttp: peers refuse a removed member (410), which then stops (errMemberRemoved) —
      // the way a member removed while it was down or cut off learns it, having missed the entry.
      isRemoved: (id: bigint) => host.membership().isRemoved(id),
      onRemoved: () => {
        if (!host.stopped()) host.fail(new MemberRemovedError());
      },
      onSnapshot: (m: Message, data) => host.snapshots.receive(m, data),
      onSnapshotStatus: (id: bigint, ok: boolean) => {
        if (ok) host.metrics.snapshotSendSuccess.inc();
        host.driver()?.reportSnapshot(id, ok);
      },
      onRoundTrip: (id, seconds) => host.metrics.peerRoundTrip(id, seconds),
      faults: host.cfg.transportFaults,
      tls: host.cfg.peerTls,
      tlsListen: host.cfg.peerTlsListen,
    });
    this.transport = t;
    for (const a of host.cfg.listenPeerAlso ?? []) await t.server.listenAlso(a);
    this.syncPeers();
    servePeerHttp(t.server, {
      clusterId: host.clusterId,
      members: () => host.membership().list(),
      isServingLeader: () => host.driver()?.leader === host.memberId && !host.stopped(),
      renewLease: (id) => host.leasePrimary.renew(id),
      leaseTimeToLive: (id) => host.leasePrimary.timeToLive(id),
      promote: (id) => host.promote(id),
    });
    host.serveAlso?.(t.server);
  }

  /** Links to every member of the table but this one (after start and after a snapshot install). */
  syncPeers(): void {
    const t = this.transport;
    if (!t) return;
    for (const m of this.host.membership().list())
      if (m.id !== this.host.memberId) t.addPeer(m.id, m.peerUrls);
  }

  /** An applied conf change: the links follow the member table. */
  onConfChange(cc: ConfChange): void {
    const t = this.transport;
    if (!t || cc.nodeId === this.host.memberId) return;
    if (cc.type === ConfChangeType.RemoveNode) {
      t.removePeer(cc.nodeId);
      return;
    }
    const m = this.host.membership().get(cc.nodeId);
    if (m) t.addPeer(cc.nodeId, m.peerUrls);
  }

  /** Sends a Ready's messages; snapshots go with a copy of the database. */
  send(msgs: readonly Message[]): void {
    const t = this.transport;
    if (!t) {
      this.host.logger.warn({ count: msgs.length }, 'dropping raft messages: no peer listener configured');
      return;
    }
    // Snapshots are rare and streamed separately; the usual Ready goes out without a copy.
    if (!msgs.some((m) => m.type === MessageType.Snap)) {
      t.send(msgs);
      return;
    }
    const plain = msgs.filter((m) => m.type !== MessageType.Snap);
    if (plain.length > 0) t.send(plain);
    for (const m of msgs) if (m.type === MessageType.Snap) void this.host.snapshots.send(t, m);
  }

  /** Link statistics by member id (empty without a peer listener). */
  stats(): Map<bigint, PeerStats> {
    return this.transport?.stats() ?? new Map();
  }

  /** Peer URLs whose members answered "cluster ID mismatch" (a bootstrap with the wrong token). */
  refusingClusterId(): string[] {
    const out: string[] = [];
    for (const [id, st] of this.stats()) {
      if (st.lastErrorCode !== 'cluster-id-mismatch') continue;
      out.push(...(this.host.membership().get(id)?.peerUrls ?? [id.toString(16)]));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.transport?.close().catch(() => {});
  }
}
