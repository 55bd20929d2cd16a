/**
 * The two ways the generator sends a unary gRPC call over one connection ("conn"):
 *
 * - `grpc-js` (default): a @grpc/grpc-js Client per conn, with identity (de)serializers so the
 *   pre-encoded request goes out as is and the response is never decoded. This is how a Node etcd
 *   client talks, and what the results mean by default.
 * - `h2`: the same gRPC wire protocol (HTTP/2 POST, 5-byte length prefix, grpc-status trailers)
 *   written directly on node:http2, skipping grpc-js's per-call machinery (call stack, filters,
 *   retry and load-balancing layers, metadata objects). It costs about half the CPU per request, for
 *   runs where the generator itself would be the bottleneck. It never reconnects: once a
 *   connection fails, its remaining requests fail with UNAVAILABLE and are counted as errors.
 *
 * Both report each call's outcome as (gRPC status code, message), so error tables are identical.
 */

import { readFileSync } from 'node:fs';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as h2connect,
  constants as h2constants,
  type IncomingHttpHeaders,
} from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { decodeGrpcMessage, grpcFrame } from '../../wire/index.js';

/** Which client stack sends the requests. */
export type TransportKind = 'grpc-js' | 'h2';

/** TLS files for bench connections (paths; empty = not given). */
export interface BenchTls {
  cacert: string;
  cert: string;
  key: string;
}

/** The PEM contents of `tls`, read once per connection (undefined fields when not given). */
function tlsMaterial(tls: BenchTls): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  return {
    ca: tls.cacert ? readFileSync(tls.cacert) : undefined,
    cert: tls.cert ? readFileSync(tls.cert) : undefined,
    key: tls.key ? readFileSync(tls.key) : undefined,
  };
}

/** gRPC status code OK. */
export const statusOk = 0;

/**
 * Called once per call: code 0 (OK) or a gRPC status code with its message. `response` is the
 * encoded response message, given only when the call asked for it and it succeeded.
 */
export type CallDone = (code: number, details: string, response?: Buffer) => void;

/** One connection to one endpoint. */
export interface Conn {
  /**
   * Sends one unary call of `method` with the encoded request `body` (not length-prefixed). With
   * `wantResponse` the encoded response reaches `done` (costs a buffer copy on h2); otherwise it
   * is discarded unread.
   */
  call(method: string, body: Buffer, done: CallDone, wantResponse?: boolean): void;
  /** Closes the connection; calls in flight fail. Idempotent. */
  close(): void;
}

/** Initial HTTP/2 stream flow-control window of h2 conns: large enough for big range responses. */
export const h2StreamWindowBytes = 1 << 20;
/** HTTP/2 connection flow-control window of h2 conns. */
export const h2SessionWindowBytes = 16 << 20;

/** Channel options that give each grpc-js conn its own subchannel, hence its own TCP connection. */
export function grpcConnOptions(index: number): grpc.ChannelOptions {
  return {
    // Without a local pool grpc-js shares one subchannel (one TCP connection) between every channel
    // with the same address and options: --conns would silently mean one connection.
    'grpc.use_local_subchannel_pool': 1,
    // Distinct per conn as a second guard against sharing; harmless otherwise.
    'grpc.channel_id': index,
    // etcd's clients do not retry at this layer either; skipping the retry state machine is cheaper.
    'grpc.enable_retries': 0,
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  } as grpc.ChannelOptions;
}

const identity = (b: Buffer): Buffer => b;

/** Opens a grpc-js conn to `endpoint` and resolves once it is ready (rejects at `deadline`, ms since epoch). */
export function openGrpcConn(
  endpoint: string,
  index: number,
  deadline: number,
  tls?: BenchTls,
): Promise<Conn> {
  const m = tls ? tlsMaterial(tls) : undefined;
  const creds = m
    ? grpc.credentials.createSsl(m.ca ?? null, m.key ?? null, m.cert ?? null)
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(endpoint, creds, grpcConnOptions(index));
  const conn: Conn = {
    call(method, body, done, wantResponse = false) {
      client.makeUnaryRequest(
        method,
        identity,
        identity,
        body,
        (err: grpc.ServiceError | null, res?: Buffer) =>
          err === null ? done(statusOk, '', wantResponse ? res : undefined) : done(err.code, err.details),
      );
    },
    close: () => client.close(),
  };
  return new Promise((resolve, reject) =>
    client.waitForReady(deadline, (err) => {
      if (err === undefined || err === null) resolve(conn);
      else {
        client.close();
        reject(err);
      }
    }),
  );
}

/** gRPC's mapping of HTTP statuses to codes, for responses without grpc-status. */
function codeFromHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return grpc.status.INTERNAL;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return grpc.status.UNAVAILABLE;
    default:
      return grpc.status.UNKNOWN;
  }
}

