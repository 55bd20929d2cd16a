/**
 * The workload: concurrent clients, each pinned to one member, issuing single-key operations (put,
 * linearizable and serializable get, delete, compare-and-swap as a Txn on the value) on a small set
 * of keys with a unique value per write; watchers over the whole prefix that resume on another
 * member after a failure; and a lease client granting leases, attaching one key each, keeping some
 * alive for a while and letting them lapse. Everything is recorded into the history as it happens.
 */
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import * as rpc from '../../src/proto/etcdserverpb/rpc.js';
import { connect, type EtcdClients } from '../helpers/index.js';
import type { ClusterMember } from './cluster.js';
import type { KeyState, KvOp, KvOpType, LeaseKey, LeaseOp, Outcome, WatcherRecord } from './history.js';
import type { Rng } from './rng.js';

export const PREFIX = '/jepsen/';
export const KV_PREFIX = `${PREFIX}k/`;
export const LEASE_PREFIX = `${PREFIX}lease/`;
/** The end of the prefix range: the prefix with its last byte incremented. */
export const prefixEnd = (p: string) =>
  Buffer.concat([Buffer.from(p.slice(0, -1)), Buffer.from([p.charCodeAt(p.length - 1) + 1])]);

/** The runner's monotonic clock, ms. */
export const now = () => performance.now();

/** Deadline of one client operation; past it the outcome is unknown (for writes). */
export const OP_DEADLINE_MS = 5_000;

export interface WorkloadOptions {
  clients: number;
  keys: number;
  rng: Rng;
  /** The members, looked up at each (re)connect so a restarted member is reached again. */
  members: ClusterMember[];
}

/** Whether a failed write was certainly not applied: refused before it could be proposed. */
export function writeOutcomeOfError(err: unknown): Outcome {
  const e = err as Partial<ServiceError>;
  // Never sent: the channel had no connection (member down). grpc-js says so explicitly.
  if (e.code === 14 && /No connection established|ECONNREFUSED/.test(e.details ?? '')) return 'fail';
  if (e.code === 3) return 'fail'; // INVALID_ARGUMENT: rejected while validating the request
  return 'unknown';
}

const toNum = (v: bigint | undefined) => Number(v ?? 0n);
const keyStateOf = (kv: {
  value: Buffer;
  modRevision: bigint;
  createRevision: bigint;
  version: bigint;
}): KeyState => ({
  value: kv.value.toString(),
  modRevision: toNum(kv.modRevision),
  createRevision: toNum(kv.createRevision),
  version: toNum(kv.version),
});

/** A connection to one member that is replaced after a transport failure (fast reconnect after kills). */
class Conn {
  private c: EtcdClients | undefined;
  constructor(readonly member: ClusterMember) {}
  get(): EtcdClients {
    this.c ??= connect(this.member.client);
    return this.c;
  }
  reset(): void {
    this.c?.close();
    this.c = undefined;
  }
}

const isTransportError = (err: unknown) => {
  const code = (err as Partial<ServiceError>).code;
  return code === 14 || code === 4 || code === 1;
};

