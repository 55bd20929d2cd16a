/**
 * The channels and the call path every service of the client shares: building grpc-js channels on
 * an address book or a dns:/// target with the chosen policy in the service config, replacing them
 * after the maximum connection age, the auth token, and retries exactly where clientv3 retries.
 */
import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  Client as GrpcClient,
  Metadata,
} from '@grpc/grpc-js';
import { type Clock, realClock } from '../pkg/index.js';
import { Status } from '../wire/index.js';
import { AddressBook, type BookView, parseEndpoint, registerBookResolver } from './endpoints.js';
import { type EtcdError, fromGrpc } from './errors.js';
import type { ClientOptions, LbPolicy } from './options.js';
import { H2Transport } from './transport-h2.js';

/** A generated grpc-js method definition (from src/proto's `*Service` objects). */
export interface MethodDef<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(v: Req): Buffer;
  responseDeserialize(b: Buffer): Res;
}

/** Per-call options. */
export interface CallOpts {
  /** Relative deadline in ms; default the client's callTimeoutMs (none). */
  deadlineMs?: number;
  /** Aborts the call (rejects with CANCELLED). */
  signal?: AbortSignal;
  /** For this call: retry even though it is a mutation. */
  retry?: boolean;
}

/** How one call is sent: which view of the members, and whether it changes state. */
export interface CallKind {
  /** 'all' lets a learner answer (serializable reads only). Default 'voters'. */
  view?: BookView;
  /** A mutation is sent at most once unless retries are asked for. */
  mutation: boolean;
  /** Send without the auth token (Authenticate itself). */
  noAuth?: boolean;
}

/** Grace for calls in flight on a channel replaced for age, before it is closed, in ms. */
export const OLD_CHANNEL_GRACE_MS = 10_000;
/** First and largest pause before reconnecting to a member that went away, in ms. */
export const RECONNECT_BACKOFF_MS = 100;
export const RECONNECT_BACKOFF_MAX_MS = 3000;
/** Default attempts for retryable calls (first one included). */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** True for the errors clientv3 retries: UNAVAILABLE (no leader, leader changed, no connection) and "too many requests". */
export function isRetryable(e: EtcdError): boolean {
  return e.code === Status.UNAVAILABLE || e.kind === 'tooManyRequests';
}

/** The service config JSON that selects a grpc-js policy. */
export function serviceConfigFor(policy: LbPolicy): string {
  return JSON.stringify({ loadBalancingConfig: [{ [policy]: {} }] });
}

function channelCredentials(o: ClientOptions, secureByScheme: boolean): ChannelCredentials {
  const tls = o.tls;
  if (tls === undefined && !secureByScheme) return credentials.createInsecure();
  const verify = tls?.insecureSkipVerify
    ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
    : {};
  return credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null, verify);
}

interface Channels {
  voters: GrpcClient;
  all: GrpcClient;
}

/** Owns the channels; services call `unary`, `stream` and `bidi` on it. */
export class Connection {
  readonly book: AddressBook | undefined;
  readonly clock: Clock;
  private readonly dnsTarget: string | undefined;
  private channels: Channels;
  /** The lean unary transport, when it serves this client's configuration (see usesH2Transport). */
  private readonly h2: H2Transport | undefined;
  private readonly creds: ChannelCredentials;
  private readonly channelOptions: ChannelOptions;
  private token: string | undefined;
  private authenticating: Promise<void> | undefined;
  private ageTimer: { clear(): void } | undefined;
  private readonly oldTimers = new Set<{ clear(): void }>();
  private closed = false;
  /** Called on every channel replacement (streams may move over). */
  readonly onRotate = new Set<() => void>();
  /** Set by the client to fetch a token: Authenticate through this connection. */
  authenticate: (() => Promise<string>) | undefined;

