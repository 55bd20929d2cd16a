/**
 * The apply dispatch: one committed InternalRaftRequest becomes one write txn of the store (whose
 * consistent index is the entry's index), synchronously, with no timers and no transport, so it
 * can be driven by tables. KV semantics are in apply.ts, membership changes in apply-conf-change.ts.
 *
 * Every entry advances the applied index, also one that fails (a refused txn, an unknown request):
 * all members apply the same entries to the same effect, whatever this version understands.
 */
import type { MvccStore, WriteTxn } from '../mvcc/index.js';
import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import { AlarmRequest_AlarmAction, type TxnRequest } from '../proto/etcdserverpb/rpc.js';
import type { Event } from '../proto/mvccpb/kv.js';
import type { ConfChange } from '../raft/index.js';
import { etcdError } from '../wire/errors.js';
import { type Alarms, alarmText } from './alarms.js';
import {
  type ApplyHooks,
  applyDeleteRange,
  applyPut,
  applyTxn,
  compactionResponse,
  header,
} from './apply.js';
import { applyConfChangeToMembership } from './apply-conf-change.js';
import { AuthStore } from './auth/index.js';
import type { LeasePrimary } from './lease-checkpoint.js';
import type { Lessor } from './lessor.js';
import type { Logger } from './logger.js';
import type { Membership } from './membership.js';

/** What the applier reads and writes: the current store and what lives in it (a swap replaces them). */
export interface ApplierHost {
  /** The auth store: its apply-time checks, and the auth requests themselves (issue 13). */
  auth(): AuthStore;
  store(): MvccStore;
  lessor(): Lessor;
  alarms(): Alarms;
  membership(): Membership;
  leasePrimary: Pick<LeasePrimary, 'apply'>;
  logger: Logger;
  /** Events of a write txn that ended, kept for publication after the durable commit. */
  onEvents(events: Event[]): void;
  /** A physical compaction started; `done` settles when it finished. */
  onCompaction(done: Promise<void>): Promise<void>;
}

export class Applier {
  readonly hooks: ApplyHooks;

  constructor(private readonly host: ApplierHost) {
    // Through the host: a snapshot install replaces the store and with it the lessor.
    this.hooks = {
      leaseExists: (id) => host.lessor().lookup(id) !== undefined,
      onPut: (key, lease) => host.lessor().onPut(key, lease),
      onDelete: (key) => host.lessor().onDelete(key),
    };
  }

  /** Opens a write txn at raft index `index` whose events are kept for publication. */
  beginWrite(index: number): WriteTxn {
    const txn = this.host.store().write(index);
    const end = txn.end.bind(txn);
    txn.end = () => {
      const r = end();
      if (r.events.length > 0) this.host.onEvents(r.events);
      return r;
    };
    return txn;
  }

