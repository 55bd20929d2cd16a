/**
 * The seam between transports and the plain-HTTP endpoints (/health, /version, /metrics, and later the
 * JSON gateway): one handler type served over HTTP/1.1 and over HTTP/2 alike.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpRequest {
  method: string;
  /** Path plus query string, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;
