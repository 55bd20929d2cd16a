/**
 * The Watch service: the gRPC adapter over the member's watch hub (src/server/watch). One hub per
 * member; each Watch call opens one hub stream, feeds it the client's requests and the transport's
 * drain events, and fills the response headers (cluster id, member id, raft term; the revision is the
 * hub's: the revision the response reflects).
 */
import {
  type WatchCreateRequest,
  type WatchRequest,
  type WatchResponse,
  WatchService,
} from '../proto/etcdserverpb/rpc.js';
import type { Member } from '../server/index.js';
import { registerWatchMetrics, WatchHub, type WatchHubOptions } from '../server/index.js';
import { GrpcError, Status } from '../wire/status.js';
import { authInfoOf, NOBODY } from './auth-service.js';
import type { CallContext, GrpcServer, StreamCall } from './grpc-server.js';
import { fillHeader } from './header.js';

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
      // auth (issue 13): a create is checked as the caller first; the chain keeps requests in order.
      let chain: Promise<void> = Promise.resolve();
      call.onMessage((req) => {
        chain = chain.then(async () => {
          const refusal = req.createRequest ? await watchRefusal(member, call, req.createRequest) : undefined;
          if (call.closed) return;
          if (refusal === undefined) stream.handleRequest(req);
          else {
            call.write({
              header: fillHeader(member, {
                clusterId: 0n,
                memberId: 0n,
                revision: BigInt(member.notifiedRevision),
                raftTerm: 0n,
              }),
              watchId: -1n,
              created: true,
              canceled: true,
              compactRevision: 0n,
              cancelReason: refusal,
              fragment: false,
              events: [],
            });
          }
        });
      });
      call.onDrain(() => stream.handleDrain());
      call.onClose(() => stream.close());
      // etcd keeps sending after the client half-closes; the call ends when the client cancels.
      call.onHalfClose(() => {});
    },
  });
  return hub;
}

/**
 * etcd's isWatchPermitted: read permission over the watched range, as the caller, at creation; returns
 * the cancel reason of a refused watch (etcd answers created + canceled with watch id -1).
 * Normalized as etcd's watch server does first: an empty key is "\0", a range end of "\0" becomes
 * empty — so a from-key watch is checked as the single key (etcd 3.4's behaviour).
 */
async function watchRefusal(
  member: Member,
  ctx: CallContext,
  c: WatchCreateRequest,
): Promise<string | undefined> {
  if (!member.auth.enabled && ctx.metadata.token === undefined) return undefined;
  const key = c.key.length === 0 ? Buffer.from([0]) : c.key;
  const end = c.rangeEnd.length === 1 && c.rangeEnd[0] === 0 ? Buffer.alloc(0) : c.rangeEnd;
  try {
    const ai = (await authInfoOf(member, ctx)) ?? NOBODY;
    member.auth.checkRange(ai, key, end);
    return undefined;
  } catch (err) {
    // etcd writes the Go status error's text: "rpc error: code = <Code> desc = <message>".
    const kind = (err as { kind?: string }).kind;
    if (kind === 'invalidAuthToken') return goStatusText('Unauthenticated', (err as Error).message);
    if (kind === 'authOldRevision' || kind === 'userEmpty') {
      return goStatusText('InvalidArgument', (err as Error).message);
    }
    return goStatusText('PermissionDenied', 'etcdserver: permission denied');
  }
}

function goStatusText(code: string, message: string): string {
  return `rpc error: code = ${code} desc = ${message}`;
}
