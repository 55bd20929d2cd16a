/**
 * The applier: turns one request (from a committed log entry, or a read) into a change of the MVCC
 * store and a response, with etcd 3.4's semantics (its apply.go). Pure with respect to I/O: it calls
 * the store and nothing else, so the same code serves the single-member path and the Raft apply loop.
 *
 * Response headers carry only `revision` here; the API edge fills cluster id, member id and term.
 */

import {
  type CompactionResponse,
  type Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../proto/mvccpb/kv.js';
import { etcdError } from '../wire/errors.js';

/** The part of the MVCC store the applier reads through (a store or an open write txn). */
export interface ReadView {
  range(
    key: Buffer,
    end: Buffer | undefined,
    opts?: { limit?: number; rev?: number; countOnly?: boolean },
  ): { kvs: KeyValue[]; count: number; rev: number };
}

/** An open write transaction of the MVCC store. */
export interface WriteView extends ReadView {
  put(key: Buffer, value: Buffer, lease: bigint): void;
  deleteRange(key: Buffer, end: Buffer | undefined): { deleted: number; prevKvs: KeyValue[] };
  readonly rev: number;
}

/** What the applier needs from the store as a whole. */
export interface ApplyStore extends ReadView {
  readonly rev: number;
  readonly compactRev: number;
}

/** What applying writes tells the lease layer, and asks it. */
export interface ApplyHooks {
  leaseExists(id: bigint): boolean;
  /** `key` was put carrying `lease` (0n = none). */
  onPut(key: Buffer, lease: bigint): void;
  /** `key` was deleted. */
  onDelete(key: Buffer): void;
}

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision: BigInt(revision), raftTerm: 0n };
}

/** etcd's range end convention: empty = single key, "\0" = every key >= key. */
export function toMvccEnd(rangeEnd: Buffer): Buffer | undefined {
  return rangeEnd.length === 0 ? undefined : rangeEnd;
}

function sortValue(kv: KeyValue, target: RangeRequest_SortTarget): bigint | Buffer {
  switch (target) {
    case RangeRequest_SortTarget.VERSION:
      return kv.version;
    case RangeRequest_SortTarget.CREATE:
      return kv.createRevision;
    case RangeRequest_SortTarget.MOD:
      return kv.modRevision;
    case RangeRequest_SortTarget.VALUE:
      return kv.value;
    default:
      return kv.key;
  }
}

function compareSortValues(a: bigint | Buffer, b: bigint | Buffer): number {
  if (typeof a === 'bigint') return a < (b as bigint) ? -1 : a > (b as bigint) ? 1 : 0;
  return Buffer.compare(a, b as Buffer);
}

/** Range as etcd applies it: fetch (limit+1 unless sorting/filtering), filter, sort, truncate. */
export function applyRange(view: ReadView, r: RangeRequest): RangeResponse {
  const needsAll =
    r.sortOrder !== RangeRequest_SortOrder.NONE ||
    r.minModRevision !== 0n ||
    r.maxModRevision !== 0n ||
    r.minCreateRevision !== 0n ||
    r.maxCreateRevision !== 0n;
  const reqLimit = Number(r.limit);
  let limit = needsAll ? 0 : reqLimit;
  if (limit > 0) limit += 1; // one more than asked tells whether there is "more"
  const rr = view.range(r.key, toMvccEnd(r.rangeEnd), {
    limit,
    rev: Number(r.revision),
    countOnly: r.countOnly,
  });
  let kvs = rr.kvs;
  if (r.maxModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision <= r.maxModRevision);
  if (r.minModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision >= r.minModRevision);
  if (r.maxCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision <= r.maxCreateRevision);
  if (r.minCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision >= r.minCreateRevision);

  let order = r.sortOrder;
  // The store returns keys ascending; sorting by another target defaults to ascending.
  if (r.sortTarget !== RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.NONE) {
    order = RangeRequest_SortOrder.ASCEND;
  }
  if (order === RangeRequest_SortOrder.ASCEND || order === RangeRequest_SortOrder.DESCEND) {
    const target = r.sortTarget;
    const sign = order === RangeRequest_SortOrder.ASCEND ? 1 : -1;
    if (kvs === rr.kvs) kvs = kvs.slice();
    kvs.sort((a, b) => sign * compareSortValues(sortValue(a, target), sortValue(b, target)));
  }
  let more = false;
  if (reqLimit > 0 && kvs.length > reqLimit) {
    kvs = kvs.slice(0, reqLimit);
    more = true;
  }
  if (r.keysOnly) {
    kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  }
  return { header: header(rr.rev), kvs, more, count: BigInt(rr.count) };
}

