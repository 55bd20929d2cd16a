/**
 * Listening as etcd's pkg/transport does beyond one TCP port: unix sockets (`unix://NAME` listens
 * on the socket file NAME, relative to the working directory; a stale file left by a crash is
 * removed first, as etcd's NewUnixListener does) and extra addresses whose connections are handed
 * to a primary server, so every listen URL of one kind behaves identically (TLS included, when the
 * primary is a tls.Server).
 */
import { rmSync } from 'node:fs';
import net from 'node:net';

/** Where to listen: a TCP host and port, or a unix socket path. */
export type ListenAddress = { host: string; port: number } | { path: string };

/** Removes a stale unix socket file before listening on `where` (etcd does the same). */
export function clearUnixSocket(where: ListenAddress): void {
  if ('path' in where) rmSync(where.path, { force: true });
}

/** `server.listen(where)` as a promise; rejects with the bind error (EADDRINUSE, EACCES, ...). */
export function listenOn(server: net.Server, where: ListenAddress, backlog: number): Promise<void> {
  clearUnixSocket(where);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ ...where, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Listens on `where` and hands every accepted connection to `primary` as its own (an emitted
 * 'connection', which is how net, http and tls servers take a socket). Close the returned server
 * to stop; the sockets belong to `primary`.
 */
export async function listenForwarding(
  primary: net.Server,
  where: ListenAddress,
  backlog: number,
): Promise<net.Server> {
  const extra = net.createServer({ noDelay: true }, (socket) => primary.emit('connection', socket));
  await listenOn(extra, where, backlog);
  return extra;
}
