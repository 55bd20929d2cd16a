/**
 * The Election service (v3electionpb.Election): the gRPC adapter over the member's `Concurrency`
 * (src/server/concurrency). Fills the response headers' cluster id, member id and raft term.
 */

import type { ResponseHeader } from '../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../proto/mvccpb/kv.js';
import {
  type CampaignRequest,
  type CampaignResponse,
  ElectionService,
  type LeaderRequest,
  type LeaderResponse,
  type ProclaimRequest,
  type ResignRequest,
} from '../proto/v3electionpb/v3election.js';
import type { Member } from '../server/index.js';
import { concurrencyOf } from '../server/index.js';
import { checkAcquire, checkHeldKey, checkReadName } from './concurrency-auth.js';
import type { CallContext, GrpcServer, StreamCall } from './grpc-server.js';
import { toGrpcError } from './grpc-server.js';
import { fillHeader } from './header.js';

/** Registers v3electionpb.Election on `server`, backed by `member`'s shared `Concurrency`. */
export function registerElectionService(server: GrpcServer, member: Member): void {
  const c = concurrencyOf(member);
  server.addService(ElectionService, {
    campaign: async (r: CampaignRequest, ctx: CallContext): Promise<CampaignResponse> => {
      await checkAcquire(member, ctx, r.name, r.lease); // auth (issue 13)
      const resp = await c.campaign(r.name, r.lease, r.value, ctx.signal);
      return { header: fillHeader(member, resp.header), leader: resp.leader };
    },
    proclaim: async (r: ProclaimRequest, ctx: CallContext) => {
      await checkHeldKey(member, ctx, r.leader?.key ?? Buffer.alloc(0), true); // auth (issue 13)
      const resp = await c.proclaim(r.leader, r.value);
      return { header: fillHeader(member, resp.header) };
    },
    leader: async (r: LeaderRequest, ctx: CallContext): Promise<LeaderResponse> => {
      await checkReadName(member, ctx, r.name); // auth (issue 13)
      const resp = await c.leader(r.name);
      return { header: fillHeader(member, resp.header), kv: resp.kv };
    },
    resign: async (r: ResignRequest, ctx: CallContext) => {
      await checkHeldKey(member, ctx, r.leader?.key ?? Buffer.alloc(0), true); // auth (issue 13)
      const resp = await c.resign(r.leader);
      return { header: fillHeader(member, resp.header) };
    },
    observe: (call: StreamCall<LeaderRequest, LeaderResponse>) => {
      let stop: (() => void) | undefined;
      let closed = false;
      // etcd's Observe hands over only the newest holder when the client lags, so while the
      // transport is full one pending update is kept (a newer one replaces it).
      let pending: LeaderResponse | undefined;
      let full = false;
      const send = (header: ResponseHeader, kv: KeyValue) => {
        const resp = { header: fillHeader(member, header), kv };
        if (full) {
          pending = resp;
          return;
        }
        full = !call.write(resp);
      };
      call.onDrain(() => {
        full = false;
        const p = pending;
        pending = undefined;
        if (p !== undefined) full = !call.write(p);
      });
      call.onClose(() => {
        closed = true;
        stop?.();
      });
      call.onMessage((r) => {
        if (closed || stop !== undefined) return;
        // auth (issue 13): read over the name's prefix, as the caller, before observing.
        checkReadName(member, call, r.name).then(
          () => {
            if (closed || stop !== undefined) return;
            try {
              stop = c.observe(r.name, { send });
            } catch (err) {
              call.end(toGrpcError(err));
            }
          },
          (err: unknown) => call.end(toGrpcError(err)),
        );
      });
      // The stream runs until the client cancels, as etcd's does.
      call.onHalfClose(() => {});
    },
  });
}
