/**
 * One client port, two protocols, as etcd's cmux does: a connection that opens with the HTTP/2
 * preface ("PRI * HTTP/2.0") goes to the gRPC server (whose HTTP/2 side also answers plain HTTP/2
 * requests), anything else to an HTTP/1.1 server for /health, /version, /metrics. Only the first
 * bytes of a connection are inspected, then it is handed over untouched.
 *
 * An https:// listener (given a TlsEndpoint) speaks TLS only, offering ALPN h2 and http/1.1: after
 * the handshake, the endpoint's checks run (client certificate, CRL, allowed hostname); a refused
 * connection is logged ("rejected connection") and closed, an accepted one is routed as above.
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { routeByPreface } from '../pkg/h2-sniff.js';
import { listenOn } from '../pkg/listen.js';
import { type TlsEndpoint, verifiedCommonName } from '../tls/index.js';
import type { GrpcServer } from './grpc-server.js';
import { type HttpHandler, pumpBody } from './http-handler.js';

/** The bound address of a listener: host and actual port (useful with port 0). */
export interface BoundAddress {
  host: string;
  port: number;
}

export class ClientListener {
  private readonly tcp: net.Server;
  private readonly http1: http.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly grpc: GrpcServer,
    http: HttpHandler,
    secure?: TlsEndpoint,
  ) {
    this.http1 = createHttp1Server(http);
    if (secure) {
      const server = tls.createServer({ ...secure.serverOptions(), noDelay: true });
      secure.attach(server);
      server.on('connection', (raw: net.Socket) => this.track(raw));
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        void secure.refusal(socket).then((why) => {
          if (why === undefined) this.route(socket);
          else {
            secure.logRefusal(socket, why);
            socket.destroy();
          }
        });
      });
      this.tcp = server;
    } else {
      this.tcp = net.createServer({ noDelay: true }, (socket) => this.route(socket));
    }
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
  }

  /** Starts listening on `host:port` (port 0 picks a free one). */
  listen(host: string, port: number): Promise<BoundAddress> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ host, port, backlog: 1024 }, () => {
        this.tcp.off('error', reject);
        const addr = this.tcp.address() as net.AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Starts listening on the unix socket `path` (etcd's unix:// client URL). */
  listenPath(path: string): Promise<void> {
    return listenOn(this.tcp, { path }, 1024);
  }

  /** Stops accepting and destroys every open connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }

  private route(socket: net.Socket): void {
    this.track(socket);
    // etcdctl dials URL-shaped endpoints with the URL as HTTP/2 authority, which nghttp2 refuses.
    routeByPreface(socket, this.grpc.http2, this.http1, { repairAuthority: true });
  }
}

function createHttp1Server(handler: HttpHandler): http.Server {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const gone = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      handler({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
        commonName: verifiedCommonName(req.socket),
        signal: gone.signal,
      }).then(
        (r) => {
          if (gone.signal.aborted || res.destroyed) {
            r.stream?.cancel();
            return;
          }
          res.writeHead(r.status, r.headers);
          if (!r.stream) {
            res.end(r.body);
            return;
          }
          if (r.body.length > 0) res.write(r.body);
          void pumpBody(r.stream, res);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}