  /** Applies `req` at raft index `index`; returns the response or throws etcd's error. */
  apply(req: InternalRaftRequest, index: number): unknown {
    const { host } = this;
    // etcd's applierV3Corrupt wraps every other applier: with CORRUPT active these fail first.
    if (host.alarms().corrupt && refusedWhenCorrupt(req)) {
      this.beginWrite(index).end();
      throw etcdError('corrupt');
    }
    // etcd's auth applier: the request's user (from the entry header) must still be allowed, at the
    // auth revision the request was checked at; then the auth requests themselves.
    try {
      host.auth().checkApply(req, (id) => host.lessor().lookup(id)?.keys);
    } catch (err) {
      this.beginWrite(index).end();
      throw err;
    }
    if (AuthStore.handles(req)) {
      const txn = this.beginWrite(index);
      try {
        return host.auth().apply(req, index);
      } finally {
        txn.end();
      }
    }
    if (req.put) {
      return this.inTxn(index, (txn) => {
        if (host.alarms().noSpace) throw etcdError('noSpace');
        return applyPut(txn, req.put!, this.hooks);
      });
    }
    if (req.deleteRange)
      return this.inTxn(index, (txn) => applyDeleteRange(txn, req.deleteRange!, this.hooks));
    if (req.txn) {
      const t = req.txn;
      let opened = false;
      try {
        if (host.alarms().noSpace && txnPuts(t)) throw etcdError('noSpace');
        return applyTxn(host.store(), t, this.hooks, () => {
          opened = true;
          return this.beginWrite(index);
        });
      } finally {
        // A txn that failed its checks wrote nothing, but the entry is still applied.
        if (!opened) this.beginWrite(index).end();
      }
    }
    if (req.compaction) {
      let done: Promise<void>;
      try {
        done = host.store().compact(Number(req.compaction.revision)).done;
      } finally {
        // Applied even when refused (compacted or future revision): the index still advances.
        this.beginWrite(index).end();
      }
      return { response: compactionResponse(host.store().rev), done: host.onCompaction(done) };
    }
    if (req.alarm) {
      const a = req.alarm;
      if (a.action === AlarmRequest_AlarmAction.GET) {
        this.beginWrite(index).end();
        return { header: undefined, alarms: host.alarms().list(a.alarm) };
      }
      return this.inTxn(index, () => {
        const m =
          a.action === AlarmRequest_AlarmAction.ACTIVATE
            ? host.alarms().activate({ memberID: a.memberID, alarm: a.alarm })
            : host.alarms().deactivate({ memberID: a.memberID, alarm: a.alarm });
        if (m && a.action === AlarmRequest_AlarmAction.ACTIVATE) {
          host.logger.warn({ alarm: alarmText(m) }, 'alarm raised');
        }
        return { header: undefined, alarms: m ? [m] : [] };
      });
    }
    if (req.clusterMemberAttrSet) {
      const a = req.clusterMemberAttrSet;
      return this.inTxn(index, () => {
        host
          .membership()
          .setAttributes(a.memberID, a.memberAttributes?.name ?? '', a.memberAttributes?.clientUrls ?? []);
        return {};
      });
    }
    if (req.leaseGrant) {
      const g = req.leaseGrant;
      // Inside the entry's write txn, so the lease record lands with this entry's applied index.
      return this.inTxn(index, () => {
        if (host.alarms().noSpace) throw etcdError('noSpace');
        const ttl = host.lessor().grant(g.ID, Number(g.TTL));
        return { header: header(host.store().rev), ID: g.ID, TTL: BigInt(ttl), error: '' };
      });
    }
    if (req.leaseRevoke) {
      const id = req.leaseRevoke.ID;
      this.inTxn(index, (txn) => {
        // All of the lease's keys go in one revision, as etcd deletes them in one txn.
        for (const k of host.lessor().revoke(id)) txn.deleteRange(Buffer.from(k, 'latin1'), undefined);
      });
      return { header: header(host.store().rev) };
    }
    if (req.leaseCheckpoint) {
      const c = req.leaseCheckpoint;
      this.inTxn(index, () => host.leasePrimary.apply(c));
      return { header: header(host.store().rev) };
    }
    // An entry this version cannot apply still advances the index, so every member stays aligned.
    this.beginWrite(index).end();
    throw etcdError('notCapable');
  }

  /** Applies a membership change to the member table in the entry's write txn. */
  applyConfChange(cc: ConfChange, index: number): void {
    this.inTxn(index, () => applyConfChangeToMembership(this.host.membership(), cc));
  }

  /** Runs `fn` inside the entry's write txn, which ends whatever `fn` does. */
  private inTxn<T>(index: number, fn: (txn: WriteTxn) => T): T {
    const txn = this.beginWrite(index);
    try {
      return fn(txn);
    } finally {
      txn.end();
    }
  }
}

/** Whether a txn (or one nested in it) puts anything: only those are refused under NOSPACE. */
export function txnPuts(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestPut) return true;
    if (op.requestTxn && txnPuts(op.requestTxn)) return true;
  }
  return false;
}

/** What etcd 3.4's applierV3Corrupt refuses: every KV write, compaction, lease grant and revoke. */
export function refusedWhenCorrupt(req: InternalRaftRequest): boolean {
  return (
    req.range !== undefined ||
    req.put !== undefined ||
    req.deleteRange !== undefined ||
    req.txn !== undefined ||
    req.compaction !== undefined ||
    req.leaseGrant !== undefined ||
    req.leaseRevoke !== undefined
  );
}
