/**
 * The peer port's listener: one TCP port serving HTTP/2 with prior knowledge (h2c; what members
 * speak to each other) and HTTP/1.1 (probes such as curl, etcd's /members and /version), told
 * apart by the first bytes of each connection as on the client port. Requests are routed by path
 * prefix to handlers registered with `handle`; the transport registers `/raft/...`, the member will
 * register its membership and version endpoints next to it.
 *
 * Both protocols reach a handler through Node's compatibility request/response objects, so a
 * handler reads the body as a Readable and answers with `writeHead`/`write`/`end` either way.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { routeByPreface } from '../pkg/h2-sniff.js';
import { assert, type ListenAddress, listenForwarding, listenOn } from '../pkg/index.js';
import { H2_SESSION_MEMORY_MB, H2_WINDOW_BYTES } from './limits.js';
import type { PeerTls } from './types.js';

/** A request on the peer port (HTTP/1.1 or HTTP/2). */
export type PeerRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** The response to a `PeerRequest`. */
export type PeerResponse = http.ServerResponse | http2.Http2ServerResponse;
/** Serves one request; errors it throws synchronously are answered with 500. */
export type PeerHandler = (req: PeerRequest, res: PeerResponse) => void;

/** The bound address of a listener (the real port when 0 was asked). */
export interface PeerAddress {
  host: string;
  port: number;
}

/** Answers with `status` and a plain-text body (Go's http.Error shape: text plus newline). */
export function replyError(res: PeerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = `${text}\n`;
  (res as http.ServerResponse).writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Backlog of every peer listener (etcd's listeners use the kernel default; this is Node's). */
const PEER_BACKLOG = 511;

/** The peer port. Create with `PeerServer.listen`; close with `close()`. */
export class PeerServer {
  private readonly routes: { prefix: string; handler: PeerHandler }[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.Http2Session>();
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly tcp: net.Server;
  private addr: PeerAddress = { host: '', port: 0 };
  private closed = false;
  /** Servers of the extra listen URLs (etcd takes several --listen-peer-urls); see `listenAlso`. */
  private readonly extras: net.Server[] = [];

  private constructor(peerTls?: PeerTls) {
    const dispatch = (req: PeerRequest, res: PeerResponse) => this.dispatch(req, res);
    this.h1 = http.createServer({ keepAlive: true }, dispatch);
    this.h1.on('clientError', (_err, socket) => socket.destroy());
    this.h2 = http2.createServer(
      { settings: { initialWindowSize: H2_WINDOW_BYTES }, maxSessionMemory: H2_SESSION_MEMORY_MB },
      dispatch,
    );
    this.h2.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => {});
      try {
        s.setLocalWindowSize(H2_WINDOW_BYTES);
      } catch {
        // a session destroyed before it started; nothing to widen
      }
    });
    if (peerTls) {
      // TLS first, then the same sniffing on the decrypted stream; a refused peer is logged and cut.
      const server = tls.createServer({ ...peerTls.serverOptions(), noDelay: true });
      peerTls.attach(server);
      server.on('connection', (raw: net.Socket) => this.track(raw));
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        void peerTls.refusal(socket).then((why) => {
          if (why === undefined) this.sniff(socket);
          else {
            peerTls.logRefusal(socket, why);
            socket.destroy();
          }
        });
      });
      this.tcp = server;
    } else {
      this.tcp = net.createServer({ noDelay: true }, (socket) => this.sniff(socket));
    }
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
  }

  /**
   * Starts listening on `host:port` (0 picks a free port); rejects if the port is taken. With
   * `peerTls` the port speaks TLS only (etcd's https:// peer URL).
   */
  static listen(host: string, port: number, peerTls?: PeerTls): Promise<PeerServer> {
    const s = new PeerServer(peerTls);
    return new Promise((resolve, reject) => {
      s.tcp.once('error', reject);
      s.tcp.listen({ host, port, backlog: 511 }, () => {
        s.tcp.off('error', reject);
        const a = s.tcp.address() as net.AddressInfo;
        s.addr = { host: a.address, port: a.port };
        resolve(s);
      });
    });
  }

  /** The bound address. */
  get address(): PeerAddress {
    return this.addr;
  }

  /**
   * Routes requests whose path equals `prefix` or starts with `prefix + '/'` to `handler`; the
   * longest matching prefix wins. A prefix may be registered once.
   */
  handle(prefix: string, handler: PeerHandler): void {
    assert(prefix.startsWith('/'), 'route prefixes start with /');
    assert(!this.routes.some((r) => r.prefix === prefix), `route ${prefix} registered twice`);
    this.routes.push({ prefix, handler });
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Stops accepting, ends every session and connection; resolves once the port is released. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const e of this.extras) e.close();
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }

  /** Like `listen`, on a unix socket (etcd's unix:// peer URL); `address` is then { path, port 0 }. */
  static async listenPath(path: string): Promise<PeerServer> {
    const s = new PeerServer();
    await listenOn(s.tcp, { path }, PEER_BACKLOG);
    s.addr = { host: path, port: 0 };
    return s;
  }

  /**
   * Listens on one more address (another of etcd's --listen-peer-urls, TCP or unix); its
   * connections are served exactly as the first address's. Closed with the server.
   */
  async listenAlso(where: ListenAddress): Promise<void> {
    assert(!this.closed, 'listenAlso on a closed peer server');
    this.extras.push(await listenForwarding(this.tcp, where, PEER_BACKLOG));
  }

  private dispatch(req: PeerRequest, res: PeerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = this.routes.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
    if (!route) {
      replyError(res, 404, '404 page not found');
      return;
    }
    try {
      route.handler(req, res);
    } catch {
      replyError(res, 500, 'internal server error');
    }
  }

  /** Reads the first bytes of a connection and hands it to the HTTP/2 or HTTP/1.1 server. */
  private sniff(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.track(socket);
    routeByPreface(socket, this.h2, this.h1);
  }
}
