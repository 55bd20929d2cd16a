/**
 * A lean gRPC server on node:http2. We do not use grpc-js's server because etcd serves gRPC and plain
 * HTTP (/health, /version, /metrics) on the same client port, which grpc-js cannot share, and because
 * the RPC layer is the first CPU bottleneck of a Put: this one does one decode, one handler call, one
 * encode and three HTTP/2 frames per unary call. grpc-js remains our client.
 *
 * What it implements of the gRPC-over-HTTP/2 protocol: length-prefixed messages (identity encoding
 * only; a compressed message is refused as grpc-go refuses it), unary, server-streaming and
 * bidirectional calls, `grpc-timeout` deadlines, cancellation by RST_STREAM, trailers-only error
 * responses with percent-encoded `grpc-message`, and a receive size limit with grpc-go's error text.
 *
 * Service definitions are the ts-proto `outputServices=grpc-js` objects (path, stream flags, codecs).
 */
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { verifiedCommonName } from '../tls/index.js';
import { grpcFrame } from '../wire/grpc-frame.js';
import { GrpcError, Status } from '../wire/status.js';
import { encodeGrpcFrame, framedResponseEncoder, type MessageEncoder } from './framing.js';
import { type HttpHandler, pumpBody } from './http-handler.js';

/** One method of a ts-proto grpc-js service definition. */
export interface MethodDefinition<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
}

// biome-ignore lint/suspicious/noExplicitAny: service definitions are heterogeneous by nature
export type ServiceDefinition = Record<string, MethodDefinition<any, any>>;

/** Per-call facts a handler may need; `signal` aborts on client cancel, deadline, or server stop. */
export interface CallContext {
  readonly metadata: IncomingHttpHeaders;
  readonly signal: AbortSignal;
  /** The full method path, e.g. /etcdserverpb.KV/Range. */
  readonly method: string;
  readonly peer: string;
  /**
   * The CN of the client certificate verified on this call's TLS connection (an https:// listener
   * with --client-cert-auth), else undefined. etcd takes it as the user name when auth is enabled
   * and the call carries no token.
   */
  readonly commonName: string | undefined;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res> | Res;

/**
 * A unary response whose serialized bytes the handler produces piece by piece (a big Range, see
 * src/server/range-stream.ts), sent with HTTP/2 backpressure instead of serialized at once. A
 * handler may return one only when its call context has `preEncodedOk` (gRPC calls; not the JSON
 * gateway, which calls handlers in-process).
 */
export interface PreEncodedMessage {
  readonly preEncoded: true;
  /** Total bytes of the serialized message. */
  readonly bytes: number;
  /** The next piece, undefined after the last; may throw (the call then ends with INTERNAL). */
  next(): Buffer | undefined;
  /** Frees what the message holds; called once it is sent or abandoned (idempotent). */
  release(): void;
}

/** grpc-go's default largest message a server sends (MaxSendMsgSize: math.MaxInt32). */
export const SEND_MESSAGE_BYTES_MAX = 2 ** 31 - 1;

function isPreEncoded(m: unknown): m is PreEncodedMessage {
  return typeof m === 'object' && m !== null && (m as { preEncoded?: unknown }).preEncoded === true;
}

/**
 * A streaming call. Reading: `onMessage` for each request, `onHalfClose` when the client ends its side.
 * Writing: `write` returns false when the transport buffer is full (wait for `onDrain` before more).
 * `end(error?)` sends the status; after it, writes are ignored.
 */
export interface StreamCall<Req, Res> extends CallContext {
  onMessage(listener: (request: Req) => void): void;
  onHalfClose(listener: () => void): void;
  onDrain(listener: () => void): void;
  /** Called once when the call is over for any reason (ended, cancelled, connection lost). */
  onClose(listener: () => void): void;
  write(response: Res): boolean;
  end(error?: GrpcError): void;
  readonly closed: boolean;
}

export type StreamHandler<Req, Res> = (call: StreamCall<Req, Res>) => void;

/** What the server reports to observers (metrics, logs) for each finished call. */
export interface GrpcObserver {
  started?(method: RegisteredMethod): void;
  handled?(method: RegisteredMethod, code: Status): void;
  /** A request message decoded (`bytes`: its protobuf size, framing excluded). */
  received?(method: RegisteredMethod, bytes: number): void;
  /** A response message handed to the stream (`bytes`: its protobuf size, framing excluded). */
  sent?(method: RegisteredMethod, bytes: number): void;
}

export interface RegisteredMethod {
  path: string;
  service: string;
  name: string;
  /** unary | server_stream | client_stream | bidi_stream, as grpc-go's prometheus labels. */
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: see ServiceDefinition
  def: MethodDefinition<any, any>;
  // biome-ignore lint/suspicious/noExplicitAny: see ServiceDefinition
  unary?: UnaryHandler<any, any>;
  // biome-ignore lint/suspicious/noExplicitAny: see ServiceDefinition
  stream?: StreamHandler<any, any>;
  /** Writes a response straight into its gRPC frame (framing.ts), for the most answered methods. */
  framed?: MessageEncoder;
}

export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes (etcd: --max-request-bytes + 512 KiB). */
  maxReceiveMessageBytes: number;
  /** HTTP/2 streams a client connection may have open at once (etcd --max-concurrent-streams). */
  maxConcurrentStreams?: number;
  observer?: GrpcObserver;
  /** Answers non-gRPC HTTP/2 requests (e.g. curl --http2-prior-knowledge /health). */
  http?: HttpHandler;
  /**
   * Checks a request's bytes before decoding; returns the decoder error text etcd would give when
   * they are malformed (see wire-check.ts), or undefined.
   */
  checkRequest?: (path: string, body: Uint8Array) => string | undefined;
}

