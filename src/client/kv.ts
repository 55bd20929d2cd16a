/**
 * KV: get, put, delete with every option of etcd's requests, compaction, and a transaction builder.
 * Keys and values are strings (UTF-8) or Buffers; revisions, versions, leases and counts are bigint.
 *
 * ```ts
 * const r = await client.kv.get('config/', { prefix: true, sortOrder: 'ascend' });
 * const t = await client.kv.txn()
 *   .if(cmp.modRevision('lock', '=', 0n))
 *   .onSuccess(op.put('lock', 'me'))
 *   .onFailure(op.get('lock'))
 *   .commit();
 * ```
 */
import {
  CompactionRequest,
  type CompactionResponse,
  type Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  type DeleteRangeResponse,
  KVService,
  PutRequest,
  type PutResponse,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type RangeResponse,
  type RequestOp,
  TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { CallOpts, Connection } from './connection.js';

/** A key, value or range bound: strings are UTF-8. */
export type Bytes = string | Buffer;

export function toBuf(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b) : b;
}

/** The range end that makes [key, end) cover every key with `key` as prefix (etcd's GetPrefixRangeEnd). */
export function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // every byte 0xff (or empty): everything from key on
  return Buffer.from([0]);
}

/** Which keys: one key, [key, rangeEnd), a prefix, or every key >= key. At most one of them. */
export interface RangeOptions {
  rangeEnd?: Bytes;
  prefix?: boolean;
  fromKey?: boolean;
}

function rangeEndOf(key: Buffer, o: RangeOptions): Buffer {
  const n = Number(o.rangeEnd !== undefined) + Number(!!o.prefix) + Number(!!o.fromKey);
  if (n > 1) throw new TypeError('tsetcd client: give at most one of rangeEnd, prefix, fromKey');
  if (o.rangeEnd !== undefined) return toBuf(o.rangeEnd);
  if (o.prefix) return key.length === 0 ? Buffer.from([0]) : prefixEnd(key);
  if (o.fromKey) return Buffer.from([0]);
  return Buffer.alloc(0);
}

/** Options of a get (etcd's RangeRequest). */
export interface GetOptions extends RangeOptions, CallOpts {
  /** At most this many keys; 0 = no limit. */
  limit?: number | bigint;
  /** Read at this revision; 0 = newest. */
  revision?: bigint;
  sortOrder?: 'none' | 'ascend' | 'descend';
  sortTarget?: 'key' | 'version' | 'create' | 'mod' | 'value';
  /** Read the answering member's state without a linearizability round (a learner may answer). */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: bigint;
  maxModRevision?: bigint;
  minCreateRevision?: bigint;
  maxCreateRevision?: bigint;
}

/** Options of a put. */
export interface PutOptions extends CallOpts {
  /** Attach to this lease (0n or absent: none). */
  lease?: bigint;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

/** Options of a delete. */
export interface DeleteOptions extends RangeOptions, CallOpts {
  prevKv?: boolean;
}

const sortOrders = {
  none: RangeRequest_SortOrder.NONE,
  ascend: RangeRequest_SortOrder.ASCEND,
  descend: RangeRequest_SortOrder.DESCEND,
} as const;
const sortTargets = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  create: RangeRequest_SortTarget.CREATE,
  mod: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
} as const;

/** The RangeRequest of a get. */
export function rangeRequest(key: Bytes, o: GetOptions = {}): RangeRequest {
  const k = toBuf(key);
  return RangeRequest.fromPartial({
    key: k,
    rangeEnd: rangeEndOf(k, o),
    limit: BigInt(o.limit ?? 0),
    revision: o.revision ?? 0n,
    sortOrder: sortOrders[o.sortOrder ?? 'none'],
    sortTarget: sortTargets[o.sortTarget ?? 'key'],
    serializable: o.serializable ?? false,
    keysOnly: o.keysOnly ?? false,
    countOnly: o.countOnly ?? false,
    minModRevision: o.minModRevision ?? 0n,
    maxModRevision: o.maxModRevision ?? 0n,
    minCreateRevision: o.minCreateRevision ?? 0n,
    maxCreateRevision: o.maxCreateRevision ?? 0n,
  });
}

export function putRequest(key: Bytes, value: Bytes, o: PutOptions = {}): PutRequest {
  return PutRequest.fromPartial({
    key: toBuf(key),
    value: toBuf(value),
    lease: o.lease ?? 0n,
    prevKv: o.prevKv ?? false,
    ignoreValue: o.ignoreValue ?? false,
    ignoreLease: o.ignoreLease ?? false,
  });
}

export function deleteRequest(key: Bytes, o: DeleteOptions = {}): DeleteRangeRequest {
  const k = toBuf(key);
  return DeleteRangeRequest.fromPartial({ key: k, rangeEnd: rangeEndOf(k, o), prevKv: o.prevKv ?? false });
}

