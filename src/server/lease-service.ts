/**
 * The Lease service over the log: grants and revokes are proposals; keep-alives and time-to-live
 * are answered by the leader's lessor (LeasePrimary), so a follower forwards them to the leader over
 * peer HTTP, as etcd does; the leader revokes expired leases through the log.
 */

import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeResponse,
} from '../proto/etcdserverpb/rpc.js';
import { EtcdError, etcdError } from '../wire/errors.js';
import type { AuthInfo } from './auth/index.js';
import type { LeasePrimary } from './lease-checkpoint.js';
import type { Lessor } from './lessor.js';

/** How often expired leases are looked for (etcd: 500 ms). */
export const LEASE_EXPIRY_CHECK_MS = 500;
/** Most expired leases revoked per check, so a mass expiry does not flood the log at once. */
export const LEASE_REVOKES_PER_TICK = 1000;

export interface LeaseServiceHost {
  stopped(): boolean;
  isLeader(): boolean;
  lessor(): Lessor;
  primary: LeasePrimary;
  propose(fields: Partial<InternalRaftRequest>, who?: AuthInfo): Promise<unknown>;
  /** A fresh id for a lease granted with ID 0 (chosen here, so every member agrees). */
  nextId(): bigint;
  /** Asks the leader (peer HTTP). */
  askLeader(op: 'renew' | 'ttl', id: bigint): Promise<{ ttl: number; granted: number }>;
}

export class LeaseService {
  constructor(private readonly host: LeaseServiceHost) {}

  /** Grants a lease; the id is chosen here when the client left it 0, so every member agrees. */
  grant(r: LeaseGrantRequest, who?: AuthInfo): Promise<LeaseGrantResponse> {
    let id = r.ID;
    if (id === 0n) id = this.host.nextId() & 0x7fffffffffffffffn;
    return this.host.propose({ leaseGrant: { ID: id, TTL: r.TTL } }, who) as Promise<LeaseGrantResponse>;
  }

  revoke(id: bigint, who?: AuthInfo): Promise<LeaseRevokeResponse> {
    return this.host.propose({ leaseRevoke: { ID: id } }, who) as Promise<LeaseRevokeResponse>;
  }

  /**
   * Keep-alive: renews to the full TTL; 0 when the lease does not exist (etcd answers TTL 0). Only
   * the leader's lessor knows real expiries, so a follower asks the leader, as etcd does.
   */
  async renew(id: bigint): Promise<number> {
    if (this.host.stopped()) throw etcdError('stopped');
    if (this.host.isLeader()) return this.host.primary.renew(id);
    return (await this.host.askLeader('renew', id)).ttl;
  }

  /** Remaining TTL (whole seconds, -1 = no such lease) and granted TTL, from the leader. */
  async timeToLive(id: bigint): Promise<{ ttl: number; granted: number }> {
    if (this.host.stopped()) throw etcdError('stopped');
    if (this.host.isLeader()) return this.host.primary.timeToLive(id);
    const r = await this.host.askLeader('ttl', id);
    return { ttl: r.ttl, granted: r.granted };
  }

  /** One expiry check (every LEASE_EXPIRY_CHECK_MS): the leader revokes expired leases, checkpoints. */
  checkExpiry(): void {
    const { host } = this;
    // Only the leader revokes; followers learn of it through the log.
    if (host.stopped() || !host.isLeader()) return;
    for (const id of host.lessor().takeExpired(LEASE_REVOKES_PER_TICK)) {
      this.revoke(id).catch((err: unknown) => {
        if (!(err instanceof EtcdError && err.kind === 'leaseNotFound')) host.lessor().unmarkRevoking(id);
      });
    }
    host.primary.checkpointDue();
  }
}
