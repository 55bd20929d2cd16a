/**
 * A raw gRPC-over-HTTP/2 client for the fuzzer: it sends exactly the headers and DATA bytes it is
 * given (no codec, no framing help, no retries), so malformed requests reach the server unchanged,
 * and reports exactly what came back: HTTP status, grpc-status/grpc-message (trailers-only or in
 * trailers), response messages, RST_STREAM code, or that nothing came back before the deadline.
 */
import http2, { type ClientHttp2Session } from 'node:http2';

/** One request as the fuzzer wants it on the wire. */
export interface RawRequest {
  path: string;
  /** Headers added to (or replacing) the defaults; a value of null omits that header. */
  headers?: Record<string, string | null>;
  /** DATA payloads, written in order. */
  chunks: Buffer[];
  /** Half-close after the chunks (END_STREAM). When false, the stream stays open until reset. */
  endStream: boolean;
  /** Send RST_STREAM(CANCEL) this many ms after the chunks were written, instead of waiting. */
  resetAfterMs?: number;
  /** How long to wait for the server's answer before calling it a hang. */
  deadlineMs: number;
}

export type Outcome =
  /** A gRPC status arrived (OK or error). */
  | 'status'
  /** HTTP answer without grpc-status (e.g. 415 for a non-gRPC content type). */
  | 'http'
  /** The server reset the stream without a status. */
  | 'reset'
  /** We reset the stream ourselves (resetAfterMs): the server owed no answer. */
  | 'cancelled'
  /** The session failed or was closed (GOAWAY, socket error) before an answer. */
  | 'session'
  /** Nothing before the deadline. */
  | 'timeout';

export interface RawResult {
  outcome: Outcome;
  httpStatus?: number;
  grpcStatus?: number;
  grpcMessage?: string;
  /** Complete response messages (payloads without the 5-byte prefix). */
  messages: Buffer[];
  /** Bytes of an incomplete trailing response frame, if any. */
  leftover: number;
  rstCode?: number;
  error?: string;
  ms: number;
}

export const DEFAULT_HEADERS: Record<string, string> = {
  ':method': 'POST',
  'content-type': 'application/grpc',
  te: 'trailers',
  'user-agent': 'tsetcd-fuzz/1',
};

/** A gRPC length-prefixed frame: flag byte, 4-byte big-endian length, body. */
export function grpcFrame(body: Buffer, opts: { compressed?: boolean; length?: number } = {}): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = opts.compressed ? 1 : 0;
  out.writeUInt32BE((opts.length ?? body.length) >>> 0, 1);
  body.copy(out, 5);
  return out;
}

/** Splits gRPC response DATA into messages. */
function parseFrames(data: Buffer): { messages: Buffer[]; leftover: number } {
  const messages: Buffer[] = [];
  let off = 0;
  while (data.length - off >= 5) {
    const len = data.readUInt32BE(off + 1);
    if (data.length - off - 5 < len) break;
    messages.push(data.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return { messages, leftover: data.length - off };
}

export function connectSession(authority: string): ClientHttp2Session {
  const s = http2.connect(`http://${authority}`, { settings: { initialWindowSize: 1 << 22 } });
  s.on('error', () => {});
  return s;
}

function decodeGrpcMessage(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

const WRITE_PIECE = 64 * 1024;

/** Runs one raw call on `session`. Never throws; every way it can end is an Outcome. */
export function rawCall(session: ClientHttp2Session, req: RawRequest): Promise<RawResult> {
  const started = performance.now();
  return new Promise<RawResult>((resolve) => {
    const headers: Record<string, string> = { ...DEFAULT_HEADERS, ':path': req.path };
    for (const [k, v] of Object.entries(req.headers ?? {})) {
      if (v === null) delete headers[k];
      else headers[k] = v;
    }
    const result: RawResult = { outcome: 'timeout', messages: [], leftover: 0, ms: 0 };
    const data: Buffer[] = [];
    let settled = false;
    let weReset = false;
    const finish = (outcome: Outcome, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (resetTimer) clearTimeout(resetTimer);
      result.outcome = outcome;
      if (error !== undefined) result.error = error;
      const parsed = parseFrames(Buffer.concat(data));
      result.messages = parsed.messages;
      result.leftover = parsed.leftover;
      result.ms = performance.now() - started;
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve(result);
    };
    let stream: http2.ClientHttp2Stream;
    let resetTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => finish('timeout'), req.deadlineMs);
    try {
      stream = session.request(headers, { endStream: false });
    } catch (e) {
      clearTimeout(timer);
      resolve({ outcome: 'session', error: (e as Error).message, messages: [], leftover: 0, ms: 0 });
      return;
    }
    const takeStatus = (h: http2.IncomingHttpHeaders): void => {
      if (h[':status'] !== undefined) result.httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) result.grpcStatus = Number(h['grpc-status']);
      const m = decodeGrpcMessage(h['grpc-message']);
      if (m !== undefined) result.grpcMessage = m;
    };
    stream.on('response', (h) => takeStatus(h));
    stream.on('trailers', (h) => takeStatus(h));
    stream.on('data', (c: Buffer) => data.push(c));
    stream.on('error', (e) => {
      if (weReset) finish('cancelled');
      else finish(session.destroyed || session.closed ? 'session' : 'reset', e.message);
    });
    stream.on('close', () => {
      if (weReset) return finish('cancelled');
      if (result.grpcStatus !== undefined) return finish('status');
      if (result.httpStatus !== undefined && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR)
        return finish('http');
      result.rstCode = stream.rstCode;
      finish(session.destroyed || session.closed ? 'session' : 'reset');
    });
    stream.resume();
    const writeAll = async (): Promise<void> => {
      // Node's HTTP/2 client stalls on one multi-MiB write (it never reads the answer meanwhile,
      // with etcd as with us); the bytes on the wire are the same when written in 64 KiB pieces.
      const pieces = req.chunks.flatMap((c) =>
        c.length <= WRITE_PIECE
          ? [c]
          : Array.from({ length: Math.ceil(c.length / WRITE_PIECE) }, (_, i) =>
              c.subarray(i * WRITE_PIECE, (i + 1) * WRITE_PIECE),
            ),
      );
      for (const c of pieces) {
        if (settled || stream.destroyed) return;
        if (!stream.write(c)) {
          await new Promise<void>((r) => {
            const done = (): void => {
              stream.off('drain', done);
              stream.off('close', done);
              r();
            };
            stream.on('drain', done);
            stream.on('close', done);
          });
        }
      }
      if (settled || stream.destroyed) return;
      if (req.resetAfterMs !== undefined) {
        resetTimer = setTimeout(() => {
          if (settled) return;
          weReset = true;
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }, req.resetAfterMs);
      } else if (req.endStream) {
        stream.end();
      }
    };
    void writeAll();
  });
}
