/**
 * Request checks etcd makes at the API edge, before a request is proposed (its v3rpc key.go): empty
 * keys, ignore_value/ignore_lease misuse, txn size, and put/delete overlaps within one txn branch.
 */
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../proto/etcdserverpb/rpc.js';
import { etcdError } from '../wire/errors.js';

export function checkRange(r: RangeRequest): void {
  if (r.key.length === 0) throw etcdError('emptyKey');
  // NONE..DESCEND and KEY..VALUE. etcd 3.4 has no sorter for other targets and panics (found by the
  // gRPC fuzzer); etcd 3.5 refuses both, and so do we.
  if (!(r.sortOrder >= 0 && r.sortOrder <= 2 && r.sortTarget >= 0 && r.sortTarget <= 4)) {
    throw etcdError('invalidSortOption');
  }
}

export function checkPut(r: PutRequest): void {
  if (r.key.length === 0) throw etcdError('emptyKey');
  if (r.ignoreValue && r.value.length !== 0) throw etcdError('valueProvided');
  if (r.ignoreLease && r.lease !== 0n) throw etcdError('leaseProvided');
}

export function checkDelete(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw etcdError('emptyKey');
}

function checkOp(op: RequestOp, maxTxnOps: number): void {
  if (op.requestRange) checkRange(op.requestRange);
  else if (op.requestPut) checkPut(op.requestPut);
  else if (op.requestDeleteRange) checkDelete(op.requestDeleteRange);
  else if (op.requestTxn) checkTxn(op.requestTxn, maxTxnOps);
  // An op with no request in it names no key.
  else throw etcdError('keyNotFound');
}

/** Size and per-op checks; `maxTxnOps` bounds compares, success ops and failure ops separately. */
export function checkTxn(t: TxnRequest, maxTxnOps: number): void {
  const ops = Math.max(t.compare.length, t.success.length, t.failure.length);
  if (ops > maxTxnOps) throw etcdError('tooManyOps');
  for (const c of t.compare) if (c.key.length === 0) throw etcdError('emptyKey');
  for (const op of t.success) checkOp(op, maxTxnOps);
  for (const op of t.failure) checkOp(op, maxTxnOps);
}

/** A deleted interval [start, end); end undefined = a single key, empty buffer = to the end of keys. */
interface Interval {
  start: Buffer;
  end: Buffer | undefined;
}

function intervalHas(iv: Interval, key: Buffer): boolean {
  if (iv.end === undefined) return key.equals(iv.start);
  if (Buffer.compare(key, iv.start) < 0) return false;
  return iv.end.length === 0 || Buffer.compare(key, iv.end) < 0;
}

function deletedIn(dels: Interval[], key: Buffer): boolean {
  for (const iv of dels) if (intervalHas(iv, key)) return true;
  return false;
}

/**
 * Within one branch, a key may be put at most once and not both put and deleted; the branches of a
 * nested txn exclude each other, so the same key in its then and else is fine. Returns the keys put
 * and intervals deleted by `ops`, for the enclosing level.
 */
export function checkIntervals(ops: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    const d = op.requestDeleteRange;
    if (!d) continue;
    if (d.rangeEnd.length === 0) dels.push({ start: d.key, end: undefined });
    else
      dels.push({
        start: d.key,
        end: d.rangeEnd.length === 1 && d.rangeEnd[0] === 0 ? Buffer.alloc(0) : d.rangeEnd,
      });
  }
  const puts = new Set<string>();
  for (const op of ops) {
    const t = op.requestTxn;
    if (!t) continue;
    const then = checkIntervals(t.success);
    const otherwise = checkIntervals(t.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deletedIn(dels, Buffer.from(k, 'latin1'))) throw etcdError('duplicateKey');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw etcdError('duplicateKey');
      if (deletedIn(dels, Buffer.from(k, 'latin1'))) throw etcdError('duplicateKey');
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    const p = op.requestPut;
    if (!p) continue;
    const k = p.key.toString('latin1');
    if (puts.has(k) || deletedIn(dels, p.key)) throw etcdError('duplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}
