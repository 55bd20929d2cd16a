/**
 * The lean unary transport: etcd's unary calls as gRPC over `node:http2` directly, one session per
 * member, balanced by the same two policies as the grpc-js channels (`round_robin`, `pick_first`).
 *
 * Why: a unary call through grpc-js passes a resolving call, a retrying call, a load-balancing call,
 * a subchannel call, filters, a call-credentials promise and a Metadata copy; measured on a single
 * member (see src/client/README.md) that is about half of the client's CPU per request. This path
 * sends the same bytes (HEADERS with :path, content-type application/grpc, te, grpc-timeout and the
 * auth token; one length-prefixed DATA frame) and reads grpc-status/grpc-message from the trailers
 * (or from a trailers-only answer's headers).
 *
 * Scope: plaintext address-book clients without HTTP/2 keep-alive pings (`usesH2Transport`). Streams
 * (watch, lease keep-alive, snapshot) always go through grpc-js, and so does everything when TLS,
 * keep-alive or a `dns:///` target is configured.
 *
 *   link state:   idle ──connect()──► connecting ──'connect'──► ready
 *                   ▲                      │                      │ error, close, goaway
 *                   └──── backoff timer ◄──┴──────── failure ◄────┘
 *
 * Policies, as grpc-js's:
 * - round_robin connects every member of the view and sends each call to the next ready one in
 *   turn; while none is ready but some connect, calls wait; when all failed they fail UNAVAILABLE.
 * - pick_first pins the first member (in book order) that is ready, and sends every call there
 *   while its connection lives; on its loss the next call pins again, walking the list in order.
 *   It dials one member at a time, the next one when the previous failed or has been connecting
 *   for PICK_FIRST_NEXT_DIAL_MS; a dial is abandoned after CONNECT_TIMEOUT_MS.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { decodeGrpcMessage, grpcFrame, Status } from '../wire/index.js';
import type { Address, AddressBook, BookView } from './endpoints.js';
import type { LbPolicy } from './options.js';

/** The parts of a generated method definition this transport needs. */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(v: Req): Buffer;
  responseDeserialize(b: Buffer): Res;
}

/** A failed call, shaped as grpc-js's ServiceError (`code`, `details`) so `fromGrpc` reads it. */
export interface CallError extends Error {
  code: number;
  details: string;
}

/** Builds a CallError with grpc-js's message form ("14 UNAVAILABLE: ..."). */
export function callError(code: number, details: string): CallError {
  const e = new Error(`${code} ${Status[code] ?? 'UNKNOWN'}: ${details}`) as CallError;
  e.code = code;
  e.details = details;
  return e;
}

/** How members are dialled. */
export interface H2Backoff {
  /** First pause before a failed member is dialled again, in ms (as the grpc-js channels). */
  initialMs: number;
  /** Largest such pause, in ms. */
  maxMs: number;
  /** Abandon a dial after this long, in ms; default CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Opens a session to `authority` (http://host:port); default node:http2's connect. A test seam. */
  dial?: (authority: string) => ClientHttp2Session;
}

function dialH2(authority: string): ClientHttp2Session {
  // grpc-js lifts the session memory cap too: large ranges must not reset the connection.
  return http2.connect(authority, { maxSessionMemory: Number.MAX_SAFE_INTEGER });
}

/** Reconnect backoff growth per failure (grpc-js's multiplier). */
const BACKOFF_MULTIPLIER = 1.6;
/** A dial that has neither connected nor failed by then is abandoned, in ms (grpc-js's minimum connect timeout). */
export const CONNECT_TIMEOUT_MS = 20_000;
/**
 * pick_first dials the next member too when the one before it has been connecting this long, in ms
 * (grpc-js's pick_first "happy eyeballs" delay); the first in book order to connect is pinned.
 */
export const PICK_FIRST_NEXT_DIAL_MS = 250;
/** Calls waiting for a connection, at most (each rejects RESOURCE_EXHAUSTED beyond this). */
export const PENDING_PICKS_MAX = 100_000;

