/**
 * The seam between transports and the plain-HTTP endpoints (/health, /version, /metrics, the JSON
 * gateway): one handler type served over HTTP/1.1 and over HTTP/2 alike.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpRequest {
  method: string;
  /** Path plus query string, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** "ip:port" of the client. */
  peer?: string;
  /** The CN of the client's verified TLS certificate, if it presented one (etcd's certificate identity). */
  commonName?: string;
  /**
   * Aborts when the client goes away before the response is complete (its connection or stream
   * closed): a handler still waiting for something to send (a watch with no event yet) ends then.
   */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** More of the body, sent after `body` as it comes (streaming calls of the JSON gateway). */
  stream?: HttpBodyStream;
}

/** A body that arrives in pieces; `next()` resolves undefined at its end. */
export interface HttpBodyStream {
  next(): Promise<string | undefined>;
  /** The client went away: stop producing. */
  cancel(): void;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * Writes `stream` to a transport until it ends or the client leaves. `write` returns false when the
 * transport is full; then we wait for `drain` before the next piece (the producer's backpressure).
 */
export async function pumpBody(
  stream: HttpBodyStream,
  out: {
    write(chunk: string): boolean;
    end(): void;
    once(event: 'drain' | 'close', fn: () => void): void;
    readonly destroyed: boolean;
  },
): Promise<void> {
  let closed = false;
  out.once('close', () => {
    closed = true;
    stream.cancel();
  });
  for (;;) {
    const chunk = await stream.next();
    if (closed || out.destroyed) return;
    if (chunk === undefined) {
      out.end();
      return;
    }
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
  }
}
