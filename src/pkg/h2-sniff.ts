/**
 * Serving HTTP/2 (prior knowledge) and HTTP/1.1 on one plain TCP port, as etcd's cmux does: look at
 * a connection's first bytes and hand it, untouched, to the server that speaks its protocol.
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import { handOverH2 } from './h2-authority.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Waits for enough bytes to tell HTTP/2's connection preface from anything else, then emits the
 * socket as a 'connection' on `h2` or `h1`. The bytes read are put back first.
 */
export function routeByPreface(
  socket: net.Socket,
  h2: http2.Http2Server,
  h1: http.Server,
  opts: { repairAuthority?: boolean } = {},
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (isH2 && n < PREFACE.length) return; // need more bytes to be sure
    // Hand over paused with the bytes put back: both servers read what is buffered, then consume
    // the socket themselves (HTTP/2 natively), so it must not be resumed for HTTP/2.
    socket.off('data', onData);
    socket.pause();
    if (isH2 && opts.repairAuthority) {
      // The first request decides: natively to nghttp2, or through the authority repair (h2-authority.ts).
      handOverH2(socket, seen, h2);
      return;
    }
    socket.unshift(seen);
    if (isH2) {
      h2.emit('connection', socket);
    } else {
      // Node's HTTP/1 parser would read a fresh socket's handle natively and miss the bytes put
      // back; marking the handle consumed makes it read through the stream instead.
      const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
      if (handle) handle._consumed = true;
      h1.emit('connection', socket);
      socket.resume();
    }
  };
  socket.on('data', onData);
}