type LinkState = 'idle' | 'connecting' | 'ready' | 'failure';

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_TE,
  HTTP2_HEADER_STATUS,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
} = http2.constants;

/** One member's connection: a session when ready, a backoff timer after a failure. */
class H2Link {
  state: LinkState = 'idle';
  session: ClientHttp2Session | undefined;
  lastError = '';
  /** Calls in flight on this link: the session is ref'd while there are any (grpc-js does the same). */
  active = 0;
  /** The current dial has been connecting for PICK_FIRST_NEXT_DIAL_MS (set by its timer, not by reading a clock). */
  dialSlow = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly address: Address,
    private readonly backoff: H2Backoff,
    private readonly onChange: () => void,
  ) {
    this.backoffMs = backoff.initialMs;
  }

  /** Dials if idle; does nothing while connecting, ready or waiting out a backoff. */
  connect(): void {
    if (this.state !== 'idle' || this.closed) return;
    this.state = 'connecting';
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    let session: ClientHttp2Session;
    try {
      session = (this.backoff.dial ?? dialH2)(`http://${host}:${this.address.port}`);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.fail();
      return;
    }
    this.session = session;
    this.dialSlow = false;
    session.unref();
    // A dial that neither connects nor fails (a blackholed address) gives up after the connect
    // timeout; pick_first looks past it after PICK_FIRST_NEXT_DIAL_MS (see H2Transport.pickNow).
    const giveUp = setTimeout(
      () => session.destroy(new Error('connect timeout')),
      this.backoff.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    );
    const nudge = setTimeout(() => {
      if (this.session !== session || this.state !== 'connecting') return;
      this.dialSlow = true;
      this.onChange();
    }, PICK_FIRST_NEXT_DIAL_MS);
    giveUp.unref();
    nudge.unref();
    session.once('connect', () => {
      clearTimeout(giveUp);
      clearTimeout(nudge);
      if (this.session !== session) return;
      this.state = 'ready';
      this.backoffMs = this.backoff.initialMs;
      this.onChange();
    });
    const lost = (why: string) => {
      clearTimeout(giveUp);
      clearTimeout(nudge);
      if (this.session !== session) return;
      this.session = undefined;
      this.lastError = why;
      if (!session.destroyed) session.close();
      this.fail();
    };
    session.on('error', (e: Error) => lost(e.message));
    session.once('goaway', () => lost('server sent GOAWAY'));
    session.once('close', () => lost('connection closed'));
  }

  private fail(): void {
    if (this.closed) return;
    this.state = 'failure';
    const wait = this.backoffMs * (0.8 + 0.4 * Math.random());
    this.backoffMs = Math.min(this.backoff.maxMs, this.backoffMs * BACKOFF_MULTIPLIER);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.state = 'idle';
      this.onChange();
    }, wait);
    this.timer.unref();
    this.onChange();
  }

  /** Stops dialling; `graceful` lets calls in flight finish (the session closes after them). */
  close(graceful: boolean): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.session;
    this.session = undefined;
    this.state = 'failure';
    if (s === undefined) return;
    if (graceful) s.close();
    else s.destroy();
  }
}

interface PendingPick {
  view: BookView;
  resolve(link: H2Link): void;
  reject(e: CallError): void;
}

/** Per-call options of `H2Transport.unary`. */
export interface H2CallOptions {
  /** Absolute deadline, ms since the epoch (Date.now()). */
  deadline?: number;
  signal?: AbortSignal;
  /** The auth token to send as the `token` header. */
  token?: string;
}

