/**
 * The leader's side of leases, around the Lessor: when it becomes primary, keep-alives that must
 * clear a checkpoint through the log first, and the periodic checkpoints of remaining TTLs.
 *
 * etcd 3.4's rules, which this follows:
 * - A new leader promotes its lessor only once it applied the first (empty) entry of its own term,
 *   so every checkpoint committed by earlier leaders is applied before remaining TTLs are read.
 *   Promotion gives each lease its remaining TTL plus one election timeout. A member that stops
 *   leading demotes its lessor at once.
 * - With checkpointing on, the primary proposes LeaseCheckpointRequest (InternalRaftRequest field
 *   11) with the remaining TTL of every lease that is due (one interval after it was granted,
 *   renewed, promoted or checkpointed, and only for leases longer than an interval), at most
 *   MAX_CHECKPOINT_BATCH per entry. Every member records it, and persists it with the lease, so a
 *   later leader (or the same member after a restart) resumes the lease from there instead of from
 *   the full TTL: repeated elections cannot keep a lease alive forever.
 * - A keep-alive for a lease that carries a checkpoint clears it (remaining TTL 0) through the log
 *   before it is answered, so a keep-alive the client saw answered always counts the full TTL.
 *
 * Difference from etcd 3.4: checkpointing is on by default here (etcd's
 * --experimental-enable-lease-checkpoint defaults to false); the flag turns it off.
 */

import type { MvccStore } from '../mvcc/index.js';
import { type Clock, realClock } from '../pkg/clock.js';
import type { LeaseCheckpointRequest } from '../proto/etcdserverpb/rpc.js';
import { etcdError } from '../wire/errors.js';
import { MvccLeaseStore } from './lease-store.js';
import { Lessor, type LessorObserver, MAX_CHECKPOINT_BATCH } from './lessor.js';
import type { Signal } from './signal.js';

export interface LeasePrimaryHost {
  /** The current lessor (a snapshot install replaces it). */
  lessor(): Lessor;
  isLeader(): boolean;
  /** The current Raft term. */
  term(): number;
  stopped(): boolean;
  proposeCheckpoint(req: LeaseCheckpointRequest): Promise<unknown>;
  /** How long a request may wait for the lessor to become primary. */
  requestTimeoutMs: number;
  /** The election timeout a new primary adds to every lease (etcd's Promote `extend`). */
  electionTimeoutMs: number;
  onError(message: string, err: unknown): void;
  clock: Clock;
  /** Notified at leader changes and when the member stops; `whenPrimary` waits on it. */
  changed: Signal;
}

export class LeasePrimary {
  private checkpointsInFlight = 0;

  constructor(private readonly host: LeasePrimaryHost) {}

  /** The leader changed: a member that no longer leads stops keeping lease time. */
  onLeaderChange(): void {
    if (!this.host.isLeader()) this.host.lessor().demote();
  }

  /** An empty entry was applied: the leader's own one of this term makes its lessor primary. */
  onEmptyEntryApplied(term: number): void {
    const lessor = this.host.lessor();
    if (this.host.isLeader() && term === this.host.term() && !lessor.isPrimary) {
      lessor.promote(this.host.electionTimeoutMs);
      this.host.changed.notify();
    }
  }

  /** Applies a committed LeaseCheckpointRequest (on every member). */
  apply(req: LeaseCheckpointRequest): void {
    const lessor = this.host.lessor();
    for (const cp of req.checkpoints) lessor.checkpoint(cp.ID, Number(cp.remainingTTL));
  }

  /**
   * Waits (briefly) for this leader's lessor to become primary: between winning the election and
   * applying the first entry of its term a leader cannot tell remaining TTLs yet.
   */
  async whenPrimary(): Promise<Lessor> {
    const { host } = this;
    const check = (): Lessor | undefined => {
      if (host.stopped()) throw etcdError('stopped');
      if (!host.isLeader()) throw etcdError('notLeader');
      const lessor = host.lessor();
      return lessor.isPrimary ? lessor : undefined;
    };
    const now = check();
    if (now) return now;
    // Wakes at the promotion (or a leader change, or the member stopping), then checks again.
    await host.changed.until(
      () => host.stopped() || !host.isLeader() || host.lessor().isPrimary,
      host.requestTimeoutMs,
      () => etcdError('timeout'),
    );
    const lessor = check();
    if (!lessor) throw etcdError('timeout');
    return lessor;
  }

  /** Keep-alive on the leader: the TTL granted again, or 0 when the lease does not exist (etcd's answer). */
  async renew(id: bigint): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const lessor = await this.whenPrimary();
      const r = lessor.renew(id);
      if (r.kind === 'renewed') return r.ttl;
      if (r.kind === 'notFound') return 0;
      // The clear is proposed after any checkpoint in flight, so it is applied after it too.
      if (attempt >= 3) throw etcdError('timeout');
      await this.host.proposeCheckpoint({ checkpoints: [{ ID: id, remainingTTL: 0n }] });
    }
  }

  /** Remaining TTL on the leader (whole seconds, -1 = none) and the granted TTL. */
  async timeToLive(id: bigint): Promise<{ ttl: number; granted: number }> {
    const lessor = await this.whenPrimary();
    return { ttl: lessor.remainingSeconds(id), granted: lessor.lookup(id)?.ttl ?? 0 };
  }

  /** Called every expiry check on the leader: proposes the checkpoints that are due, in batches. */
  checkpointDue(): void {
    const lessor = this.host.lessor();
    if (!this.host.isLeader() || !lessor.isPrimary || !lessor.checkpointing) return;
    // One batch in flight at a time keeps a slow log from piling up checkpoint entries.
    if (this.checkpointsInFlight > 0) return;
    const due = lessor.takeDueCheckpoints(MAX_CHECKPOINT_BATCH);
    if (due.length === 0) return;
    this.checkpointsInFlight++;
    this.host
      .proposeCheckpoint({
        checkpoints: due.map(({ id, remainingTtl }) => ({ ID: id, remainingTTL: BigInt(remainingTtl) })),
      })
      .catch((err: unknown) => {
        lessor.checkpointFailed(due.map((d) => d.id));
        this.host.onError('lease checkpoint failed', err);
      })
      .finally(() => {
        this.checkpointsInFlight--;
      });
  }
}

/** The member's lessor over its store, with the checkpoint settings from its configuration. */
export function openLessor(
  store: MvccStore,
  cfg: { electionTimeoutMs?: number; leaseCheckpoint?: boolean; leaseCheckpointIntervalMs?: number },
  minTtlSeconds: number,
  clock: Clock = realClock,
  observer?: LessorObserver,
): Lessor {
  return new Lessor(new MvccLeaseStore(store), () => clock.now(), {
    observer,
    minTtlSeconds,
    checkpointing: cfg.leaseCheckpoint ?? true,
    checkpointIntervalMs: cfg.leaseCheckpointIntervalMs,
  });
}
