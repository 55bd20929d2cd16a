/**
 * The client-facing side of a member: one gRPC dispatcher and its HTTP endpoints, listening on each
 * client URL (gRPC and HTTP share a port, as in etcd). Counts every call per method and code under
 * etcd's grpc_server_* metric names.
 */
import type { Member } from '../server/member.js';
import type { TlsEndpoint } from '../tls/index.js';
import { type Status, statusName } from '../wire/status.js';
import { type BoundAddress, ClientListener } from './client-listener.js';
import { GrpcServer, type RegisteredMethod } from './grpc-server.js';
import { httpEndpoints } from './http-endpoints.js';
import { registerServices } from './services.js';
import { checkRequestWire } from './wire-check.js';

export interface ApiServerOptions {
  /** etcd --max-request-bytes; gRPC accepts up to this plus 512 KiB, as etcd does. */
  maxRequestBytes: number;
  maxTxnOps: number;
}

/** Extra room gRPC allows above --max-request-bytes so that the application check answers first. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

export class ApiServer {
  readonly grpc: GrpcServer;
  private readonly listeners: ClientListener[] = [];

  constructor(
    private readonly member: Member,
    opts: ApiServerOptions,
  ) {
    const m = member.metrics;
    const handledChildren = new Map<string, { inc(): void }>();
    this.grpc = new GrpcServer({
      maxReceiveMessageBytes: opts.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      http: httpEndpoints(member),
      checkRequest: checkRequestWire,
      observer: {
        started: (method: RegisteredMethod) =>
          m.grpcStarted.labels(method.type, method.service, method.name).inc(),
        handled: (method: RegisteredMethod, code: Status) => {
          const key = `${method.path} ${code}`;
          let child = handledChildren.get(key);
          if (!child) {
            child = m.grpcHandled.labels(
              method.type,
              method.service,
              method.name,
              statusName[code] ?? String(code),
            );
            handledChildren.set(key, child);
          }
          child.inc();
        },
      },
    });
    registerServices(this.grpc, member, { maxTxnOps: opts.maxTxnOps });
    const handlers = this.grpc.registered();
    for (const h of handlers) m.grpcStarted.labels(h.type, h.service, h.name);
  }

  /**
   * Listens on host:port (port 0 = any free port) and returns the bound address; with `secure`,
   * the listener speaks TLS only (an https:// client URL).
   */
  async listen(host: string, port: number, secure?: TlsEndpoint): Promise<BoundAddress> {
    const l = new ClientListener(this.grpc, httpEndpoints(this.member), secure);
    const addr = await l.listen(host, port);
    this.listeners.push(l);
    return addr;
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
    await this.grpc.close();
  }
}