/** Balances unary calls over an address book's members on one HTTP/2 session each. */
export class H2Transport {
  private links = new Map<string, H2Link>();
  private readonly pending: PendingPick[] = [];
  /** round_robin: the index of the next member to try, per view. */
  private readonly next: Record<BookView, number> = { voters: 0, all: 0 };
  /** pick_first: the pinned link, per view. */
  private readonly pinned: Record<BookView, H2Link | undefined> = { voters: undefined, all: undefined };
  private views: Record<BookView, H2Link[] | undefined> = { voters: undefined, all: undefined };
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly book: AddressBook,
    private readonly policy: LbPolicy,
    private readonly backoff: H2Backoff,
    /** Largest response message accepted, in bytes. */
    private readonly maxResponseBytes: number,
  ) {
    this.unsubscribe = book.subscribe(() => this.syncBook());
  }

  private keyOf(a: Address): string {
    return `${a.host}:${a.port}`;
  }

  private linkOf(a: Address): H2Link {
    const key = this.keyOf(a);
    let link = this.links.get(key);
    if (link === undefined) {
      link = new H2Link(a, this.backoff, () => this.onLinkChange());
      this.links.set(key, link);
    }
    return link;
  }

  /** The links of a view in book order (cached until the book changes or the links rotate). */
  private viewLinks(view: BookView): H2Link[] {
    let l = this.views[view];
    if (l === undefined) {
      l = this.book.list(view).map((a) => this.linkOf(a));
      this.views[view] = l;
    }
    return l;
  }

  /** Members removed from the book lose their links (calls in flight on them finish first). */
  private syncBook(): void {
    const keep = new Set(this.book.list('all').map((a) => this.keyOf(a)));
    for (const [key, link] of this.links) {
      if (keep.has(key)) continue;
      this.links.delete(key);
      link.close(true);
      for (const v of ['voters', 'all'] as const) if (this.pinned[v] === link) this.pinned[v] = undefined;
    }
    this.views = { voters: undefined, all: undefined };
    this.onLinkChange();
  }

  /** The link a call goes to now, or undefined when none is ready (connections are started). */
  pickNow(view: BookView): H2Link | undefined {
    const list = this.viewLinks(view);
    const n = list.length;
    if (this.policy === 'pick_first') {
      const pin = this.pinned[view];
      if (pin !== undefined && pin.state === 'ready') return pin;
      this.pinned[view] = undefined;
      // In book order: the first ready member wins; else dial the first one that may be dialled.
      let dialled = false;
      for (let i = 0; i < n; i++) {
        const link = list[i]!;
        if (link.state === 'ready') {
          this.pinned[view] = link;
          return link;
        }
        if (dialled) continue;
        if (link.state === 'idle') {
          link.connect();
          dialled = true;
        } else if (link.state === 'connecting') {
          // Wait for this dial, unless it has taken long enough to try the next member as well.
          dialled = !link.dialSlow;
        }
      }
      return undefined;
    }
    // round_robin: the next ready member after the last one used; every idle member is dialled.
    let found: H2Link | undefined;
    const start = this.next[view];
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const link = list[i]!;
      if (link.state === 'ready') {
        if (found === undefined) {
          found = link;
          this.next[view] = i + 1;
        }
      } else if (link.state === 'idle') link.connect();
    }
    return found;
  }

  /** Whether any member of the view is connecting or ready (or may be dialled at once). */
  private anyHope(view: BookView): boolean {
    for (const link of this.viewLinks(view)) if (link.state !== 'failure') return true;
    return false;
  }

  private onLinkChange(): void {
    if (this.closed) return;
    // round_robin keeps every member connected (grpc-js's policy dials an idle subchannel at once).
    if (this.policy === 'round_robin')
      for (const l of this.viewLinks('all')) if (l.state === 'idle') l.connect();
    if (this.pending.length === 0) return;
    const waiting = this.pending.splice(0);
    for (const p of waiting) this.pickOrWait(p);
  }

  private pickOrWait(p: PendingPick): void {
    if (this.closed) {
      p.reject(callError(Status.CANCELLED, 'tsetcd client: closed'));
      return;
    }
    const link = this.pickNow(p.view);
    if (link !== undefined) {
      p.resolve(link);
      return;
    }
    if (!this.anyHope(p.view)) {
      p.reject(this.noConnection(p.view));
      return;
    }
    if (this.pending.length >= PENDING_PICKS_MAX) {
      p.reject(
        callError(Status.RESOURCE_EXHAUSTED, 'tsetcd client: too many calls waiting for a connection'),
      );
      return;
    }
    this.pending.push(p);
  }

  private noConnection(view: BookView): CallError {
    const errs = this.book
      .list(view)
      .map((a) => this.links.get(this.keyOf(a))?.lastError)
      .filter((e) => e);
    const last = errs.length > 0 ? `. Last error: ${errs[errs.length - 1]}` : '';
    return callError(Status.UNAVAILABLE, `No connection established${last}`);
  }

  /**
   * Sends one unary call; `done` is called exactly once with the error or the decoded response.
   * Errors are CallErrors (code + details): the server's grpc-status and grpc-message, or the
   * transport's (UNAVAILABLE without a connection, DEADLINE_EXCEEDED, CANCELLED on abort).
   */
  unary<Req, Res>(
    def: UnaryMethod<Req, Res>,
    req: Req,
    view: BookView,
    o: H2CallOptions,
    done: (err: CallError | null, res?: Res) => void,
  ): void {
    if (this.closed) {
      done(callError(Status.CANCELLED, 'tsetcd client: closed'));
      return;
    }
    let frame: Buffer;
    try {
      frame = grpcFrame(def.requestSerialize(req));
    } catch (e) {
      done(callError(Status.INTERNAL, `Request message serialization failure: ${(e as Error).message}`));
      return;
    }
    const link = this.pickNow(view);
    if (link !== undefined) {
      this.send(link, def, frame, o, done);
      return;
    }
    // Wait for a connection, bounded by the deadline and the abort signal.
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: CallError | null, l?: H2Link) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) {
        const i = this.pending.indexOf(p);
        if (i >= 0) this.pending.splice(i, 1);
        done(err);
        return;
      }
      this.send(l!, def, frame, o, done);
    };
    const onAbort = () => finish(callError(Status.CANCELLED, 'Cancelled on client'));
    const p: PendingPick = { view, resolve: (l) => finish(null, l), reject: (e) => finish(e) };
    if (o.deadline !== undefined) {
      timer = setTimeout(() => finish(deadlineError()), Math.max(0, o.deadline - Date.now()));
    }
    if (o.signal?.aborted) {
      onAbort();
      return;
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });
    this.pickOrWait(p);
  }

  private send<Req, Res>(
    link: H2Link,
    def: UnaryMethod<Req, Res>,
    frame: Buffer,
    o: H2CallOptions,
    done: (err: CallError | null, res?: Res) => void,
  ): void {
    const session = link.session!;
    const headers: Record<string, string> = {
      [HTTP2_HEADER_METHOD]: 'POST',
      [HTTP2_HEADER_PATH]: def.path,
      [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [HTTP2_HEADER_TE]: 'trailers',
    };
    if (o.deadline !== undefined) {
      const ms = o.deadline - Date.now();
      if (ms <= 0) {
        done(deadlineError());
        return;
      }
      headers['grpc-timeout'] = `${Math.ceil(ms)}m`;
    }
    if (o.token !== undefined) headers.token = o.token;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch (e) {
      // Out of stream ids, or the session closed under us: not sent, so UNAVAILABLE.
      session.close();
      done(callError(Status.UNAVAILABLE, (e as Error).message));
      return;
    }
    if (link.active++ === 0) session.ref();
    let httpStatus = 0;
    let grpcStatus = -1;
    let grpcMessage = '';
    let chunks: Buffer[] | Buffer | undefined;
    let settled: CallError | null | undefined;
    let timer: NodeJS.Timeout | undefined;
    const statusFrom = (h: IncomingHttpHeaders) => {
      const s = h['grpc-status'];
      if (s === undefined) return;
      grpcStatus = Number(s);
      const m = h['grpc-message'];
      if (typeof m === 'string') grpcMessage = decodeGrpcMessage(m);
    };
    const cancel = (err: CallError) => {
      settled ??= err;
      stream.close(NGHTTP2_CANCEL);
    };
    const onAbort = () => cancel(callError(Status.CANCELLED, 'Cancelled on client'));
    stream.on('response', (h) => {
      httpStatus = Number(h[HTTP2_HEADER_STATUS]);
      statusFrom(h);
    });
    stream.on('trailers', statusFrom);
    stream.on('data', (c: Buffer) => {
      if (chunks === undefined) chunks = c;
      else if (Array.isArray(chunks)) chunks.push(c);
      else chunks = [chunks, c];
    });
    stream.on('error', () => {
      // Reported by 'close' (rstCode and the session's state say what happened).
    });
    stream.on('close', () => {
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (--link.active === 0 && !session.destroyed) session.unref();
      if (settled) {
        done(settled);
        return;
      }
      if (this.closed) {
        done(callError(Status.CANCELLED, 'tsetcd client: closed'));
        return;
      }
      if (grpcStatus === -1) {
        done(streamError(stream.rstCode, httpStatus, session));
        return;
      }
      if (grpcStatus !== Status.OK) {
        done(callError(grpcStatus, grpcMessage));
        return;
      }
      const body = Array.isArray(chunks) ? Buffer.concat(chunks) : chunks;
      if (body === undefined || body.length < 5) {
        done(callError(Status.UNIMPLEMENTED, 'No message received'));
        return;
      }
      if (body[0] !== 0) {
        done(callError(Status.INTERNAL, 'Compressed message received without grpc-encoding'));
        return;
      }
      const len = body.readUInt32BE(1);
      if (len > this.maxResponseBytes) {
        done(
          callError(
            Status.RESOURCE_EXHAUSTED,
            `Received message larger than max (${len} vs ${this.maxResponseBytes})`,
          ),
        );
        return;
      }
      let res: Res;
      try {
        res = def.responseDeserialize(body.subarray(5, 5 + len));
      } catch (e) {
        done(callError(Status.INTERNAL, `Response message parsing error: ${(e as Error).message}`));
        return;
      }
      done(null, res);
    });
    if (o.deadline !== undefined) {
      timer = setTimeout(() => cancel(deadlineError()), Math.max(0, o.deadline - Date.now()));
    }
    if (o.signal !== undefined) {
      if (o.signal.aborted) onAbort();
      else o.signal.addEventListener('abort', onAbort, { once: true });
    }
    stream.end(frame);
  }

  /** New sessions from now on (max connection age); calls in flight finish on the old ones. */
  rotate(): void {
    for (const link of this.links.values()) link.close(true);
    this.links = new Map();
    this.views = { voters: undefined, all: undefined };
    this.pinned.voters = undefined;
    this.pinned.all = undefined;
  }

  /** Closes every session at once; calls in flight and waiting fail with CANCELLED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const link of this.links.values()) link.close(false);
    this.links.clear();
    for (const p of this.pending.splice(0)) p.reject(callError(Status.CANCELLED, 'tsetcd client: closed'));
  }
}

function deadlineError(): CallError {
  return callError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded');
}

/** The status of a stream that ended without grpc-status, as grpc-js words it. */
function streamError(rstCode: number, httpStatus: number, session: ClientHttp2Session): CallError {
  if (session.destroyed || session.closed) return callError(Status.UNAVAILABLE, 'Connection dropped');
  switch (rstCode) {
    case NGHTTP2_REFUSED_STREAM:
      return callError(Status.UNAVAILABLE, 'Stream refused by server');
    case NGHTTP2_CANCEL:
      return callError(Status.CANCELLED, 'Call cancelled');
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return callError(Status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case NGHTTP2_INADEQUATE_SECURITY:
      return callError(Status.PERMISSION_DENIED, 'Protocol not secure enough');
    default:
      if (httpStatus !== 0 && httpStatus !== 200) {
        return callError(Status.UNKNOWN, `Received HTTP status code ${httpStatus}`);
      }
      return callError(
        Status.INTERNAL,
        `Received RST_STREAM with code ${rstCode} (Call ended without gRPC status)`,
      );
  }
}