/** Runs until `stop` resolves: the KV clients, appending to `ops`. */
export async function runKvClients(o: WorkloadOptions, ops: KvOp[], stopped: () => boolean): Promise<void> {
  let nextId = 0;
  const keys = Array.from({ length: o.keys }, (_, i) => `${KV_PREFIX}${i}`);
  const client = async (ci: number) => {
    const member = o.members[ci % o.members.length]!;
    const conn = new Conn(member);
    const lastValue = new Map<string, string>();
    let seq = 0;
    while (!stopped()) {
      const key = keys[o.rng.int(keys.length)]!;
      const roll = o.rng.next();
      const type: KvOpType = roll < 0.3 ? 'put' : roll < 0.65 ? 'get' : roll < 0.85 ? 'cas' : 'delete';
      const op: KvOp = {
        id: nextId++,
        client: ci,
        member: member.index,
        memberIncarnation: member.incarnation,
        type,
        key,
        invoke: 0,
        outcome: 'unknown',
      };
      if (type === 'put' || type === 'cas') op.value = `c${ci}-${seq++}`;
      if (type === 'cas')
        op.expect = lastValue.get(key) ?? `c${o.rng.int(o.clients)}-${o.rng.int(Math.max(1, seq))}`;
      if (type === 'get' && o.rng.next() < 0.25) op.serializable = true;
      const kv = conn.get().kv;
      const call = { deadlineMs: OP_DEADLINE_MS };
      ops.push(op);
      op.invoke = now();
      try {
        switch (type) {
          case 'put': {
            const r = await kv.put({ key: Buffer.from(key), value: Buffer.from(op.value!) }, call);
            op.revision = toNum(r.header?.revision);
            lastValue.set(key, op.value!);
            break;
          }
          case 'get': {
            const r = await kv.range({ key: Buffer.from(key), serializable: op.serializable ?? false }, call);
            op.revision = toNum(r.header?.revision);
            op.read = r.kvs[0] ? keyStateOf(r.kvs[0]) : null;
            if (op.read) lastValue.set(key, op.read.value);
            break;
          }
          case 'delete': {
            const r = await kv.deleteRange({ key: Buffer.from(key) }, call);
            op.revision = toNum(r.header?.revision);
            op.deleted = toNum(r.deleted);
            break;
          }
          case 'cas': {
            const r = await kv.txn(
              {
                compare: [
                  {
                    key: Buffer.from(key),
                    target: rpc.Compare_CompareTarget.VALUE,
                    result: rpc.Compare_CompareResult.EQUAL,
                    value: Buffer.from(op.expect!),
                  },
                ],
                success: [{ requestPut: { key: Buffer.from(key), value: Buffer.from(op.value!) } }],
              },
              call,
            );
            op.revision = toNum(r.header?.revision);
            op.succeeded = r.succeeded;
            if (r.succeeded) lastValue.set(key, op.value!);
            break;
          }
        }
        op.complete = now();
        op.outcome = 'ok';
      } catch (err) {
        const t = now();
        op.error = `${(err as ServiceError).code} ${(err as ServiceError).details ?? (err as Error).message}`;
        op.outcome = type === 'get' ? 'fail' : writeOutcomeOfError(err);
        if (op.outcome === 'fail') op.complete = t;
        if (isTransportError(err)) conn.reset();
        // Back off a little after a failure so a down member is not hammered.
        await pause(50 + o.rng.int(150));
      }
      await pause(o.rng.int(20));
    }
    conn.reset();
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
}

/** Pacing between operations (not a wait for a condition). */
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long a watch may go without any response before the watcher moves to another member. */
const WATCH_STALL_MS = 6_000;

/**
 * A watcher over the prefix. On a stream error, a cancel, or a stall it reconnects to the next
 * member and resumes from its last received revision + 1.
 */
export class Watcher {
  readonly record: WatcherRecord;
  private memberIdx: number;
  private conn: EtcdClients | undefined;
  private call: ClientDuplexStream<rpc.WatchRequest, rpc.WatchResponse> | undefined;
  private lastResponse = now();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    id: number,
    startMember: number,
    startRevision: number,
    private readonly members: ClusterMember[],
  ) {
    this.memberIdx = startMember;
    this.record = { id, startRevision, events: [], reconnects: 0 };
  }

  get lastRevision(): number {
    const e = this.record.events[this.record.events.length - 1];
    return e ? e.modRevision : this.record.startRevision - 1;
  }

  start(): void {
    this.open();
    this.timer = setInterval(() => {
      if (!this.stopped && now() - this.lastResponse > WATCH_STALL_MS) this.reconnect();
    }, 500);
  }

  private open(): void {
    const m = this.members[this.memberIdx % this.members.length]!;
    this.conn = connect(m.client);
    const def = rpc.WatchService.watch;
    const call = this.conn.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
    this.call = call;
    this.lastResponse = now();
    call.on('data', (r: rpc.WatchResponse) => {
      if (call !== this.call) return;
      this.lastResponse = now();
      if (r.canceled) {
        if (r.compactRevision > 0n) this.record.aborted = `compacted at ${r.compactRevision}`;
        this.reconnect();
        return;
      }
      const at = now();
      for (const e of r.events) {
        this.record.events.push({
          type: e.type === 1 ? 'delete' : 'put',
          key: e.kv?.key.toString() ?? '',
          value: e.kv?.value.toString() ?? '',
          modRevision: toNum(e.kv?.modRevision),
          at,
        });
      }
    });
    call.on('error', () => {
      if (call === this.call) this.reconnect();
    });
    call.on('end', () => {
      if (call === this.call) this.reconnect();
    });
    call.write(
      rpc.WatchRequest.fromPartial({
        createRequest: {
          key: Buffer.from(PREFIX),
          rangeEnd: prefixEnd(PREFIX),
          startRevision: BigInt(this.lastRevision + 1),
          progressNotify: true,
        },
      }),
    );
  }

  private close(): void {
    const c = this.call;
    this.call = undefined;
    c?.cancel();
    this.conn?.close();
  }

  reconnect(): void {
    if (this.stopped || this.record.aborted) return;
    this.close();
    this.record.reconnects++;
    this.memberIdx++;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.close();
  }
}