const GRPC_HEADERS_OK = {
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': 'identity',
};

/**
 * The gRPC dispatcher. Feed it HTTP/2 connections (`server.http2` accepts 'connection' events from
 * the port multiplexer), register services, and it answers calls.
 */
export class GrpcServer {
  readonly http2: http2.Http2Server;
  private readonly methods = new Map<string, RegisteredMethod>();
  private readonly services = new Set<string>();
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly liveCalls = new Set<AbortController>();
  private stopping = false;

  constructor(private readonly opts: GrpcServerOptions) {
    this.http2 = http2.createServer({
      maxSessionMemory: 256,
      settings: {
        maxConcurrentStreams: opts.maxConcurrentStreams ?? 4294967295,
        initialWindowSize: 1 << 22,
        maxFrameSize: 1 << 14,
      },
    });
    this.http2.on('session', (session) => {
      this.sessions.add(session);
      // Connection-level flow control: let a client stream big requests without stalling.
      session.on('connect', () => session.setLocalWindowSize(1 << 24));
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => {});
    });
    this.http2.on('stream', (stream, headers) => this.handleStream(stream, headers));
  }

  /** Registers every method of `def`; `impl` maps method keys (ts-proto names) to handlers. */
  addService(
    def: ServiceDefinition,
    // biome-ignore lint/suspicious/noExplicitAny: handlers are typed at the service modules
    impl: Record<string, UnaryHandler<any, any> | StreamHandler<any, any> | undefined>,
  ): void {
    for (const [key, m] of Object.entries(def)) {
      const slash = m.path.lastIndexOf('/');
      const service = m.path.slice(1, slash);
      const name = m.path.slice(slash + 1);
      const type = m.requestStream
        ? m.responseStream
          ? 'bidi_stream'
          : 'client_stream'
        : m.responseStream
          ? 'server_stream'
          : 'unary';
      const handler = impl[key];
      const reg: RegisteredMethod = { path: m.path, service, name, type, def: m };
      const framed = type === 'unary' ? framedResponseEncoder(m.path) : undefined;
      if (framed) reg.framed = framed;
      if (handler) {
        if (type === 'unary') reg.unary = handler as UnaryHandler<unknown, unknown>;
        else reg.stream = handler as StreamHandler<unknown, unknown>;
      }
      this.methods.set(m.path, reg);
      this.services.add(service);
    }
  }

  /** The registered method at a full path (/etcdserverpb.KV/Range), if any. */
  lookup(path: string): RegisteredMethod | undefined {
    return this.stopping ? undefined : this.methods.get(path);
  }

  /** The largest request message accepted, in bytes. */
  get maxReceiveMessageBytes(): number {
    return this.opts.maxReceiveMessageBytes;
  }

  /** HTTP/2 streams one connection may have open at once. */
  get maxConcurrentStreams(): number {
    return this.opts.maxConcurrentStreams ?? 4294967295;
  }

  /** @internal Counts a call that arrived another way (the JSON gateway) as gRPC does. */
  reportStarted(method: RegisteredMethod): void {
    this.opts.observer?.started?.(method);
  }

  /** All registered methods (for metrics pre-registration). */
  registered(): RegisteredMethod[] {
    return [...this.methods.values()];
  }

  /** Stops accepting calls, cancels the live ones, and closes every HTTP/2 session. */
  async close(): Promise<void> {
    this.stopping = true;
    for (const c of this.liveCalls) c.abort();
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => this.http2.close(() => resolve()));
  }

  private handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const contentType = headers['content-type'];
    if (!isGrpcContentType(contentType)) {
      stream.on('error', ignoreError);
      if (this.opts.http) serveHttp2(this.opts.http, stream, headers);
      else stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    stream.on('error', ignoreError);
    const path = headers[':path'] ?? '';
    const method = this.methods.get(path);
    if (!method || this.stopping) {
      // Split as grpc-go does: drop one leading '/', then service/method at the last '/'.
      const name = path.startsWith('/') ? path.slice(1) : path;
      const slash = name.lastIndexOf('/');
      const service = name.slice(0, slash);
      const err = this.stopping
        ? new GrpcError(Status.UNAVAILABLE, 'transport is closing')
        : slash < 0
          ? // grpc-go's code for it, odd as it is
            new GrpcError(Status.RESOURCE_EXHAUSTED, `malformed method name: ${JSON.stringify(path)}`)
          : this.services.has(service)
            ? new GrpcError(
                Status.UNIMPLEMENTED,
                `unknown method ${name.slice(slash + 1)} for service ${service}`,
              )
            : new GrpcError(Status.UNIMPLEMENTED, `unknown service ${service}`);
      sendTrailersOnly(stream, err.code, err.message);
      stream.resume();
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (typeof encoding === 'string' && encoding !== 'identity') {
      sendTrailersOnly(
        stream,
        Status.UNIMPLEMENTED,
        `grpc: Decompressor is not installed for grpc-encoding "${encoding}"`,
      );
      stream.resume();
      return;
    }
    this.opts.observer?.started?.(method);
    const call = new ServerCall(
      this,
      stream,
      headers,
      method,
      this.opts.maxReceiveMessageBytes,
      this.opts.checkRequest,
    );
    if (method.unary) call.runUnary(method.unary);
    else if (method.stream) call.runStream(method.stream);
    else {
      call.finish(
        new GrpcError(Status.UNIMPLEMENTED, `unknown method ${method.name} for service ${method.service}`),
      );
    }
  }

  /** @internal */
  track(c: AbortController): void {
    this.liveCalls.add(c);
  }
  /** @internal */
  untrack(c: AbortController): void {
    this.liveCalls.delete(c);
  }
  /** @internal */
  reportHandled(method: RegisteredMethod, code: Status): void {
    this.opts.observer?.handled?.(method, code);
  }
  /** @internal */
  reportReceived(method: RegisteredMethod, bytes: number): void {
    this.opts.observer?.received?.(method, bytes);
  }
  /** @internal */
  reportSent(method: RegisteredMethod, bytes: number): void {
    this.opts.observer?.sent?.(method, bytes);
  }
}