const EMPTY = Buffer.alloc(0);

/** Put as etcd applies it; the lease hooks learn which lease the key now carries. */
export function applyPut(txn: WriteView, p: PutRequest, hooks: ApplyHooks): PutResponse {
  // As etcd's Put outside a txn: the request's lease is looked up before the previous key is read
  // (inside a txn, checkPath has already run the txn's order: key first, then lease).
  if (p.lease !== 0n && !hooks.leaseExists(p.lease)) throw etcdError('leaseNotFound');
  let value = p.value;
  let lease = p.lease;
  let prev: KeyValue | undefined;
  if (p.ignoreValue || p.ignoreLease || p.prevKv) {
    prev = txn.range(p.key, undefined).kvs[0];
  }
  if ((p.ignoreValue || p.ignoreLease) && !prev) throw etcdError('keyNotFound');
  if (p.ignoreValue && prev) value = prev.value;
  if (p.ignoreLease && prev) lease = prev.lease;
  if (lease !== 0n && !hooks.leaseExists(lease)) throw etcdError('leaseNotFound');
  txn.put(p.key, value, lease);
  hooks.onPut(p.key, lease);
  return { header: header(txn.rev), prevKv: p.prevKv ? prev : undefined };
}

export function applyDeleteRange(
  txn: WriteView,
  d: DeleteRangeRequest,
  hooks: ApplyHooks,
): DeleteRangeResponse {
  const before = txn.rev;
  const { deleted, prevKvs } = txn.deleteRange(d.key, toMvccEnd(d.rangeEnd));
  for (const kv of prevKvs) hooks.onDelete(kv.key);
  return {
    header: header(deleted > 0 ? txn.rev : before),
    deleted: BigInt(deleted),
    prevKvs: d.prevKv ? prevKvs : [],
  };
}

function compareInt(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKv(c: Compare, kv: KeyValue | undefined): boolean {
  let result: number;
  switch (c.target) {
    case Compare_CompareTarget.VALUE:
      result = Buffer.compare(kv?.value ?? EMPTY, c.value ?? EMPTY);
      break;
    case Compare_CompareTarget.CREATE:
      result = compareInt(kv?.createRevision ?? 0n, c.createRevision ?? 0n);
      break;
    case Compare_CompareTarget.MOD:
      result = compareInt(kv?.modRevision ?? 0n, c.modRevision ?? 0n);
      break;
    case Compare_CompareTarget.VERSION:
      result = compareInt(kv?.version ?? 0n, c.version ?? 0n);
      break;
    case Compare_CompareTarget.LEASE:
      result = compareInt(kv?.lease ?? 0n, c.lease ?? 0n);
      break;
    default:
      return false;
  }
  switch (c.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

/** A compare holds when it holds for every key in its range; a missing key compares as zero values. */
export function applyCompare(view: ReadView, c: Compare): boolean {
  let rr: { kvs: KeyValue[] };
  try {
    rr = view.range(c.key, toMvccEnd(c.rangeEnd));
  } catch {
    return false;
  }
  if (rr.kvs.length === 0) {
    // A value compare against a missing key always fails: proto3 cannot tell "" from absent.
    if (c.target === Compare_CompareTarget.VALUE) return false;
    return compareKv(c, undefined);
  }
  for (const kv of rr.kvs) if (!compareKv(c, kv)) return false;
  return true;
}

/** Which branch each (nested) txn takes, decided on the state before any write, as etcd does. */
interface TxnPath {
  succeeded: boolean;
  children: (TxnPath | undefined)[];
}

function decidePath(view: ReadView, t: TxnRequest): TxnPath {
  const succeeded = t.compare.every((c) => applyCompare(view, c));
  const ops = succeeded ? t.success : t.failure;
  return {
    succeeded,
    children: ops.map((op) => (op.requestTxn ? decidePath(view, op.requestTxn) : undefined)),
  };
}

export function isTxnReadOnly(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestPut || op.requestDeleteRange) return false;
    if (op.requestTxn && !isTxnReadOnly(op.requestTxn)) return false;
  }
  return true;
}

/** Whether every range of a txn (nested ones too) is serializable: then it needs no ReadIndex. */
export function txnIsSerializable(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestRange && !op.requestRange.serializable) return false;
    if (op.requestTxn && !txnIsSerializable(op.requestTxn)) return false;
  }
  return true;
}

