/**
 * The Lock service (v3lockpb.Lock): the gRPC adapter over the member's `Concurrency`
 * (src/server/concurrency). Fills the response headers' cluster id, member id and raft term.
 */
import type { ResponseHeader } from '../proto/etcdserverpb/rpc.js';
import {
  type LockRequest,
  type LockResponse,
  LockService,
  type UnlockRequest,
} from '../proto/v3lockpb/v3lock.js';
import { concurrencyOf } from '../server/concurrency/index.js';
import type { Member } from '../server/member.js';
import type { CallContext, GrpcServer } from './grpc-server.js';

/**
 * Fills `h`'s cluster id, member id and raft term from `member` (and the revision with the store's
 * when it is 0). Returns the header (a new one for undefined).
 */
export function fillConcurrencyHeader(member: Member, h: ResponseHeader | undefined): ResponseHeader {
  const out = h ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
  out.clusterId = member.clusterId;
  out.memberId = member.memberId;
  out.raftTerm = BigInt(member.term);
  if (out.revision === 0n) out.revision = BigInt(member.store.rev);
  return out;
}

/** Registers v3lockpb.Lock on `server`, backed by `member`'s shared `Concurrency`. */
export function registerLockService(server: GrpcServer, member: Member): void {
  const c = concurrencyOf(member);
  server.addService(LockService, {
    lock: async (r: LockRequest, ctx: CallContext): Promise<LockResponse> => {
      const resp = await c.lock(r.name, r.lease, ctx.signal);
      return { header: fillConcurrencyHeader(member, resp.header), key: resp.key };
    },
    unlock: async (r: UnlockRequest) => {
      const resp = await c.unlock(r.key);
      return { header: fillConcurrencyHeader(member, resp.header) };
    },
  });
}
