import {
  type LockRequest,
  type LockResponse,
  LockService,
  type UnlockRequest,
} from '../proto/v3lockpb/v3lock.js';
import type { Member } from '../server/index.js';
import { concurrencyOf } from '../server/index.js';
import { checkAcquire, checkHeldKey } from './concurrency-auth.js';
import type { CallContext, GrpcServer } from './grpc-server.js';
import { fillHeader } from './header.js';

/** Registers v3lockpb.Lock on `server`, backed by `member`'s shared `Concurrency`. */
export function registerLockService(server: GrpcServer, member: Member): void {
  const c = concurrencyOf(member);
  server.addService(LockService, {
    lock: async (r: LockRequest, ctx: CallContext): Promise<LockResponse> => {
      await checkAcquire(member, ctx, r.name, r.lease); // auth (issue 13)
      const resp = await c.lock(r.name, r.lease, ctx.signal);
      return { header: fillHeader(member, resp.header), key: resp.key };
    },
    unlock: async (r: UnlockRequest, ctx: CallContext) => {
      await checkHeldKey(member, ctx, r.key, false); // auth (issue 13)
      const resp = await c.unlock(r.key);
      return { header: fillHeader(member, resp.header) };
    },
  });
}
