/**
 * Locks and elections over the member's KV, leases and committed events, with etcd 3.4's semantics
 * (etcdserver/api/v3lock, v3election and the clientv3/concurrency Mutex and Election they run on).
 *
 * A lock or election `name` owns the prefix `name/`. A contender puts `name/<lease id in hex>`
 * attached to its lease (one txn, only if the key does not exist) and holds once every key under
 * the prefix with a lower create revision is gone; the holder is the live key with the lowest
 * create revision. Waiting is event driven (see prefix-groups.ts), never polled.
 */
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
} from '../../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../../proto/mvccpb/kv.js';
import type { LeaderKey } from '../../proto/v3electionpb/v3election.js';
import { ConcurrencyError, viaClient } from './errors.js';
import { type GroupSource, type HolderObserver, PrefixGroups, prefixEnd } from './prefix-groups.js';

/** TTL of the lease granted for a request with lease 0 (etcd's concurrency defaultSessionTTL). */
export const SESSION_TTL_SECONDS = 60;

/** Default bound on waiters plus observers per lock or election name. */
export const WAITERS_PER_NAME_MAX = 10_000;

/** What the concurrency services need of the member (which satisfies it structurally). */
export interface ConcurrencySource extends GroupSource {
  range(r: RangeRequest): Promise<RangeResponse>;
  txn(r: TxnRequest): Promise<TxnResponse>;
  deleteRange(r: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  leaseGrant(r: LeaseGrantRequest): Promise<LeaseGrantResponse>;
}

/** Options of `Concurrency`. */
export interface ConcurrencyOptions {
  /**
   * Most callers waiting in Lock or Campaign plus Observe streams on one name; one more fails with
   * RESOURCE_EXHAUSTED. Bounds the memory and wake-up work of a name. Default WAITERS_PER_NAME_MAX.
   */
  waitersPerNameMax: number;
}

/** An answer with its response header (revision filled; ids and term are the API edge's). */
export interface Headed {
  header: ResponseHeader | undefined;
}

/** Receives Observe's updates: the holder's KeyValue with a header at the change's revision. */
export interface ObserveSink {
  send(header: ResponseHeader, kv: KeyValue): void;
}

function emptyHeader(revision: bigint): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0n };
}

function withSlash(name: Buffer): Buffer {
  return Buffer.concat([name, Buffer.from('/')]);
}

/** A lock/election key: `<name>/<lease id in lower-case hex>` (Go's %x of the lease id). */
export function contenderKey(name: Buffer, lease: bigint): Buffer {
  return Buffer.concat([withSlash(name), Buffer.from(lease.toString(16))]);
}

/** Compare: the key's create revision equals `rev` (0: the key does not exist). */
function createRevIs(key: Buffer, rev: bigint) {
  return {
    result: Compare_CompareResult.EQUAL,
    target: Compare_CompareTarget.CREATE,
    key,
    createRevision: rev,
    rangeEnd: Buffer.alloc(0),
  };
}

/** The first-created key under `prefix` (etcd's WithFirstCreate). */
function firstCreate(prefix: Buffer): RangeRequest {
  return RangeRequest.fromPartial({
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    limit: 1n,
    sortOrder: RangeRequest_SortOrder.ASCEND,
    sortTarget: RangeRequest_SortTarget.CREATE,
  });
}

function get(key: Buffer): RangeRequest {
  return RangeRequest.fromPartial({ key });
}

/** Put `value` at `key` attached to `lease` (clientv3's Put with WithLease). */
function putOnLease(key: Buffer, value: Buffer, lease: bigint): RequestOp {
  return { requestPut: { key, value, lease, prevKv: false, ignoreValue: false, ignoreLease: false } };
}

/**
 * A contender's txn (clientv3/concurrency's Mutex and Election): if `key` does not exist, put it
 * on `lease`, else read it (response 0); then, in either branch, the ranges in `alsoRead`.
 */