  constructor(
    readonly options: ClientOptions,
    endpoints: string[],
  ) {
    this.clock = options.clock ?? realClock;
    registerBookResolver();
    let secure = false;
    if (endpoints.length === 1 && endpoints[0]!.startsWith('dns:')) {
      this.dnsTarget = endpoints[0];
    } else {
      if (endpoints.length === 0) throw new Error('tsetcd client: no endpoints');
      const addrs = endpoints.map(parseEndpoint);
      secure = addrs.some((a) => a.secure);
      this.book = new AddressBook(addrs.map(({ host, port }) => ({ host, port })));
    }
    this.creds = channelCredentials(options, secure);
    const ka = options.keepAlive;
    this.channelOptions = {
      'grpc.service_config': serviceConfigFor(options.lbPolicy ?? 'round_robin'),
      'grpc.max_receive_message_length': options.maxResponseBytes ?? 2 ** 31 - 1,
      'grpc.max_send_message_length': 2 ** 31 - 1,
      // Every Client gets its own channel and subchannels, so two clients (or a rotated channel)
      // never share a connection by accident.
      'grpc.use_local_subchannel_pool': 1,
      // Reconnect to a restarted member quickly: grpc-js's default first backoff (1 s, then x1.6 up
      // to 120 s) outlasts the retry budget of a call; etcd's clientv3 caps its dial backoff at 3 s.
      'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS,
      'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MAX_MS,
      ...(options.tls?.serverName ? { 'grpc.ssl_target_name_override': options.tls.serverName } : {}),
      ...(ka?.timeMs !== undefined
        ? {
            'grpc.keepalive_time_ms': ka.timeMs,
            'grpc.keepalive_timeout_ms': ka.timeoutMs ?? 20_000,
            'grpc.keepalive_permit_without_calls': ka.permitWithoutCalls ? 1 : 0,
          }
        : {}),
    };
    this.channels = this.makeChannels();
    this.h2 =
      this.book !== undefined && usesH2Transport(options, secure)
        ? new H2Transport(
            this.book,
            options.lbPolicy ?? 'round_robin',
            { initialMs: RECONNECT_BACKOFF_MS, maxMs: RECONNECT_BACKOFF_MAX_MS },
            options.maxResponseBytes ?? 2 ** 31 - 1,
          )
        : undefined;
    this.scheduleAge();
  }

  private makeChannels(): Channels {
    const target = (view: BookView) => this.dnsTarget ?? this.book!.target(view);
    const voters = new GrpcClient(target('voters'), this.creds, this.channelOptions);
    // Without a book (dns:///) there are no learners to tell apart: both views are one channel.
    const all = this.book ? new GrpcClient(target('all'), this.creds, this.channelOptions) : voters;
    return { voters, all };
  }

  private scheduleAge(): void {
    const age = this.options.maxConnectionAgeMs;
    if (age === undefined || age <= 0 || this.closed) return;
    const jittered = age * (0.9 + 0.2 * Math.random());
    this.ageTimer = this.clock.setTimeout(() => {
      this.rotate();
      this.scheduleAge();
    }, jittered);
  }

  /** Replaces the channels now (new connections, DNS resolved again); old ones close after a grace. */
  rotate(): void {
    if (this.closed) return;
    const old = this.channels;
    this.channels = this.makeChannels();
    this.h2?.rotate();
    const t = this.clock.setTimeout(() => {
      this.oldTimers.delete(t);
      closeChannels(old);
    }, OLD_CHANNEL_GRACE_MS);
    this.oldTimers.add(t);
    for (const f of this.onRotate) f();
  }

  /** The grpc-js client of a view (for streams). */
  channel(view: BookView = 'voters'): GrpcClient {
    if (this.closed) throw closedError();
    return this.channels[view];
  }

  /** Metadata for a call: the auth token when there is one. */
  async metadata(): Promise<Metadata> {
    const md = new Metadata();
    if (this.options.auth && this.token === undefined) await this.refreshToken();
    if (this.token !== undefined) md.set('token', this.token);
    return md;
  }

  /** Fetches a new token (one fetch at a time). */
  async refreshToken(): Promise<void> {
    if (!this.authenticate) return;
    this.authenticating ??= this.authenticate()
      .then((t) => {
        this.token = t;
      })
      .finally(() => {
        this.authenticating = undefined;
      });
    await this.authenticating;
  }

