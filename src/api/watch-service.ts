/**
 * The Watch service: the gRPC adapter over the member's watch hub (src/server/watch). One hub per
 * member; each Watch call opens one hub stream, feeds it the client's requests and the transport's
 * drain events, and fills the response headers (cluster id, member id, raft term; the revision is the
 * hub's: the revision the response reflects).
 */
import { type WatchRequest, type WatchResponse, WatchService } from '../proto/etcdserverpb/rpc.js';
import type { Member } from '../server/index.js';
import { registerWatchMetrics, WatchHub, type WatchHubOptions } from '../server/index.js';
import { GrpcError, Status } from '../wire/status.js';
import type { GrpcServer, StreamCall } from './grpc-server.js';

/**
 * Added to the member's max request bytes for the watch fragmenting threshold, as etcd's watch
 * server does (its grpcOverheadBytes).
 */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

/**
 * The progress-notify interval the member was configured with, if its config carries one
 * (`watchProgressNotifyIntervalMs`, from etcd's --experimental-watch-progress-notify-interval).
 */
function configuredProgressInterval(member: Member): number | undefined {
  const v = member.cfg.watchProgressNotifyIntervalMs;
  return v !== undefined && v > 0 ? v : undefined;
}

/**
 * Registers etcdserverpb.Watch on `server`, backed by a new hub subscribed to `member`'s events.
 * `opts` override the hub's defaults (the fragment threshold is the member's max request bytes plus
 * GRPC_OVERHEAD_BYTES).
 * Returns the hub (for stats and tests).
 */
export function registerWatchService(
  server: GrpcServer,
  member: Member,
  opts: Partial<WatchHubOptions> = {},
): WatchHub {
  const interval = configuredProgressInterval(member);
  const hub = new WatchHub(member, {
    maxRequestBytes: member.cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    ...(interval === undefined ? {} : { progressNotifyIntervalMs: interval }),
    ...opts,
  });
  let streams = 0;
  registerWatchMetrics(member.metrics, () => {
    const st = hub.stats();
    return { watchers: st.watchers, streams, unsynced: st.unsynced, eventsSent: st.eventsSent };
  });
  server.addService(WatchService, {
    watch: (call: StreamCall<WatchRequest, WatchResponse>) => {
      streams++;
      call.onClose(() => {
        streams--;
      });
      const stream = hub.openStream({
        write: (r) => {
          const h = r.header;
          if (h !== undefined) {
            h.clusterId = member.clusterId;
            h.memberId = member.memberId;
            h.raftTerm = BigInt(member.term);
          }
          return call.write(r);
        },
        end: (err) => call.end(new GrpcError(Status.RESOURCE_EXHAUSTED, err.message)),
      });
      call.onMessage((req) => stream.handleRequest(req));
      call.onDrain(() => stream.handleDrain());
      call.onClose(() => stream.close());
      // etcd keeps sending after the client half-closes; the call ends when the client cancels.
      call.onHalfClose(() => {});
    },
  });
  return hub;
}