function contend(key: Buffer, value: Buffer, lease: bigint, alsoRead: RangeRequest[]): TxnRequest {
  const also = alsoRead.map((r) => ({ requestRange: r }));
  return {
    compare: [createRevIs(key, 0n)],
    success: [putOnLease(key, value, lease), ...also],
    failure: [{ requestRange: get(key) }, ...also],
  };
}

/** The Lock and Election operations of one member. */
export class Concurrency {
  private readonly groups: PrefixGroups;
  /** The member's operations, with their errors as etcd's in-process client passes them on. */
  private readonly source: Pick<ConcurrencySource, 'range' | 'txn' | 'deleteRange' | 'leaseGrant'>;

  constructor(source: ConcurrencySource, opts: Partial<ConcurrencyOptions> = {}) {
    this.groups = new PrefixGroups(source, opts.waitersPerNameMax ?? WAITERS_PER_NAME_MAX);
    const rethrow = (err: unknown): never => {
      throw viaClient(err);
    };
    this.source = {
      range: (r) => source.range(r).catch(rethrow),
      txn: (r) => source.txn(r).catch(rethrow),
      deleteRange: (r) => source.deleteRange(r).catch(rethrow),
      leaseGrant: (r) => source.leaseGrant(r).catch(rethrow),
    };
  }

  /** Waiters plus observers on `name` (tests, stats). */
  users(name: Buffer): number {
    return this.groups.users(withSlash(name));
  }

  /** etcd's session: lease 0 means "grant one of SESSION_TTL_SECONDS" (it is never kept alive). */
  private async sessionLease(lease: bigint): Promise<bigint> {
    if (lease !== 0n) return lease;
    const r = await this.source.leaseGrant({ ID: 0n, TTL: BigInt(SESSION_TTL_SECONDS) });
    return r.ID;
  }

  /**
   * Lock: puts `name/<lease hex>` (empty value, attached to the lease) unless it exists, then waits
   * until every key under `name/` created before it is deleted. Answers the key and a header whose
   * revision is the store revision at acquisition (the fencing token). The same lease locking
   * again gets its existing key back. Fails with the txn's error (e.g. lease not found); with
   * CANCELLED when `signal` aborts (the key is then deleted, as etcd's Mutex unlocks); with
   * "mutex: session is expired" when the key itself vanished while waiting.
   */
  async lock(
    name: Buffer,
    lease: bigint,
    signal?: AbortSignal,
  ): Promise<{ header: ResponseHeader | undefined; key: Buffer }> {
    const id = await this.sessionLease(lease);
    const prefix = withSlash(name);
    const key = contenderKey(name, id);
    const resp = await this.source.txn(contend(key, Buffer.alloc(0), id, [firstCreate(prefix)]));
    const myRev = resp.succeeded
      ? (resp.header?.revision ?? 0n)
      : (resp.responses[0]?.responseRange?.kvs[0]?.createRevision ?? 0n);
    const owner = resp.responses[1]?.responseRange?.kvs[0];
    if (owner === undefined || owner.createRevision === myRev) return { header: resp.header, key };
    try {
      await this.groups.waitPredecessors(prefix, myRev, signal);
    } catch (err) {
      await this.source.deleteRange({ key, rangeEnd: Buffer.alloc(0), prevKv: false }).catch(() => {});
      throw err;
    }
    // The wait ends when the keys before ours are gone, also when ours went with its lease.
    const mine = await this.source.range(get(key));
    if (mine.kvs.length === 0) throw new ConcurrencyError(ConcurrencyError.sessionExpired);
    return { header: mine.header, key };
  }

  /** Unlock: deletes `key` (whatever it is, as etcd does). */
  async unlock(key: Buffer): Promise<Headed> {
    const r = await this.source.deleteRange({ key, rangeEnd: Buffer.alloc(0), prevKv: false });
    return { header: r.header };
  }