  /** Sets or clears the token directly (Client.auth.authenticate does this). */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  callOptions(opts: CallOpts): CallOptions {
    const ms = opts.deadlineMs ?? this.options.callTimeoutMs;
    return ms === undefined ? {} : { deadline: new Date(Date.now() + ms) };
  }

  /**
   * One unary call with clientv3's retry rules: retryable errors (UNAVAILABLE, too many requests)
   * are retried with backoff for reads, and for mutations only when asked; "invalid auth token"
   * renews the token and tries once more. Rejects with an EtcdError.
   */
  async unary<Req, Res>(
    def: MethodDef<Req, Res>,
    req: Req,
    kind: CallKind,
    opts: CallOpts = {},
  ): Promise<Res> {
    const r = this.options.retry ?? {};
    const retries = !kind.mutation || opts.retry === true || r.retryMutations === true;
    const maxAttempts = retries ? Math.max(1, r.maxAttempts ?? DEFAULT_MAX_ATTEMPTS) : 1;
    let reauthed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.unaryOnce(def, req, kind.view ?? 'voters', opts, kind.noAuth === true);
      } catch (e) {
        const err = fromGrpc(e);
        if (err.kind === 'invalidAuthToken' && this.options.auth && !reauthed && !kind.noAuth) {
          reauthed = true;
          this.token = undefined;
          await this.refreshToken();
          attempt--;
          continue;
        }
        if (attempt >= maxAttempts || !isRetryable(err) || opts.signal?.aborted || this.closed) throw err;
        await this.clock.sleep(backoffMs(attempt, r.baseDelayMs ?? 25, r.maxDelayMs ?? 1000));
      }
    }
  }

  private unaryOnce<Req, Res>(
    def: MethodDef<Req, Res>,
    req: Req,
    view: BookView,
    opts: CallOpts,
    noAuth: boolean,
  ): Promise<Res> {
    if (!noAuth && this.options.auth !== undefined && this.token === undefined && this.authenticate) {
      return this.refreshToken().then(() => this.unaryOnce(def, req, view, opts, noAuth));
    }
    const token = noAuth ? undefined : this.token;
    const h2 = this.h2;
    if (h2 !== undefined) {
      if (this.closed) return Promise.reject(closedError());
      const ms = opts.deadlineMs ?? this.options.callTimeoutMs;
      const o = { deadline: ms === undefined ? undefined : Date.now() + ms, signal: opts.signal, token };
      return new Promise<Res>((resolve, reject) => {
        h2.unary(def, req, view, o, (err, res) => (err ? reject(err) : resolve(res as Res)));
      });
    }
    const md = new Metadata();
    if (token !== undefined) md.set('token', token);
    const ch = this.channel(view);
    return new Promise<Res>((resolve, reject) => {
      const call = ch.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        md,
        this.callOptions(opts),
        (err, res) => {
          opts.signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve(res as Res);
        },
      );
      const onAbort = () => call.cancel();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes every channel; calls in flight fail with CANCELLED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ageTimer?.clear();
    for (const t of this.oldTimers) t.clear();
    this.oldTimers.clear();
    closeChannels(this.channels);
    this.h2?.close();
    this.book?.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function closedError(): EtcdError {
  return fromGrpc({ code: Status.CANCELLED, details: 'tsetcd client: closed' });
}

/**
 * Whether unary calls take the lean node:http2 transport (src/client/transport-h2.ts): unless the
 * caller asks for grpc-js, for plaintext address-book clients without keep-alive pings. TLS,
 * keep-alive and dns:/// targets stay on grpc-js channels (as every stream does).
 */
export function usesH2Transport(o: ClientOptions, secureByScheme: boolean): boolean {
  return (
    (o.transport ?? 'h2') === 'h2' &&
    o.tls === undefined &&
    !secureByScheme &&
    o.keepAlive?.timeMs === undefined
  );
}

function closeChannels(c: Channels): void {
  c.voters.close();
  if (c.all !== c.voters) c.all.close();
}

/** Exponential backoff with ±20% jitter: base·2^(attempt-1), capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20));
  return d * (0.8 + 0.4 * Math.random());
}