/** One keep-alive round trip on a fresh stream: the TTL answered (0 = lease gone). */
async function keepAliveOnce(c: EtcdClients, id: bigint, timeoutMs: number): Promise<number> {
  const def = rpc.LeaseService.leaseKeepAlive;
  const call = c.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('keepalive timeout')), timeoutMs);
      call.on('data', (r: rpc.LeaseKeepAliveResponse) => {
        clearTimeout(timer);
        resolve(Number(r.TTL));
      });
      call.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      call.write(rpc.LeaseKeepAliveRequest.fromPartial({ ID: id }));
    });
  } finally {
    call.cancel();
  }
}

export interface LeaseWorkloadOptions {
  rng: Rng;
  members: ClusterMember[];
  /** TTL requested for each lease, seconds. */
  ttlSeconds: number;
  /** Leases in flight at once. */
  concurrency: number;
}

/** Grants leases, attaches one key each, keeps some alive for a while, then lets them lapse. */
export async function runLeaseClients(
  o: LeaseWorkloadOptions,
  leaseOps: LeaseOp[],
  leaseKeys: LeaseKey[],
  stopped: () => boolean,
): Promise<void> {
  let n = 0;
  const worker = async (wi: number) => {
    const conn = new Conn(o.members[wi % o.members.length]!);
    while (!stopped()) {
      const c = conn.get();
      const grant: LeaseOp = { lease: '', type: 'grant', invoke: now(), outcome: 'unknown' };
      let id: bigint;
      try {
        const r = await c.lease.leaseGrant({ TTL: BigInt(o.ttlSeconds) }, { deadlineMs: OP_DEADLINE_MS });
        grant.complete = now();
        id = r.ID;
        grant.lease = id.toString(16);
        grant.ttl = Number(r.TTL);
        grant.outcome = 'ok';
        leaseOps.push(grant);
      } catch (err) {
        if (isTransportError(err)) conn.reset();
        await pause(200);
        continue;
      }
      const key = `${LEASE_PREFIX}${wi}-${n++}`;
      // Recorded before the put: a put with an unknown outcome may still have attached the key.
      const lk: LeaseKey = { lease: grant.lease, key };
      leaseKeys.push(lk);
      try {
        const r = await c.kv.put(
          { key: Buffer.from(key), value: Buffer.from(grant.lease), lease: id },
          { deadlineMs: OP_DEADLINE_MS },
        );
        lk.putRevision = Number(r.header?.revision ?? 0n);
      } catch (err) {
        if (isTransportError(err)) conn.reset();
        continue;
      }
      // Keep alive for a random span (possibly none), then let it lapse.
      const keepUntil = now() + (o.rng.next() < 0.5 ? 0 : 1000 + o.rng.int(o.ttlSeconds * 2000));
      while (!stopped() && now() < keepUntil) {
        await pause(500 + o.rng.int(500));
        const ka: LeaseOp = { lease: grant.lease, type: 'keepalive', invoke: now(), outcome: 'unknown' };
        try {
          const ttl = await keepAliveOnce(conn.get(), id, OP_DEADLINE_MS);
          ka.complete = now();
          ka.ttl = ttl;
          ka.outcome = ttl > 0 ? 'ok' : 'fail';
        } catch (err) {
          if (isTransportError(err)) conn.reset();
        }
        leaseOps.push(ka);
        if (ka.outcome === 'fail') break;
      }
      await pause(200 + o.rng.int(500));
    }
    conn.reset();
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => worker(i)));
}
