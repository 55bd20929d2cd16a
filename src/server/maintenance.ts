/**
 * The Maintenance service's member side: Status, the space quota, Defragment and MoveLeader.
 */
import { rmSync } from 'node:fs';
import type { AlarmRequest, AlarmResponse } from '../proto/etcdserverpb/rpc.js';
import {
  AlarmRequest_AlarmAction,
  AlarmType,
  type PutRequest,
  type TxnRequest,
} from '../proto/etcdserverpb/rpc.js';
import { etcdError } from '../wire/errors.js';
import { alarmText } from './alarms.js';
import type { BackendSlot } from './backend-slot.js';
import type { ResolvedConfig } from './config.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { Signal } from './signal.js';

/** What etcd counts per key-value on top of key and value bytes when checking the quota. */
export const KV_OVERHEAD_BYTES = 256;

/** etcd 3.4's quota cost of a request: key + value + overhead for each put (deletes are free). */
export function quotaCost(r: { put?: PutRequest; txn?: TxnRequest; leaseGrant?: unknown }): number {
  if (r.put) return r.put.key.length + r.put.value.length + KV_OVERHEAD_BYTES;
  if (r.leaseGrant) return KV_OVERHEAD_BYTES;
  if (r.txn) {
    let cost = 0;
    const walk = (t: TxnRequest): void => {
      for (const op of [...t.success, ...t.failure]) {
        if (op.requestPut) cost += op.requestPut.key.length + op.requestPut.value.length + KV_OVERHEAD_BYTES;
        if (op.requestTxn) walk(op.requestTxn);
      }
    };
    walk(r.txn);
    return cost;
  }
  return 0;
}

/** Maintenance.Status as the member reports it. */
export interface MemberStatus {
  dbSize: number;
  dbSizeInUse: number;
  raftIndex: number;
  raftAppliedIndex: number;
  errors: string[];
  /** --quota-backend-bytes as configured (0 = default), as etcd 3.6 reports it. */
  dbSizeQuota: number;
}

export interface MaintenanceHost {
  cfg: ResolvedConfig;
  logger: Logger;
  /** Defragmentation's duration and in-flight gauge. */
  metrics: Pick<ServerMetrics, 'defragSeconds' | 'defragInflight'>;
  memberId: bigint;
  backend: BackendSlot;
  stopped(): boolean;
  fatal(): unknown;
  leader(): bigint;
  commitIndex(): number;
  appliedIndex(): number;
  alarm(r: AlarmRequest): Promise<AlarmResponse>;
  /** Runs `fn` while no entry is applied (the driver's exclusive section). */
  exclusive(fn: () => Promise<void>): Promise<void>;
  transferLeadership(to: bigint): void;
  /** Notified at every leader change. */
  leaderChanged: Signal;
}

export class Maintenance {
  constructor(private readonly host: MaintenanceHost) {}

  status(): MemberStatus {
    const { host } = this;
    const store = host.backend.store;
    const fatal = host.fatal();
    return {
      dbSizeQuota: host.cfg.quotaBackendBytes,
      dbSize: store.dbSize(),
      dbSizeInUse: store.dbSizeInUse(),
      raftIndex: host.commitIndex(),
      raftAppliedIndex: host.appliedIndex(),
      errors: [...(fatal ? [String(fatal)] : []), ...host.backend.alarms.list().map(alarmText)],
    };
  }

  /**
   * etcd's space quota: a write that would grow the database past --quota-backend-bytes raises the
   * NOSPACE alarm (for this member) and is refused.
   */
  checkQuota(costBytes: number): void {
    if (costBytes <= 0) return;
    const { host } = this;
    if (host.backend.store.dbSize() + costBytes < host.cfg.quotaBytes) return;
    if (!host.backend.alarms.noSpace) {
      host
        .alarm({
          action: AlarmRequest_AlarmAction.ACTIVATE,
          memberID: host.memberId,
          alarm: AlarmType.NOSPACE,
        })
        .catch(() => {});
    }
    throw etcdError('noSpace');
  }

  /**
   * Maintenance.Defragment: a compacting copy of the database replaces it. Unlike etcd 3.4, which
   * blocks every request for the whole copy, the copy is made while entries go on being applied
   * (MvccStore.copyLive records what they write); only the catch-up (replaying those writes into
   * the copy) and the swap run while no entry is applied. Reads that arrive during the swap wait
   * for the new store. If too much was written during the copy, it is made again with applying
   * stopped (etcd's way). One defragment at a time.
   */
  async defragment(): Promise<void> {
    const { host } = this;
    if (host.stopped()) throw etcdError('stopped');
    const run = this.defragChain.then(async () => {
      const started = performance.now();
      host.metrics.defragInflight.set(1);
      try {
        await this.defragmentOnce();
      } finally {
        host.metrics.defragInflight.set(0);
        host.metrics.defragSeconds.observe((performance.now() - started) / 1000);
      }
    });
    this.defragChain = run.catch(() => {});
    return run;
  }

  private defragChain: Promise<void> = Promise.resolve();

  private async defragmentOnce(): Promise<void> {
    const { host } = this;
    const dir = host.cfg.layout.defragDir;
    rmSync(dir, { recursive: true, force: true });
    const store = await host.backend.ready();
    const before = store.dbSize();
    const started = performance.now();
    const copy = await store.copyLive(dir);
    const copiedMs = performance.now() - started;
    let live = true;
    let exclusiveMs = 0;
    try {
      await copy.catchUp();
      const stopped = performance.now();
      await host.exclusive(async () => {
        let file = host.backend.store === store ? await copy.finish() : undefined;
        if (file === undefined) {
          copy.abort();
          live = false;
          rmSync(dir, { recursive: true, force: true });
          file = await host.backend.store.backupTo(dir, true);
        }
        await host.backend.replace(file);
      });
      exclusiveMs = performance.now() - stopped;
    } finally {
      copy.abort();
      rmSync(dir, { recursive: true, force: true });
    }
    host.logger.info(
      {
        'before-bytes': before,
        'after-bytes': host.backend.store.dbSize(),
        'copy-ms': Math.round(copiedMs),
        'writes-stopped-ms': Math.round(exclusiveMs),
        'took-ms': Math.round(performance.now() - started),
        'writes-went-on': live,
      },
      'defragmented the database',
    );
  }

  /**
   * Maintenance.MoveLeader: only the leader may hand over, only to a voting member; resolves once the
   * target leads, or fails after the request timeout (etcd's "leader transfer took too long").
   */
  async moveLeader(target: bigint): Promise<void> {
    const { host } = this;
    if (host.stopped()) throw etcdError('stopped');
    if (host.leader() !== host.memberId) throw etcdError('notLeader');
    const m = host.backend.membership.get(target);
    if (!m || m.isLearner) throw etcdError('badLeaderTransferee');
    if (target === host.memberId) return;
    host.transferLeadership(target);
    await host.leaderChanged.until(
      () => host.leader() === target || host.stopped(),
      host.cfg.requestTimeoutMs,
      () => etcdError('leaderTransferTimeout'),
    );
    if (host.leader() !== target) throw etcdError('leaderTransferTimeout');
  }
}