  /**
   * Campaign: like `lock` with `value` as the key's value; a lease already campaigning keeps its
   * key and, if the value differs, proclaims the new one. Answers the txn's header and the leader
   * key {name, key, rev (its create revision), lease}. When `signal` aborts while waiting, the
   * campaign resigns (deletes the key if still this one) and fails with CANCELLED.
   */
  async campaign(
    name: Buffer,
    lease: bigint,
    value: Buffer,
    signal?: AbortSignal,
  ): Promise<{ header: ResponseHeader | undefined; leader: LeaderKey }> {
    const id = await this.sessionLease(lease);
    const prefix = withSlash(name);
    const key = contenderKey(name, id);
    const resp = await this.source.txn(contend(key, value, id, []));
    let rev = resp.header?.revision ?? 0n;
    const leader: LeaderKey = { name, key, rev, lease: id };
    if (!resp.succeeded) {
      const kv = resp.responses[0]?.responseRange?.kvs[0];
      rev = kv?.createRevision ?? 0n;
      leader.rev = rev;
      if (kv !== undefined && !kv.value.equals(value)) {
        try {
          await this.proclaimAs(leader, value);
        } catch (err) {
          await this.resignAs(leader).catch(() => {});
          throw err;
        }
      }
    }
    try {
      await this.groups.waitPredecessors(prefix, rev, signal);
    } catch (err) {
      if (signal?.aborted) await this.resignAs(leader).catch(() => {});
      throw err;
    }
    return { header: resp.header, leader };
  }

  /**
   * Proclaim: sets the leader key's value if it still exists with create revision `leader.rev`
   * (keeping it on `leader.lease`; lease 0 grants a session lease as etcd does), else fails with
   * "election: not leader". A missing `leader` fails with etcd's missing-leader-key error.
   */
  async proclaim(leader: LeaderKey | undefined, value: Buffer): Promise<Headed> {
    if (leader === undefined) throw new ConcurrencyError(ConcurrencyError.missingLeaderKey);
    const lease = await this.sessionLease(leader.lease);
    return this.proclaimAs({ ...leader, lease }, value);
  }

  private async proclaimAs(leader: LeaderKey, value: Buffer): Promise<Headed> {
    const r = await this.source.txn({
      compare: [createRevIs(leader.key, leader.rev)],
      success: [putOnLease(leader.key, value, leader.lease)],
      failure: [],
    });
    if (!r.succeeded) throw new ConcurrencyError(ConcurrencyError.notLeader);
    return { header: r.header };
  }

  /**
   * Resign: deletes the leader key if it still has create revision `leader.rev`; succeeds either
   * way, as etcd does (lease 0 grants a session lease first, as etcd's session does).
   */
  async resign(leader: LeaderKey | undefined): Promise<Headed> {
    if (leader === undefined) throw new ConcurrencyError(ConcurrencyError.missingLeaderKey);
    await this.sessionLease(leader.lease);
    return this.resignAs(leader);
  }

  private async resignAs(leader: LeaderKey): Promise<Headed> {
    const r = await this.source.txn({
      compare: [createRevIs(leader.key, leader.rev)],
      success: [{ requestDeleteRange: { key: leader.key, rangeEnd: Buffer.alloc(0), prevKv: false } }],
      failure: [],
    });
    return { header: r.header };
  }

  /** Leader: the election's holder (first-created key), or "election: no leader". */
  async leader(name: Buffer): Promise<{ header: ResponseHeader | undefined; kv: KeyValue }> {
    const r = await this.source.range(firstCreate(withSlash(name)));
    const kv = r.kvs[0];
    if (kv === undefined) throw new ConcurrencyError(ConcurrencyError.noLeader);
    return { header: r.header, kv };
  }

  /**
   * Observe: sends the current holder of `name` (if any, with the store's revision) and then the
   * holder each time it changes — a new holder, or a new value of the holder's key — with the
   * change's revision. While there is no holder nothing is sent. Returns the function that stops
   * observing. Throws RESOURCE_EXHAUSTED at the per-name bound.
   */
  observe(name: Buffer, sink: ObserveSink): () => void {
    const o: HolderObserver = { holder: (kv, revision) => sink.send(emptyHeader(revision), kv) };
    const reg = this.groups.observe(withSlash(name), o);
    if (reg.holder !== undefined) sink.send(emptyHeader(reg.revision), reg.holder);
    return reg.close;
  }
}