/**
 * Pre-checks of the taken path, before anything is written: a failing txn changes nothing. As
 * etcd's applier: when the txn writes, every put of the taken path (nested txns included, in order)
 * is checked first — the previous key for ignore_value/ignore_lease, then the lease — and only then
 * every range's revision (future, then compacted).
 */
function checkPath(view: ApplyStore, t: TxnRequest, path: TxnPath, hooks: ApplyHooks, write: boolean): void {
  if (write) {
    forEachTakenOp(t, path, (op) => {
      const p = op.requestPut;
      if (!p) return;
      if ((p.ignoreValue || p.ignoreLease) && view.range(p.key, undefined).kvs.length === 0) {
        throw etcdError('keyNotFound');
      }
      if (p.lease !== 0n && !hooks.leaseExists(p.lease)) throw etcdError('leaseNotFound');
    });
  }
  forEachTakenOp(t, path, (op) => {
    if (!op.requestRange || op.requestRange.revision === 0n) return;
    const rev = Number(op.requestRange.revision);
    if (rev > view.rev) throw etcdError('futureRev');
    if (rev < view.compactRev) throw etcdError('compacted');
  });
}

/** Calls `fn` for every non-txn op of the taken path, depth first, in request order. */
function forEachTakenOp(t: TxnRequest, path: TxnPath, fn: (op: RequestOp) => void): void {
  const ops = path.succeeded ? t.success : t.failure;
  ops.forEach((op, i) => {
    if (op.requestTxn) forEachTakenOp(op.requestTxn, path.children[i]!, fn);
    else fn(op);
  });
}

function applyTxnOps(
  txn: WriteView | ReadView,
  t: TxnRequest,
  path: TxnPath,
  hooks: ApplyHooks,
): TxnResponse {
  const ops = path.succeeded ? t.success : t.failure;
  const responses: ResponseOp[] = ops.map((op: RequestOp, i): ResponseOp => {
    if (op.requestRange) return { responseRange: applyRange(txn, op.requestRange) };
    if (op.requestPut) return { responsePut: applyPut(txn as WriteView, op.requestPut, hooks) };
    if (op.requestDeleteRange)
      return { responseDeleteRange: applyDeleteRange(txn as WriteView, op.requestDeleteRange, hooks) };
    if (op.requestTxn) {
      const nested = applyTxnOps(txn, op.requestTxn, path.children[i]!, hooks);
      nested.header = header(0);
      return { responseTxn: nested };
    }
    throw etcdError('keyNotFound');
  });
  return { header: undefined, succeeded: path.succeeded, responses };
}

/**
 * Txn as etcd applies it. `store` is the state before the txn; `openWrite` opens the write txn only
 * when the taken path writes. Returns the response with header.revision set.
 */
export function applyTxn(
  store: ApplyStore,
  t: TxnRequest,
  hooks: ApplyHooks,
  openWrite: () => WriteView & { end(): { rev: number } },
): TxnResponse {
  const path = decidePath(store, t);
  const write = !isTxnReadOnly(t);
  checkPath(store, t, path, hooks, write);
  if (!write) {
    const resp = applyTxnOps(store, t, path, hooks);
    resp.header = header(store.rev);
    return resp;
  }
  const txn = openWrite();
  let resp: TxnResponse;
  try {
    resp = applyTxnOps(txn, t, path, hooks);
  } catch (err) {
    txn.end();
    throw err;
  }
  const { rev } = txn.end();
  resp.header = header(rev);
  return resp;
}

export function compactionResponse(rev: number): CompactionResponse {
  return { header: header(rev) };
}