/** Decodes a percent-encoded grpc-message header (repeated ones joined with commas, as node:http2 would). */
function grpcMessage(v: string | string[] | undefined): string {
  return decodeGrpcMessage(Array.isArray(v) ? v.join(',') : (v ?? ''));
}

/** Opens an h2 conn to `endpoint` and resolves once the HTTP/2 session is connected. */
export function openH2Conn(endpoint: string, deadline: number, tls?: BenchTls): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const session: ClientHttp2Session = h2connect(`${tls ? 'https' : 'http'}://${endpoint}`, {
      settings: { initialWindowSize: h2StreamWindowBytes, enablePush: false },
      ...(tls ? tlsMaterial(tls) : {}),
    });
    let dead: string | undefined;
    const onError = (err: Error): void => {
      dead ??= err.message;
    };
    session.on('error', onError);
    session.on('goaway', () => {
      dead ??= 'server sent GOAWAY';
    });
    session.on('close', () => {
      dead ??= 'connection closed';
    });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no HTTP/2 connection to ${endpoint}: ${dead ?? 'timed out'}`));
    }, deadline - Date.now());
    session.once('connect', () => {
      clearTimeout(timer);
      session.setLocalWindowSize(h2SessionWindowBytes);
      resolve(h2Conn(session, endpoint, () => dead));
    });
    session.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function h2Conn(session: ClientHttp2Session, endpoint: string, deadReason: () => string | undefined): Conn {
  let lastMethod = '';
  let headers: Record<string, string> = {};
  let lastBody: Buffer | undefined;
  let lastFramed: Buffer | undefined;
  return {
    call(method, body, done, wantResponse = false) {
      const dead = deadReason();
      if (dead !== undefined) {
        // Fail asynchronously like a real call, so the caller's loop does not recurse.
        queueMicrotask(() => done(grpc.status.UNAVAILABLE, dead));
        return;
      }
      if (method !== lastMethod) {
        lastMethod = method;
        headers = {
          [h2constants.HTTP2_HEADER_METHOD]: 'POST',
          [h2constants.HTTP2_HEADER_PATH]: method,
          [h2constants.HTTP2_HEADER_AUTHORITY]: endpoint,
          'content-type': 'application/grpc',
          te: 'trailers',
        };
      }
      // Constant workloads hand in the same buffer every time: frame it once.
      if (body !== lastBody) {
        lastBody = body;
        lastFramed = grpcFrame(body);
      }
      let stream: ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream: false });
      } catch (err) {
        queueMicrotask(() => done(grpc.status.UNAVAILABLE, (err as Error).message));
        return;
      }
      let code = -1;
      let details = '';
      let httpStatus = 0;
      stream.on('response', (h: IncomingHttpHeaders) => {
        httpStatus = Number(h[h2constants.HTTP2_HEADER_STATUS]);
        const gs = h['grpc-status'];
        if (gs !== undefined) {
          // Trailers-only response (errors).
          code = Number(gs);
          details = grpcMessage(h['grpc-message']);
        }
      });
      stream.on('trailers', (h: IncomingHttpHeaders) => {
        const gs = h['grpc-status'];
        if (gs !== undefined) {
          code = Number(gs);
          details = grpcMessage(h['grpc-message']);
        }
      });
      stream.on('error', (err: Error) => {
        if (code < 0) {
          code = grpc.status.UNAVAILABLE;
          details = err.message;
        }
      });
      const chunks: Buffer[] | undefined = wantResponse ? [] : undefined;
      stream.on('close', () => {
        if (code === statusOk && chunks !== undefined) {
          // Strip the 5-byte length prefix of the single response message.
          done(code, details, Buffer.concat(chunks).subarray(5));
        } else if (code >= 0) done(code, details);
        else if (httpStatus !== 0 && httpStatus !== 200)
          done(codeFromHttpStatus(httpStatus), `HTTP status ${httpStatus}`);
        else
          done(grpc.status.INTERNAL, `stream closed without grpc-status (RST code ${stream.rstCode ?? 0})`);
      });
      if (chunks !== undefined) stream.on('data', (c: Buffer) => chunks.push(c));
      else stream.resume(); // discard the response message; flow control still advances
      stream.end(lastFramed);
    },
    close: () => {
      if (!session.destroyed) session.destroy();
    },
  };
}

/** Opens a conn of the given kind; rejects when not ready by `deadline` (ms since epoch). */
export function openConn(
  kind: TransportKind,
  endpoint: string,
  index: number,
  deadline: number,
  tls?: BenchTls,
): Promise<Conn> {
  return kind === 'grpc-js'
    ? openGrpcConn(endpoint, index, deadline, tls)
    : openH2Conn(endpoint, deadline, tls);
}