/** application/grpc, optionally with a +subtype or parameters (grpc-go's test); not application/grpcx. */
function isGrpcContentType(value: string | undefined): boolean {
  if (typeof value !== 'string' || !value.startsWith('application/grpc')) return false;
  const next = value.charAt('application/grpc'.length);
  return next === '' || next === '+' || next === ';';
}

/**
 * Encodes `message` for the grpc-message trailer: percent-encode '%' and bytes outside 0x20..0x7e,
 * and spaces at either end (HTTP/2 drops a header value's edge whitespace: "unknown service " for
 * the path "//" would arrive as an empty message).
 */
export function encodeGrpcMessage(message: string): string {
  if (message.endsWith(' ') || message.startsWith(' ')) {
    const body = message.trim();
    const lead = message.length - message.trimStart().length;
    const trail = message.length - message.trimEnd().length;
    return '%20'.repeat(lead) + encodeGrpcMessage(body) + '%20'.repeat(body.length > 0 ? trail : 0);
  }
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out +=
      b < 0x20 || b > 0x7e || b === 0x25
        ? `%${b.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(b);
  }
  return out;
}

function serveHttp2(handler: HttpHandler, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    const gone = new AbortController();
    stream.once('close', () => gone.abort());
    handler({
      method: String(headers[':method'] ?? 'GET'),
      url: String(headers[':path'] ?? '/'),
      headers,
      body: Buffer.concat(chunks),
      peer: `${stream.session?.socket?.remoteAddress}:${stream.session?.socket?.remotePort}`,
      commonName: verifiedCommonName(stream.session),
      signal: gone.signal,
    }).then(
      (res) => {
        if (stream.destroyed) {
          res.stream?.cancel();
          return;
        }
        stream.respond({ ':status': res.status, ...res.headers });
        if (!res.stream) {
          stream.end(res.body);
          return;
        }
        if (res.body.length > 0) stream.write(res.body);
        void pumpBody(res.stream, stream);
      },
      () => {
        if (!stream.destroyed) stream.respond({ ':status': 500 }, { endStream: true });
      },
    );
  });
}

function sendTrailersOnly(stream: ServerHttp2Stream, code: Status, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  try {
    stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(code),
        'grpc-message': encodeGrpcMessage(message),
      },
      { endStream: true },
    );
    releaseStream(stream);
  } catch {
    // The client went away while we answered; nothing to tell it.
  }
}

/**
 * After the status went out, a stream the client has not half-closed would stay open on both sides
 * until the client ends it (and the server would hold it). grpc-go resets such a stream with
 * NO_ERROR once its status is written; so do we, one turn of the event loop later: nghttp2 sends
 * RST_STREAM ahead of queued DATA, and submitted at once it would overtake the last DATA frame and
 * the trailers behind it.
 */
function releaseStream(stream: ServerHttp2Stream): void {
  setImmediate(() => {
    if (stream.destroyed || stream.closed || stream.readableEnded) return;
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
  });
}

const RESPOND_OPTIONS = { waitForTrailers: true } as const;
/** A stream's errors end it (its 'close' follows); there is no one else to tell. */
const ignoreError = (): void => {};
const TRAILERS_OK = { 'grpc-status': '0' } as const;

/** Answers OK headers now and grpc-status 0 trailers once the body is written, then frees the stream. */
function respondOk(stream: ServerHttp2Stream): void {
  stream.respond(GRPC_HEADERS_OK, RESPOND_OPTIONS);
  // 'wantTrailers' comes once per stream: `on` spares the wrapper `once` allocates.
  stream.on('wantTrailers', sendTrailersOk);
}

/** The 'wantTrailers' listener of respondOk: one function for every call, no closure per call. */
function sendTrailersOk(this: ServerHttp2Stream): void {
  try {
    this.sendTrailers(TRAILERS_OK);
    // A unary client has half-closed long before: nothing left to release (releaseStream's check).
    if (!this.readableEnded) releaseStream(this);
  } catch {
    // stream reset meanwhile
  }
}

/**
 * Parses grpc-timeout ("100m", "5S", ...) into milliseconds; undefined when absent or malformed. The
 * spec allows at most 8 digits and a unit; grpc-go refuses anything else, we serve without deadline.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^[0-9]{1,8}[HMSmun]$/.test(value)) return undefined;
  const amount = Number(value.slice(0, -1));
  switch (value[value.length - 1]) {
    case 'H':
      return amount * 3_600_000;
    case 'M':
      return amount * 60_000;
    case 'S':
      return amount * 1000;
    case 'm':
      return amount;
    case 'u':
      return amount / 1000;
    case 'n':
      return amount / 1_000_000;
    default:
      return undefined;
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** One in-flight call: frames in, frames out, one status at the end. */
class ServerCall implements StreamCall<unknown, unknown> {
  private pending: Buffer | undefined;
  private controller: AbortController | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private done = false;
  private messageListener: ((m: unknown) => void) | undefined;
  private halfCloseListener: (() => void) | undefined;
  private closeListeners: (() => void)[] = [];
  private halfClosed = false;
  private sentHeaders = false;
  /** Request messages decoded so far. */
  private received = 0;
  /** Unary handlers may answer with a PreEncodedMessage. */
  readonly preEncodedOk = true;

  constructor(
    private readonly server: GrpcServer,
    private readonly stream: ServerHttp2Stream,
    readonly metadata: IncomingHttpHeaders,
    private readonly reg: RegisteredMethod,
    private readonly maxReceive: number,
    private readonly checkRequest?: (path: string, body: Uint8Array) => string | undefined,
  ) {
    const timeoutMs = parseGrpcTimeout(metadata['grpc-timeout']);
    // Node runs a timer beyond 2^31-1 ms after 1 ms; such a deadline (≥ 24.8 days) is no deadline.
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      this.deadline = setTimeout(
        () => this.finish(new GrpcError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded')),
        timeoutMs,
      );
    }
    stream.on('close', () => this.onStreamClosed());
  }

  get method(): string {
    return this.reg.path;
  }

  get peer(): string {
    const s = this.stream.session?.socket;
    return s ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
  }

  get commonName(): string | undefined {
    return verifiedCommonName(this.stream.session);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort();
      else this.server.track(this.controller);
    }
    return this.controller.signal;
  }

  get closed(): boolean {
    return this.done;
  }

  runUnary(handler: UnaryHandler<unknown, unknown>): void {
    let got = false;
    this.messageListener = (request) => {
      // etcd 3.4's grpc-go reads exactly one request message and answers; more are ignored.
      if (got) return;
      got = true;
      let result: unknown;
      try {
        result = handler(request, this);
      } catch (err) {
        this.finish(toGrpcError(err));
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (res) => this.sendUnary(res),
          (err) => this.finish(toGrpcError(err)),
        );
      } else {
        this.sendUnary(result);
      }
    };
    this.attachReader();
  }

  runStream(handler: StreamHandler<unknown, unknown>): void {
    try {
      handler(this);
    } catch (err) {
      this.finish(toGrpcError(err));
      return;
    }
    this.attachReader();
  }

  onMessage(listener: (request: unknown) => void): void {
    this.messageListener = listener;
  }

  onHalfClose(listener: () => void): void {
    this.halfCloseListener = listener;
    if (this.halfClosed) listener();
  }

  onDrain(listener: () => void): void {
    this.stream.on('drain', listener);
  }

  onClose(listener: () => void): void {
    if (this.done) listener();
    else this.closeListeners.push(listener);
  }

  write(response: unknown): boolean {
    if (this.done || this.stream.destroyed) return false;
    if (!this.sentHeaders) {
      this.sentHeaders = true;
      this.stream.respond(GRPC_HEADERS_OK, { waitForTrailers: true });
    }
    const body = this.reg.def.responseSerialize(response);
    this.server.reportSent(this.reg, body.length);
    return this.stream.write(grpcFrame(body));
  }

  end(error?: GrpcError): void {
    this.finish(error);
  }

  private sendUnary(response: unknown): void {
    if (isPreEncoded(response)) {
      this.sendPreEncoded(response);
      return;
    }
    if (this.done || this.stream.destroyed) return;
    let bytes: Buffer;
    try {
      const framed = this.reg.framed;
      if (framed) {
        bytes = encodeGrpcFrame(framed, response);
        this.server.reportSent(this.reg, bytes.length - 5);
      } else {
        const body = this.reg.def.responseSerialize(response);
        this.server.reportSent(this.reg, body.length);
        bytes = grpcFrame(body);
      }
    } catch (err) {
      this.finish(new GrpcError(Status.INTERNAL, `grpc: error while marshaling: ${(err as Error).message}`));
      return;
    }
    this.sentHeaders = true;
    this.done = true;
    this.cleanup();
    const stream = this.stream;
    respondOk(stream);
    stream.end(bytes);
    this.server.reportHandled(this.reg, Status.OK);
  }

  /** Sends `m` piece by piece, waiting for 'drain' whenever the stream's buffer is full. */
  private sendPreEncoded(m: PreEncodedMessage): void {
    if (this.done || this.stream.destroyed) {
      m.release();
      return;
    }
    const total = m.bytes;
    if (total > SEND_MESSAGE_BYTES_MAX) {
      m.release();
      this.finish(
        new GrpcError(
          Status.RESOURCE_EXHAUSTED,
          `grpc: trying to send message larger than max (${total} vs. ${SEND_MESSAGE_BYTES_MAX})`,
        ),
      );
      return;
    }
    this.sentHeaders = true;
    this.done = true;
    this.cleanup();
    const stream = this.stream;
    stream.once('close', () => m.release());
    respondOk(stream);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(total, 1);
    stream.write(prefix);
    const pump = (): void => {
      try {
        for (;;) {
          if (stream.destroyed) return;
          const piece = m.next();
          if (piece === undefined) {
            m.release();
            stream.end();
            this.server.reportHandled(this.reg, Status.OK);
            return;
          }
          if (!stream.write(piece)) {
            stream.once('drain', pump);
            return;
          }
        }
      } catch {
        // The message cannot be finished (the store closed under it): reset the stream; the
        // client sees the call fail instead of a truncated message.
        m.release();
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        this.server.reportHandled(this.reg, Status.INTERNAL);
      }
    };
    pump();
  }

  /** Ends the call with `error` (or OK). Idempotent. */
  finish(error?: GrpcError): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    const code = error ? error.code : Status.OK;
    const message = error ? error.message : '';
    const stream = this.stream;
    if (!stream.destroyed) {
      if (!this.sentHeaders) {
        sendTrailersOnly(stream, code, message);
      } else {
        const trailers: Record<string, string> = { 'grpc-status': String(code) };
        if (message) trailers['grpc-message'] = encodeGrpcMessage(message);
        stream.once('wantTrailers', () => {
          try {
            stream.sendTrailers(trailers);
            releaseStream(stream);
          } catch {
            // stream reset meanwhile
          }
        });
        stream.end();
      }
    }
    this.server.reportHandled(this.reg, code);
  }

  private cleanup(): void {
    if (this.deadline) clearTimeout(this.deadline);
    if (this.controller) {
      this.server.untrack(this.controller);
      this.controller.abort();
    }
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l();
  }

  private onStreamClosed(): void {
    if (this.done) return;
    // The client cancelled (RST_STREAM) or the connection dropped before we answered.
    this.done = true;
    this.cleanup();
    this.server.reportHandled(this.reg, Status.CANCELLED);
  }

  private attachReader(): void {
    const stream = this.stream;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => {
      this.halfClosed = true;
      if (this.done) return;
      const unaryRequest = !this.reg.def.requestStream;
      if (this.pending !== undefined) {
        // The client half-closed inside a message. grpc-go: unary calls answer UNKNOWN, streaming
        // calls (their handlers read with RecvMsg) INTERNAL.
        const unary = unaryRequest && !this.reg.def.responseStream;
        this.finish(new GrpcError(unary ? Status.UNKNOWN : Status.INTERNAL, 'unexpected EOF'));
        return;
      }
      if (unaryRequest && this.received === 0) {
        // A unary or server-streaming call that ended without its one request message.
        this.finish(new GrpcError(Status.UNKNOWN, 'EOF'));
        return;
      }
      this.halfCloseListener?.();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    while (buf.length >= 5) {
      const payloadFormat = buf[0]!;
      const length = buf.readUInt32BE(1);
      if (payloadFormat !== 0) {
        this.finish(
          new GrpcError(
            Status.INTERNAL,
            payloadFormat === 1
              ? 'grpc: compressed flag set with identity or empty encoding'
              : `grpc: received unexpected payload format ${payloadFormat}`,
          ),
        );
        return;
      }
      if (length > this.maxReceive) {
        this.finish(
          new GrpcError(
            Status.RESOURCE_EXHAUSTED,
            `grpc: received message larger than max (${length} vs. ${this.maxReceive})`,
          ),
        );
        return;
      }
      if (buf.length < 5 + length) break;
      const body = buf.subarray(5, 5 + length);
      buf = buf.subarray(5 + length);
      let request: unknown;
      try {
        const malformed = this.checkRequest?.(this.reg.path, body);
        if (malformed !== undefined) throw new Error(malformed);
        request = this.reg.def.requestDeserialize(body);
      } catch (err) {
        // grpc-go words a bad request differently for unary and streaming calls; the reason is
        // worded as etcd's protobuf decoder words it where the two decoders agree on the cause.
        const unary = !this.reg.def.requestStream && !this.reg.def.responseStream;
        const prefix = unary
          ? 'grpc: error unmarshalling request: '
          : 'grpc: failed to unmarshal the received message ';
        this.finish(new GrpcError(Status.INTERNAL, prefix + protobufReason(err)));
        return;
      }
      this.received++;
      this.server.reportReceived(this.reg, body.length);
      this.messageListener?.(request);
      if (this.done) return;
    }
    if (buf.length > 0) this.pending = Buffer.from(buf);
  }
}

/** The reason of a decode failure in the words of etcd's (gogoproto) decoder where they agree. */
function protobufReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'premature EOF') return 'unexpected EOF';
  if (message === 'invalid varint') return 'proto: integer overflow';
  const skip = /^cant skip wire type (\d+)$/.exec(message);
  if (skip) return `proto: illegal wireType ${skip[1]}`;
  return message;
}

/**
 * Maps anything a handler threw to the status sent on the wire. Typed errors carry their own code and
 * message; an unexpected error is INTERNAL with its message (never a stack trace).
 */
export function toGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  const mapped = (err as { toGrpcError?: () => GrpcError } | undefined)?.toGrpcError?.();
  if (mapped) return mapped;
  return new GrpcError(Status.UNKNOWN, err instanceof Error ? err.message : String(err));
}
