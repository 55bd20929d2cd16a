/**
 * Reading an HTTP answer's body with a size cap: a peer (or anything on the network) must not make
 * this process hold an unbounded answer. Past `maxBytes` the request is destroyed with an error.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';

/**
 * Collects `res`'s body; calls `done` with it at the end, or destroys `req` once over `maxBytes`
 * (the error says "<what> over <maxBytes> bytes").
 */
export function collectBodyCapped(
  req: ClientRequest,
  res: IncomingMessage,
  maxBytes: number,
  done: (body: Buffer) => void,
  what = 'peer answer',
): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  res.on('data', (c: Buffer) => {
    bytes += c.length;
    if (bytes > maxBytes) req.destroy(new Error(`${what} over ${maxBytes} bytes`));
    else chunks.push(c);
  });
  res.on('end', () => done(Buffer.concat(chunks)));
}
