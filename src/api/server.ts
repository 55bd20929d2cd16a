/**
 * The client-facing side of a member: one gRPC dispatcher and its HTTP endpoints, listening on each
 * client URL (gRPC and HTTP share a port, as in etcd). Counts every call per method and code under
 * etcd's grpc_server_* metric names.
 */
import type { Member } from '../server/index.js';
import type { TlsEndpoint } from '../tls/index.js';
import { type Status, statusName } from '../wire/status.js';
import { type BoundAddress, ClientListener } from './client-listener.js';
import { type DeferredCount, DeferredCounts } from './deferred-counts.js';
import { withJsonGateway } from './gateway/gateway.js';
import { GrpcServer, type RegisteredMethod } from './grpc-server.js';
import { httpEndpoints } from './http-endpoints.js';
import type { HttpHandler } from './http-handler.js';
import { registerServices } from './services.js';
import { checkRequestWire } from './wire-check.js';

export interface ApiServerOptions {
  /** etcd --max-request-bytes; gRPC accepts up to this plus 512 KiB, as etcd does. */
  maxRequestBytes: number;
  maxTxnOps: number;
  /** etcd --max-concurrent-streams: HTTP/2 streams per client connection (default: 2^32-1). */
  maxConcurrentStreams?: number;
}

/** Extra room gRPC allows above --max-request-bytes so that the application check answers first. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

export class ApiServer {
  readonly grpc: GrpcServer;
  private readonly http: HttpHandler;
  private readonly listeners: ClientListener[] = [];

  constructor(member: Member, opts: ApiServerOptions) {
    const m = member.metrics;
    // Counted per call as plain numbers, added to the prom-client counters when they are read.
    const deferred = new DeferredCounts([
      m.grpcStarted,
      m.grpcHandled,
      m.grpcMsgReceived,
      m.grpcMsgSent,
      m.clientGrpcReceivedBytes,
      m.clientGrpcSentBytes,
    ]);
    const receivedBytes = deferred.of(m.clientGrpcReceivedBytes);
    const sentBytes = deferred.of(m.clientGrpcSentBytes);
    const handledChildren = new Map<string, DeferredCount>();
    const perMethod = new Map<
      RegisteredMethod,
      { started: DeferredCount; received: DeferredCount; sent: DeferredCount }
    >();
    const countsOf = (method: RegisteredMethod) => {
      let c = perMethod.get(method);
      if (!c) {
        const labels = [method.name, method.service, method.type] as const;
        c = {
          started: deferred.of(m.grpcStarted.labels(...labels)),
          received: deferred.of(m.grpcMsgReceived.labels(...labels)),
          sent: deferred.of(m.grpcMsgSent.labels(...labels)),
        };
        perMethod.set(method, c);
      }
      return c;
    };
    // HTTP on the client port: the JSON gateway (which calls into this.grpc) before the endpoints.
    const http: HttpHandler = (req) => this.http(req);
    this.grpc = new GrpcServer({
      maxReceiveMessageBytes: opts.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      maxConcurrentStreams: opts.maxConcurrentStreams,
      http,
      checkRequest: checkRequestWire,
      observer: {
        started: (method: RegisteredMethod) => countsOf(method).started.inc(),
        handled: (method: RegisteredMethod, code: Status) => {
          const key = `${method.path} ${code}`;
          let child = handledChildren.get(key);
          if (!child) {
            child = deferred.of(
              m.grpcHandled.labels(
                statusName[code] ?? String(code),
                method.name,
                method.service,
                method.type,
              ),
            );
            handledChildren.set(key, child);
          }
          child.inc();
        },
        received: (method: RegisteredMethod, bytes: number) => {
          countsOf(method).received.inc();
          receivedBytes.inc(bytes);
        },
        sent: (method: RegisteredMethod, bytes: number) => {
          countsOf(method).sent.inc();
          sentBytes.inc(bytes);
        },
      },
    });
    this.http = withJsonGateway(this.grpc, httpEndpoints(member));
    registerServices(this.grpc, member, { maxTxnOps: opts.maxTxnOps });
    const handlers = this.grpc.registered();
    for (const h of handlers) {
      m.grpcStarted.labels(h.name, h.service, h.type);
      // etcd lists every method's message counters from the start, at 0
      m.grpcMsgReceived.labels(h.name, h.service, h.type);
      m.grpcMsgSent.labels(h.name, h.service, h.type);
      countsOf(h);
    }
  }

  /**
   * Listens on host:port (port 0 = any free port) and returns the bound address; with `secure`,
   * the listener speaks TLS only (an https:// client URL).
   */
  async listen(host: string, port: number, secure?: TlsEndpoint): Promise<BoundAddress> {
    const l = new ClientListener(this.grpc, this.http, secure);
    const addr = await l.listen(host, port);
    this.listeners.push(l);
    return addr;
  }

  /** Listens on the unix socket `path` (etcd's unix:// client URL). */
  async listenPath(path: string): Promise<void> {
    const l = new ClientListener(this.grpc, this.http);
    await l.listenPath(path);
    this.listeners.push(l);
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
    await this.grpc.close();
  }
}
