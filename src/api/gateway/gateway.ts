/**
 * etcd 3.4's JSON gateway (grpc-gateway v1) on the client port: `POST /v3/<route>` with a JSON body
 * calls the bound gRPC method in-process, through the same handlers, limits and metrics as a gRPC
 * call, and answers in grpc-gateway's JSON. `/v3beta/` is rewritten to `/v3/` as etcd 3.4 does.
 *
 * Shapes, as grpc-gateway writes them:
 * - unary success: 200, the response message (see json-codec.ts);
 * - unary error: the HTTP status for the gRPC code, `{"error": msg, "message": msg, "code": n}`;
 * - streaming calls (watch, lease keep-alive, snapshot, election observe): one `{"result": ...}` line
 *   per response; an error ends the stream with `{"error": {"grpc_code", "http_code", "message",
 *   "http_status"}}` (and sets the HTTP status when nothing was sent before it);
 * - an unbound /v3/ path: 404 "Not Found"; a bound path with another method: 405.
 * The request body may hold several JSON values: a unary call reads the first, a bidirectional
 * stream sends each and then half-closes (the call stays open, as over gRPC).
 * The `Authorization` header reaches the handlers as the `authorization` metadata, as grpc-gateway
 * forwards it, and `Grpc-Metadata-<key>` headers as `<key>`.
 */
import { JSON_METHODS } from '../../proto/json-schema.js';
import { GrpcError, Status } from '../../wire/status.js';
import { type GrpcServer, type RegisteredMethod, type StreamCall, toGrpcError } from '../grpc-server.js';
import type { HttpBodyStream, HttpHandler, HttpRequest, HttpResponse } from '../http-handler.js';
import { JsonDecodeError, jsonToProto, protoToJson } from './json-codec.js';
import { JsonReader, JsonSyntaxError, type JsonValue } from './json-parse.js';
import { gatewayMethod } from './routes.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Go's http.Error: text/plain, nosniff, the text and a newline. */
function plainError(status: number, text: string): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    body: `${text}\n`,
  };
}