/** Operations for a transaction's then/else branches. */
export const op = {
  get: (key: Bytes, o: GetOptions = {}): RequestOp => ({ requestRange: rangeRequest(key, o) }),
  put: (key: Bytes, value: Bytes, o: PutOptions = {}): RequestOp => ({
    requestPut: putRequest(key, value, o),
  }),
  delete: (key: Bytes, o: DeleteOptions = {}): RequestOp => ({ requestDeleteRange: deleteRequest(key, o) }),
  txn: (t: Txn): RequestOp => ({ requestTxn: t.request() }),
};

/** A comparison operator. */
export type CmpOp = '=' | '!=' | '>' | '<';
const results: Record<CmpOp, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

function compare(
  target: Compare_CompareTarget,
  key: Bytes,
  o: CmpOp,
  v: Partial<Compare>,
  range?: RangeOptions,
): Compare {
  const k = toBuf(key);
  return {
    result: results[o],
    target,
    key: k,
    rangeEnd: range ? rangeEndOf(k, range) : Buffer.alloc(0),
    ...v,
  };
}

/** Compares for a transaction's `if` (etcd's Compare targets). `range` compares every key in it. */
export const cmp = {
  version: (key: Bytes, o: CmpOp, v: bigint, range?: RangeOptions) =>
    compare(Compare_CompareTarget.VERSION, key, o, { version: v }, range),
  createRevision: (key: Bytes, o: CmpOp, v: bigint, range?: RangeOptions) =>
    compare(Compare_CompareTarget.CREATE, key, o, { createRevision: v }, range),
  modRevision: (key: Bytes, o: CmpOp, v: bigint, range?: RangeOptions) =>
    compare(Compare_CompareTarget.MOD, key, o, { modRevision: v }, range),
  value: (key: Bytes, o: CmpOp, v: Bytes, range?: RangeOptions) =>
    compare(Compare_CompareTarget.VALUE, key, o, { value: toBuf(v) }, range),
  lease: (key: Bytes, o: CmpOp, v: bigint, range?: RangeOptions) =>
    compare(Compare_CompareTarget.LEASE, key, o, { lease: v }, range),
};

/** A transaction under construction: `if(...)`, `onSuccess(...)`, `onFailure(...)`, then `commit()`. */
export class Txn {
  private readonly compares: Compare[] = [];
  private readonly success: RequestOp[] = [];
  private readonly failure: RequestOp[] = [];

  constructor(private readonly kv?: KV) {}

  if(...c: Compare[]): this {
    this.compares.push(...c);
    return this;
  }
  /** Ops run when every compare holds (named after the proto field; `then` would make a thenable). */
  onSuccess(...ops: RequestOp[]): this {
    this.success.push(...ops);
    return this;
  }
  /** Ops run when any compare fails. */
  onFailure(...ops: RequestOp[]): this {
    this.failure.push(...ops);
    return this;
  }

  request(): TxnRequest {
    return TxnRequest.fromPartial({ compare: this.compares, success: this.success, failure: this.failure });
  }

  /** Sends it. A transaction with any write is a mutation (sent at most once unless retries asked). */
  commit(o: CallOpts = {}): Promise<TxnResponse> {
    if (!this.kv) throw new Error('tsetcd client: a nested Txn is committed by its parent');
    return this.kv.txnRequest(this.request(), o);
  }
}

function hasWrite(ops: RequestOp[]): boolean {
  return ops.some(
    (o) =>
      o.requestPut !== undefined ||
      o.requestDeleteRange !== undefined ||
      (o.requestTxn !== undefined && (hasWrite(o.requestTxn.success) || hasWrite(o.requestTxn.failure))),
  );
}

/** The KV service. */
export class KV {
  constructor(private readonly conn: Connection) {}

  /** Range: one key, a range, or a prefix. A serializable get may be answered by a learner. */
  get(key: Bytes, o: GetOptions = {}): Promise<RangeResponse> {
    const req = rangeRequest(key, o);
    return this.conn.unary(
      KVService.range,
      req,
      { mutation: false, view: o.serializable ? 'all' : 'voters' },
      o,
    );
  }

  put(key: Bytes, value: Bytes, o: PutOptions = {}): Promise<PutResponse> {
    return this.conn.unary(KVService.put, putRequest(key, value, o), { mutation: true }, o);
  }

  delete(key: Bytes, o: DeleteOptions = {}): Promise<DeleteRangeResponse> {
    return this.conn.unary(KVService.deleteRange, deleteRequest(key, o), { mutation: true }, o);
  }

  /** A new transaction builder bound to this client. */
  txn(): Txn {
    return new Txn(this);
  }

  /** Sends a ready TxnRequest (a read-only one is retried like a get). */
  txnRequest(req: TxnRequest, o: CallOpts = {}): Promise<TxnResponse> {
    const mutation = hasWrite(req.success) || hasWrite(req.failure);
    return this.conn.unary(KVService.txn, req, { mutation }, o);
  }

  /** Compacts the history up to `revision`; `physical` waits until it is applied to the store. */
  compact(revision: bigint, o: CallOpts & { physical?: boolean } = {}): Promise<CompactionResponse> {
    const req = CompactionRequest.fromPartial({ revision, physical: o.physical ?? false });
    return this.conn.unary(KVService.compact, req, { mutation: true }, o);
  }
}
