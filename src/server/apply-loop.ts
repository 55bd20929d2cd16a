/**
 * The member's apply side, called by the Raft driver for every committed entry in index order: the
 * applied index, the events of applied writes, and the end-of-turn flush that publishes events,
 * answers waiters, releases reads and lets the store commit.
 *
 *   applyEntry / applyConfChange / advanceAppliedIndex   (each entry exactly once, in index order)
 *        -> Applier (one write txn per entry), applied index = entry index
 *        -> Proposer.settle (queued) ... end of turn: flush()
 *   flush: events -> listeners; Proposer.acknowledge(); ReadBarrier.release(); lazy store commit
 */
import type { Event } from '../proto/mvccpb/kv.js';
import { type ConfChange, ConfChangeType } from '../raft/index.js';
import type { Applier } from './applier.js';
import type { BackendSlot } from './backend-slot.js';
import type { CommittedEntry } from './consensus.js';
import type { LeasePrimary } from './lease-checkpoint.js';
import type { Logger } from './logger.js';
import type { MemberPeers } from './member-peers.js';
import { MemberRemovedError, REMOVED_STOP_DELAY_MS } from './member-removed.js';
import type { ServerMetrics } from './metrics.js';
import type { ApplyResult, Proposer } from './proposer.js';
import type { ReadBarrier } from './reads.js';
import { toServerError } from './server-errors.js';
import type { Signal } from './signal.js';

export interface ApplyLoopHost {
  memberId: bigint;
  logger: Logger;
  metrics: ServerMetrics;
  applier: Applier;
  proposer(): Proposer;
  reads(): ReadBarrier;
  backend(): BackendSlot;
  peers(): MemberPeers;
  leasePrimary: LeasePrimary;
  /** Notified after every applied conf change. */
  confChanged: Signal;
  /** The member must stop (it was removed from the cluster). */
  fail(err: unknown): void;
}

export class ApplyLoop {
  /** The index of the last entry applied here (the store's consistent index, or past it for empty entries). */
  appliedIndex: number;
  /** The newest revision whose events have been published to listeners. */
  notifiedRevision: number;
  /** Events of applied writes, published together at the end of the turn. */
  private pendingEvents: Event[] = [];
  private readonly listeners: ((events: Event[]) => void)[] = [];

  constructor(
    private readonly host: ApplyLoopHost,
    store: { consistentIndex: number; rev: number },
  ) {
    this.appliedIndex = store.consistentIndex;
    this.notifiedRevision = store.rev;
  }

  /** Subscribes to committed changes (see Member.onEvents). */
  onEvents(listener: (events: Event[]) => void): void {
    this.listeners.push(listener);
  }

  private readonly restoreListeners: ((rev: number) => void)[] = [];

  /** Subscribes to history gaps (see Member.onRestored). */
  onRestored(listener: (rev: number) => void): void {
    this.restoreListeners.push(listener);
  }

  /**
   * The store was replaced by one whose history does not reach back to what listeners have seen
   * (a snapshot compacted past it): they are told the new revision instead of events, and must
   * read what they can from the store (watchers behind the compaction get etcd's compacted error).
   */
  restored(rev: number): void {
    this.notifiedRevision = rev;
    for (const l of this.restoreListeners) l(rev);
  }

  /** Events for listeners, published at the end of this turn. */
  publish(events: Event[]): void {
    for (const e of events) this.pendingEvents.push(e);
    this.host.proposer().scheduleFlush();
  }

  /** Events of a write txn that ended (the applier's), published with the turn's flush. */
  keep(events: Event[]): void {
    for (const e of events) this.pendingEvents.push(e);
  }

  /** Applies one committed entry. Runs for every entry exactly once, in index order. */
  applyEntry(entry: CommittedEntry): void {
    if (entry.index <= this.appliedIndex) return; // already in the store (replay after restart)
    const request = this.host.proposer().own.take(entry.data);
    let result: ApplyResult;
    try {
      result = { ok: true, value: this.host.applier.apply(request, entry.index) };
    } catch (error) {
      result = { ok: false, error: toServerError(error) };
    }
    this.appliedIndex = entry.index;
    this.host.proposer().settle(request.header?.ID ?? 0n, result);
  }

  /** An entry with nothing for the store (empty or a conf change) was applied: reads may proceed. */
  advanceAppliedIndex(index: number, term: number): void {
    if (index <= this.appliedIndex) return;
    this.host.leasePrimary.onEmptyEntryApplied(term);
    this.appliedIndex = index;
    this.host.proposer().scheduleFlush();
  }

  /**
   * A committed membership change, applied in index order: the member table changes in the entry's
   * write txn, the transport follows, and a waiting MemberAdd/Remove/Update/Promote is answered.
   */
  applyConfChange(cc: ConfChange, index: number): void {
    if (index <= this.appliedIndex) return; // already in the store (replay after restart)
    const { host } = this;
    host.applier.applyConfChange(cc, index);
    this.appliedIndex = index;
    host.peers().onConfChange(cc);
    host.proposer().settleConfChange(cc);
    host.confChanged.notify();
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === host.memberId) {
      // As etcd's stopWithDelay: the removed member stops a second later, its process exits 0
      // (member-removed.ts); its peers' 410 may tell it first.
      setTimeout(() => host.fail(new MemberRemovedError()), REMOVED_STOP_DELAY_MS).unref();
    }
    host.proposer().scheduleFlush();
  }

  /**
   * End of a turn's applying: publish the events, acknowledge the requests (their entries are durable
   * in the WAL), release reads, and let the store commit to lmdb in the background.
   */
  flush(): void {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    this.notifiedRevision = this.host.backend().store.rev;
    if (events.length > 0) {
      for (const l of this.listeners) {
        try {
          l(events);
        } catch (err) {
          this.host.logger.error({ err: String(err) }, 'event listener failed');
        }
      }
    }
    this.host.proposer().acknowledge();
    this.host.reads().release();
    this.host.backend().commitLazily();
  }
}