/** grpc-gateway v1's HTTPStatusFromCode. */
export function httpStatusFromCode(code: Status): number {
  switch (code) {
    case Status.OK:
      return 200;
    case Status.CANCELLED:
      return 408;
    case Status.INVALID_ARGUMENT:
    case Status.OUT_OF_RANGE:
      return 400;
    case Status.DEADLINE_EXCEEDED:
      return 504;
    case Status.NOT_FOUND:
      return 404;
    case Status.ALREADY_EXISTS:
    case Status.ABORTED:
      return 409;
    case Status.PERMISSION_DENIED:
      return 403;
    case Status.UNAUTHENTICATED:
      return 401;
    case Status.RESOURCE_EXHAUSTED:
      return 429;
    case Status.FAILED_PRECONDITION:
      return 412;
    case Status.UNIMPLEMENTED:
      return 501;
    case Status.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

const HTTP_STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function errorResponse(err: GrpcError): HttpResponse {
  return {
    status: httpStatusFromCode(err.code),
    headers: JSON_HEADERS,
    body: JSON.stringify({ error: err.message, message: err.message, code: err.code }),
  };
}

function streamErrorChunk(err: GrpcError): string {
  const http = httpStatusFromCode(err.code);
  const body: Record<string, unknown> = {};
  if (err.code !== Status.OK) body.grpc_code = err.code;
  body.http_code = http;
  if (err.message) body.message = err.message;
  body.http_status = HTTP_STATUS_TEXT[http] ?? '';
  return JSON.stringify({ error: body });
}

/**
 * How many gateway calls run at once. etcd's gateway reaches its gRPC server through one client
 * connection, so all HTTP clients together get --max-concurrent-streams calls at a time (a watch
 * holds its slot while open); the rest wait their turn, as they wait in etcd.
 */
class CallSlots {
  private inUse = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async acquire(): Promise<() => void> {
    if (this.inUse >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.inUse--;
    };
  }
}

/** The handler chain: /v3/ and /v3beta/ paths go to the gateway, the rest to `next`. */
export function withJsonGateway(grpc: GrpcServer, next: HttpHandler): HttpHandler {
  const slots = new CallSlots(grpc.maxConcurrentStreams);
  return async (req) => {
    const q = req.url.indexOf('?');
    let path = q < 0 ? req.url : req.url.slice(0, q);
    // Go's mux matches the decoded path (r.URL.Path): /v3/kv/%70ut is /v3/kv/put.
    if (path.includes('%')) path = decodePath(path);
    if (path.startsWith('/v3beta/')) path = `/v3/${path.slice('/v3beta/'.length)}`;
    if (!path.startsWith('/v3/')) return next(req);
    const methodPath = gatewayMethod(path);
    if (methodPath === undefined) return plainError(404, 'Not Found');
    if (req.method !== 'POST') return plainError(405, 'Method Not Allowed');
    const reg = grpc.lookup(methodPath);
    const types = JSON_METHODS[methodPath];
    if (!reg || !types) return errorResponse(new GrpcError(Status.UNAVAILABLE, 'transport is closing'));
    const release = await slots.acquire();
    let res: HttpResponse;
    try {
      res = await callMethod(grpc, reg, types, req);
    } catch (err) {
      release();
      throw err;
    }
    const stream = res.stream;
    if (!stream) {
      release();
      return res;
    }
    // A streaming call keeps its slot until it ends or its client leaves.
    return {
      ...res,
      stream: {
        next: async () => {
          const chunk = await stream.next();
          if (chunk === undefined) release();
          return chunk;
        },
        cancel: () => {
          release();
          stream.cancel();
        },
      },
    };
  };
}

/** Percent-decodes a request path as Go's url.Parse does; a malformed escape leaves it as it is. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** gRPC metadata from HTTP headers, as grpc-gateway's annotateContext builds it. */
function metadataOf(req: HttpRequest): Record<string, string> {
  const md: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    if (key === 'authorization') md.authorization = v;
    else if (key.startsWith('grpc-metadata-')) md[key.slice('grpc-metadata-'.length)] = v;
  }
  return md;
}

/** A request body that does not decode: the text Go's decoders give. */
class BadRequest extends Error {}

/**
 * The request messages of a body, decoded one at a time (as binary-decoded ts-proto objects).
 * Throws BadRequest for a body that does not decode, GrpcError for one over the size limit.
 */
function* requests(
  reg: RegisteredMethod,
  inputType: string,
  body: Buffer,
  maxBytes: number,
): Generator<unknown> {
  const reader = new JsonReader(body.toString('utf8'));
  for (;;) {
    let bytes: Buffer;
    try {
      const value: JsonValue | undefined = reader.next();
      if (value === undefined) return;
      bytes = jsonToProto(inputType, value);
    } catch (err) {
      if (err instanceof JsonSyntaxError || err instanceof JsonDecodeError) throw new BadRequest(err.message);
      throw err;
    }
    if (bytes.length > maxBytes) {
      throw new GrpcError(
        Status.RESOURCE_EXHAUSTED,
        `grpc: received message larger than max (${bytes.length} vs. ${maxBytes})`,
      );
    }
    yield reg.def.requestDeserialize(bytes);
  }
}

/** grpc-gateway wraps a unary or server-streaming call's decode error as InvalidArgument. */
function invalidArgument(err: unknown): unknown {
  return err instanceof BadRequest ? new GrpcError(Status.INVALID_ARGUMENT, err.message) : err;
}

async function callMethod(
  grpc: GrpcServer,
  reg: RegisteredMethod,
  [inputType, outputType]: [string, string],
  req: HttpRequest,
): Promise<HttpResponse> {
  const metadata = metadataOf(req);
  const peer = req.peer ?? 'unknown';
  grpc.reportStarted(reg);
  if (reg.unary) {
    const controller = new AbortController();
    try {
      let first: IteratorResult<unknown>;
      try {
        first = requests(reg, inputType, req.body, grpc.maxReceiveMessageBytes).next();
      } catch (err) {
        throw invalidArgument(err);
      }
      const request = first.done ? reg.def.requestDeserialize(Buffer.alloc(0)) : first.value;
      const response = await reg.unary(request, {
        metadata,
        signal: controller.signal,
        method: reg.path,
        peer,
        // etcd's gateway calls its own gRPC server with the server's certificate, whose CN etcd
        // ignores: a gateway call acts as its token's user, never as a certificate's.
        commonName: undefined,
      });
      grpc.reportHandled(reg, Status.OK);
      return {
        status: 200,
        headers: JSON_HEADERS,
        body: JSON.stringify(protoToJson(outputType, reg.def.responseSerialize(response))),
      };
    } catch (err) {
      const e = toGrpcError(err);
      grpc.reportHandled(reg, e.code);
      return errorResponse(e);
    } finally {
      controller.abort();
    }
  }
  if (!reg.stream) {
    const e = new GrpcError(Status.UNIMPLEMENTED, `unknown method ${reg.name} for service ${reg.service}`);
    grpc.reportHandled(reg, e.code);
    return errorResponse(e);
  }
  // The first request decodes before the call starts. A bidirectional stream's later requests go in
  // as they decode; one that does not decode ends the sending side (grpc-gateway drops it quietly).
  const bidi = reg.def.requestStream;
  const messages = requests(reg, inputType, req.body, grpc.maxReceiveMessageBytes);
  let first: IteratorResult<unknown>;
  try {
    first = messages.next();
  } catch (err) {
    // grpc-gateway passes a bidirectional stream's decode error on unwrapped: code Unknown.
    const e =
      err instanceof BadRequest
        ? bidi
          ? new GrpcError(Status.UNKNOWN, err.message)
          : new GrpcError(Status.INVALID_ARGUMENT, err.message)
        : toGrpcError(err);
    grpc.reportHandled(reg, e.code);
    return errorResponse(e);
  }
  function* rest(): Generator<unknown> {
    if (first.done) {
      // No request at all: a server-streaming call still gets its one (empty) request.
      if (!bidi) yield reg.def.requestDeserialize(Buffer.alloc(0));
      return;
    }
    yield first.value;
    if (!bidi) return;
    try {
      yield* messages;
    } catch {
      // stop sending, as grpc-gateway's send loop does
    }
  }
  const call = new GatewayStream(grpc, reg, outputType, metadata, peer, undefined);
  // The client may leave before the call has anything to send (a watch with no event yet): end it
  // then, as Go's server cancels the request context (otherwise it would hold its slot forever).
  req.signal?.addEventListener('abort', () => call.clientGone(), { once: true });
  return call.run(reg.stream, rest);
}

/** Pieces of a streamed body waiting to be sent, at most this many before `write` says "full". */
const STREAM_QUEUE_MAX = 64;

/** A streaming gRPC call whose other end is an HTTP response of newline-separated JSON chunks. */
class GatewayStream implements StreamCall<unknown, unknown>, HttpBodyStream {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private messageListener: ((m: unknown) => void) | undefined;
  private halfCloseListener: (() => void) | undefined;
  private readonly drainListeners: (() => void)[] = [];
  private closeListeners: (() => void)[] = [];
  private readonly queue: string[] = [];
  private ended = false;
  private done = false;
  private full = false;
  private wake: (() => void) | undefined;
  /** Resolves the HTTP response once the first chunk or the status is known. */
  private respond: ((r: HttpResponse) => void) | undefined;
  private wroteResult = false;

  constructor(
    private readonly grpc: GrpcServer,
    private readonly reg: RegisteredMethod,
    private readonly outputType: string,
    readonly metadata: Record<string, string>,
    readonly peer: string,
    readonly commonName: string | undefined,
  ) {
    this.signal = this.controller.signal;
  }

  get method(): string {
    return this.reg.path;
  }

  get closed(): boolean {
    return this.done;
  }

  run(
    handler: (call: StreamCall<unknown, unknown>) => void,
    messages: () => Generator<unknown>,
  ): Promise<HttpResponse> {
    const response = new Promise<HttpResponse>((resolve) => {
      this.respond = resolve;
    });
    try {
      handler(this);
      for (const m of messages()) {
        if (this.done) break;
        this.messageListener?.(m);
      }
      if (!this.done) this.halfCloseListener?.();
    } catch (err) {
      this.end(toGrpcError(err));
    }
    return response;
  }

  onMessage(listener: (request: unknown) => void): void {
    this.messageListener = listener;
  }
  onHalfClose(listener: () => void): void {
    this.halfCloseListener = listener;
  }
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }
  onClose(listener: () => void): void {
    if (this.done) listener();
    else this.closeListeners.push(listener);
  }

  write(response: unknown): boolean {
    if (this.done) return false;
    const json = protoToJson(this.outputType, this.reg.def.responseSerialize(response));
    const chunk = `${JSON.stringify({ result: json })}\n`;
    if (!this.wroteResult) {
      this.wroteResult = true;
      this.respond?.({ status: 200, headers: JSON_HEADERS, body: chunk, stream: this });
      return true;
    }
    this.push(chunk);
    this.full = this.queue.length >= STREAM_QUEUE_MAX;
    return !this.full;
  }

  end(error?: GrpcError): void {
    if (this.done) return;
    const code = error ? error.code : Status.OK;
    if (!this.wroteResult) {
      // Nothing sent yet: the status line carries the outcome.
      this.respond?.({
        status: error ? httpStatusFromCode(error.code) : 200,
        headers: JSON_HEADERS,
        body: error ? streamErrorChunk(error) : '',
      });
    } else if (error) {
      this.push(streamErrorChunk(error));
    }
    this.ended = true;
    this.wake?.();
    this.finish(code);
  }

  // HttpBodyStream: the transport pulls chunks from here.
  async next(): Promise<string | undefined> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        if (this.full && this.queue.length < STREAM_QUEUE_MAX / 2) {
          this.full = false;
          for (const l of this.drainListeners) l();
        }
        return chunk;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  /**
   * The HTTP client left before the response was complete: if nothing was sent yet, answer (nobody
   * reads it; the transport sees its client gone and cancels the stream, releasing its slot), then
   * cancel the call.
   */
  clientGone(): void {
    if (this.done) return;
    if (!this.wroteResult) {
      this.wroteResult = true;
      this.respond?.({ status: 499, headers: {}, body: '', stream: this });
    }
    this.cancel();
  }

  cancel(): void {
    // The HTTP client went away: the call is cancelled, as a gRPC client's RST_STREAM would.
    this.ended = true;
    this.wake?.();
    this.finish(Status.CANCELLED);
  }

  private push(chunk: string): void {
    this.queue.push(chunk);
    this.wake?.();
  }

  private finish(code: Status): void {
    if (this.done) return;
    this.done = true;
    this.controller.abort();
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l();
    this.grpc.reportHandled(this.reg, code);
  }
}
