/**
 * One client port, two protocols, as etcd's cmux does: a connection that opens with the HTTP/2
 * preface ("PRI * HTTP/2.0") goes to the gRPC server (whose HTTP/2 side also answers plain HTTP/2
 * requests), anything else to an HTTP/1.1 server for /health, /version, /metrics. Only the first
 * bytes of a connection are inspected, then it is handed over untouched.
 */
import http from 'node:http';
import net from 'node:net';
import type { GrpcServer } from './grpc-server.js';
import type { HttpHandler } from './http-handler.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

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
  ) {
    this.http1 = createHttp1Server(http);
    this.tcp = net.createServer({ noDelay: true }, (socket) => this.route(socket));
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

  /** Stops accepting and destroys every open connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }

  private route(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isHttp2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isHttp2 && n < PREFACE.length) return; // need more bytes to be sure
      // Hand over paused with the bytes put back: both servers read what is buffered, then consume
      // the socket themselves (HTTP/2 natively), so we must not resume it here.
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      if (isHttp2) {
        this.grpc.http2.emit('connection', socket);
      } else {
        // Node's HTTP/1 parser would read the socket natively and miss the bytes put back; marking the
        // handle consumed makes it read through the stream (this path only serves /health and friends).
        const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
        if (handle) handle._consumed = true;
        this.http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }
}

function createHttp1Server(handler: HttpHandler): http.Server {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handler({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      }).then(
        (r) => {
          res.writeHead(r.status, r.headers);
          res.end(r.body);
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
