/**
 * The client-facing side of a member: one gRPC dispatcher and its HTTP endpoints, listening on each
 * client URL (gRPC and HTTP share a port, as in etcd). Counts every call per method and code under
 * etcd's grpc_server_* metric names.
 */
import type { Member } from '../server/index.js';
import type { TlsEndpoint } from '../tls/index.js';
import { type Status, statusName } from '../wire/status.js';
import { type BoundAddress, ClientListener } from './client-listener.js';
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
    const handledChildren = new Map<string, { inc(): void }>();
    const msgChildren = new Map<RegisteredMethod, { received: { inc(): void }; sent: { inc(): void } }>();
    const msgOf = (method: RegisteredMethod) => {
      let c = msgChildren.get(method);
      if (!c) {
        const labels = [method.name, method.service, method.type] as const;
        c = { received: m.grpcMsgReceived.labels(...labels), sent: m.grpcMsgSent.labels(...labels) };
        msgChildren.set(method, c);
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
        started: (method: RegisteredMethod) =>
          m.grpcStarted.labels(method.name, method.service, method.type).inc(),
        handled: (method: RegisteredMethod, code: Status) => {
          const key = `${method.path} ${code}`;
          let child = handledChildren.get(key);
          if (!child) {
            child = m.grpcHandled.labels(
              statusName[code] ?? String(code),
              method.name,
              method.service,
              method.type,
            );
            handledChildren.set(key, child);
          }
          child.inc();
        },
        received: (method: RegisteredMethod, bytes: number) => {
          msgOf(method).received.inc();
          m.clientGrpcReceivedBytes.inc(bytes);
        },
        sent: (method: RegisteredMethod, bytes: number) => {
          msgOf(method).sent.inc();
          m.clientGrpcSentBytes.inc(bytes);
        },
      },
    });
    this.http = withJsonGateway(this.grpc, httpEndpoints(member));
    registerServices(this.grpc, member, { maxTxnOps: opts.maxTxnOps });
    const handlers = this.grpc.registered();
    for (const h of handlers) {
      m.grpcStarted.labels(h.name, h.service, h.type);
      msgOf(h); // etcd lists every method's message counters from the start, at 0
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
