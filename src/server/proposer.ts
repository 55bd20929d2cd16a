/**
 * Proposals and their waiters: request ids, the encoded size check, the apply/commit gap, deadlines
 * ("request timed out"), and the acknowledgement of applied results at the end of the event-loop
 * turn (when the entries that produced them are durable in the WAL).
 *
 *   propose(fields) -> id, InternalRaftRequest encoded -> host.propose(data) -> ... entry applied ->
 *   settle(id, result) queues the answer -> end of turn: host.flush() publishes events, then
 *   acknowledge() answers every queued waiter in apply order.
 */
import type { Clock } from '../pkg/clock.js';
import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import type { ConfChange } from '../raft/index.js';
import { etcdError } from '../wire/errors.js';
import type { ServerMetrics } from './metrics.js';
import { encodeProposal, OwnProposals } from './proposal-codec.js';

/** Committed entries not yet applied beyond which proposals are refused (etcd's maxGapBetweenApplyAndCommitIndex). */
export const MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000;

/** The outcome of applying one entry. */
export type ApplyResult = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** clock.now() after which it fails with "request timed out". */
  deadline: number;
}

export interface ProposerHost {
  clock: Clock;
  metrics: ServerMetrics;
  memberId: bigint;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  stopped(): boolean;
  appliedIndex(): number;
  /** The highest commit index this member has heard of (the leader's, on a follower). */
  knownCommitIndex(): number;
  /** Hands encoded data to the Raft driver; throws etcd's errors when it cannot take it. */
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  /** End of the turn: publish events, then call `acknowledge()`, release reads, commit lazily. */
  flush(): void;
  /** Who the member acts as when it proposes on its own (root, at the current auth revision). */
  rootIdentity(): { username: string; revision: bigint };
}

export class Proposer {
  private readonly waiters = new Map<bigint, Waiter>();
  /** MemberAdd/Remove/Update/Promote waiting for their conf change, by "type:nodeId". */
  private readonly confWaiters = new Map<string, Waiter>();
  /** Results applied (durable in the WAL) and acknowledged together at the end of the turn. */
  private unacked: { waiter: Waiter | undefined; result: ApplyResult }[] = [];
  private flushScheduled = false;
  private nextRequestId: bigint;
  /** This member's proposals, applied from their message rather than decoded again. */
  readonly own = new OwnProposals();

  constructor(private readonly host: ProposerHost) {
    // Request ids: member-unique prefix, then a counter (etcd's idutil does the same).
    this.nextRequestId =
      ((host.memberId & 0xffffn) << 48n) | ((BigInt(Math.floor(host.clock.wallNow())) & 0xffffffffffn) << 8n);
  }

  /** A fresh id (for requests, and for leases granted with ID 0). */
  nextId(): bigint {
    return this.nextRequestId++;
  }

  /**
   * Proposes a request as the user `who` (its name and the auth revision its token was checked at,
   * written into the entry header for the apply-time check); without `who` the member itself
   * proposes (lease expiry, Lock/Election steps) and acts as root, as etcd's WithRoot. Resolves with
   * its applied result, or fails with etcd's error.
   */
  propose(
    fields: Partial<InternalRaftRequest>,
    who?: { username: string; revision: bigint },
  ): Promise<unknown> {
    if (this.host.stopped()) return Promise.reject(etcdError('stopped'));
    // As etcd: applying has fallen too far behind what is committed, so refuse more work for now.
    if (this.host.knownCommitIndex() > this.host.appliedIndex() + MAX_GAP_BETWEEN_APPLY_AND_COMMIT) {
      return Promise.reject(etcdError('tooManyRequests'));
    }
    const id = this.nextId();
    const as = who ?? this.host.rootIdentity();
    const proposal = encodeProposal(fields, { ID: id, username: as.username, authRevision: as.revision });
    const data = proposal.data;
    if (data.length > this.host.maxRequestBytes) return Promise.reject(etcdError('requestTooLarge'));
    this.own.remember(proposal);
    const { metrics } = this.host;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, deadline: this.deadline() });
      metrics.proposalsPending.inc();
      try {
        this.host.propose(data);
      } catch (err) {
        this.waiters.delete(id);
        metrics.proposalsPending.dec();
        metrics.proposalsFailed.inc();
        reject(err);
      }
    });
  }

  /** Proposes a membership change; resolves once it is applied here. One per (type, node) at a time. */
  proposeConfChange(cc: ConfChange): Promise<void> {
    const key = confKey(cc);
    if (this.confWaiters.has(key)) return Promise.reject(etcdError('timeout'));
    return new Promise((resolve, reject) => {
      this.confWaiters.set(key, { resolve, reject, deadline: this.deadline() });
      try {
        this.host.proposeConfChange(cc);
      } catch (err) {
        this.confWaiters.delete(key);
        reject(err);
      }
    });
  }

  /** Entry for request `id` was applied with `result`: answered at the end of the turn. */
  settle(id: bigint, result: ApplyResult): void {
    const waiter = this.waiters.get(id);
    if (waiter) this.waiters.delete(id);
    this.unacked.push({ waiter, result });
    this.scheduleFlush();
  }

  /** A conf change was applied: its MemberAdd/Remove/Update/Promote is answered. */
  settleConfChange(cc: ConfChange): void {
    const key = confKey(cc);
    const waiter = this.confWaiters.get(key);
    if (!waiter) return;
    this.confWaiters.delete(key);
    waiter.resolve(undefined);
  }

  /** Whether results are waiting to be acknowledged. */
  get hasUnacked(): boolean {
    return this.unacked.length > 0;
  }

  /** Runs `host.flush()` once at the end of this turn. */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.host.flush();
    });
  }

  /** Answers every queued result, in apply order (called from `host.flush()`). */
  acknowledge(): void {
    const batch = this.unacked;
    this.unacked = [];
    let answered = 0;
    for (const { waiter, result } of batch) {
      // An entry another member proposed has no waiter here, and was never counted pending here.
      if (!waiter) continue;
      answered++;
      if (result.ok) waiter.resolve(result.value);
      else waiter.reject(result.error);
    }
    if (answered > 0) this.host.metrics.proposalsPending.dec(answered);
  }

  /** Fails proposals that waited too long to be applied (lost on a leader change, or a stuck disk). */
  expire(): void {
    const now = this.host.clock.now();
    for (const [key, w] of this.confWaiters) {
      if (w.deadline > now) continue;
      this.confWaiters.delete(key);
      w.reject(etcdError('timeout'));
    }
    for (const [id, w] of this.waiters) {
      if (w.deadline > now) continue;
      this.waiters.delete(id);
      this.host.metrics.proposalsPending.dec();
      this.host.metrics.proposalsFailed.inc();
      w.reject(etcdError('timeout'));
    }
  }

  /** The member stopped: every waiter fails with "server stopped". */
  failAll(countFailed: boolean): void {
    for (const w of this.waiters.values()) {
      if (countFailed) this.host.metrics.proposalsFailed.inc();
      w.reject(etcdError('stopped'));
    }
    this.waiters.clear();
    for (const w of this.confWaiters.values()) w.reject(etcdError('stopped'));
    this.confWaiters.clear();
  }

  private deadline(): number {
    return this.host.clock.now() + this.host.requestTimeoutMs;
  }
}

function confKey(cc: ConfChange): string {
  return `${cc.type}:${cc.nodeId}`;
}
