/**
 * Leases with automatic keep-alive and an explicit loss signal. A `Lease` from `grant()` keeps itself
 * alive on a stream of its own (a keep-alive every TTL/3) and resolves `lost` exactly once when it is
 * gone: the server answered TTL <= 0 (expired or revoked elsewhere), or no keep-alive succeeded
 * before the deadline the last answer gave (the member paused, the cluster unreachable) — so the
 * holder of a lock can stop acting before someone else takes it.
 *
 * ```ts
 * const lease = await client.lease.grant(10);
 * lease.lost.then((e) => console.error(e.message));   // never rejects
 * await client.kv.put('me', 'here', { lease: lease.id });
 * await lease.revoke();
 * ```
 */
import type { CallOptions, ClientDuplexStream, Metadata } from '@grpc/grpc-js';
import type { Timer } from '../pkg/index.js';
import {
  LeaseGrantRequest,
  type LeaseGrantResponse,
  LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  LeaseRevokeRequest,
  type LeaseRevokeResponse,
  LeaseService,
  LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
} from '../proto/etcdserverpb/rpc.js';
import { backoffMs, type CallOpts, type Connection } from './connection.js';
import { fromGrpc, LeaseLostError } from './errors.js';

/** Options of `grant`. */
export interface GrantOptions extends CallOpts {
  /** Ask for this lease id (0n or absent: the server picks). */
  id?: bigint;
  /** Keep the lease alive until revoked or closed; default true. */
  keepAlive?: boolean;
}

/** A granted lease, kept alive unless `keepAlive: false`. */
export class Lease {
  /** Resolves (never rejects) with the reason once the lease is known or presumed gone. */
  readonly lost: Promise<LeaseLostError>;
  /** The TTL the server granted, in seconds. */
  readonly grantedTtl: bigint;
  /** When the lease expires at the latest unless renewed: clock ms (Connection.clock.now()). */
  deadlineMs: number;
  /** Successful keep-alives so far. */
  keepAlives = 0;
  private signalLost!: (e: LeaseLostError) => void;
  private isLost = false;
  private stream: ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse> | undefined;
  private tick: Timer | undefined;
  private deadlineTimer: Timer | undefined;
  private attempt = 0;
  private closed = false;

  constructor(
    private readonly conn: Connection,
    readonly id: bigint,
    ttl: bigint,
    keepAlive: boolean,
  ) {
    this.grantedTtl = ttl;
    this.lost = new Promise((resolve) => {
      this.signalLost = resolve;
    });
    this.deadlineMs = conn.clock.now() + Number(ttl) * 1000;
    this.armDeadline();
    if (keepAlive) this.startKeepAlive();
  }

  /** Registers a callback for the loss (called at most once). */
  onLost(fn: (e: LeaseLostError) => void): void {
    void this.lost.then(fn);
  }

  private armDeadline(): void {
    this.deadlineTimer?.clear();
    const ms = Math.max(0, this.deadlineMs - this.conn.clock.now());
    this.deadlineTimer = this.conn.clock.setTimeout(() => this.markLost('keepalive-timeout'), ms);
  }

  private markLost(reason: LeaseLostError['reason']): void {
    if (this.isLost) return;
    this.isLost = true;
    this.stopKeepAlive();
    this.deadlineTimer?.clear();
    this.signalLost(new LeaseLostError(this.id, reason));
  }

  private startKeepAlive(): void {
    if (this.closed || this.isLost) return;
    const interval = Math.max(500, (Number(this.grantedTtl) * 1000) / 3);
    this.openStream();
    this.tick = this.conn.clock.setInterval(() => this.sendKeepAlive(), interval);
  }

  private openStream(): void {
    if (this.closed || this.isLost) return;
    this.conn.metadata().then(
      (md) => {
        if (this.closed || this.isLost) return;
        const s = this.keepAliveStream(md, {});
        this.stream = s;
        s.on('data', (r: LeaseKeepAliveResponse) => this.onResponse(r));
        const broken = () => {
          if (this.stream !== s) return;
          this.stream = undefined;
          this.attempt++;
          this.conn.clock.setTimeout(() => this.openStream(), backoffMs(this.attempt, 100, 1000));
        };
        s.on('error', broken);
        s.on('end', broken);
        this.sendKeepAlive();
      },
      () => {
        this.attempt++;
        this.conn.clock.setTimeout(() => this.openStream(), backoffMs(this.attempt, 100, 1000));
      },
    );
  }

  private sendKeepAlive(): void {
    this.stream?.write(LeaseKeepAliveRequest.fromPartial({ ID: this.id }));
  }

  private onResponse(r: LeaseKeepAliveResponse): void {
    if (r.ID !== this.id) return;
    if (r.TTL <= 0n) {
      this.markLost('expired');
      return;
    }
    this.attempt = 0;
    this.keepAlives++;
    this.deadlineMs = this.conn.clock.now() + Number(r.TTL) * 1000;
    this.armDeadline();
  }

  private stopKeepAlive(): void {
    this.tick?.clear();
    this.tick = undefined;
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
  }

  /** A LeaseKeepAlive stream on a voter's channel. */
  private keepAliveStream(md: Metadata, options: CallOptions) {
    return this.conn
      .channel('voters')
      .makeBidiStreamRequest(
        LeaseService.leaseKeepAlive.path,
        LeaseService.leaseKeepAlive.requestSerialize,
        LeaseService.leaseKeepAlive.responseDeserialize,
        md,
        options,
      );
  }

  /** One keep-alive over a unary-looking exchange (the stream's next answer). */
  async keepAliveOnce(): Promise<LeaseKeepAliveResponse> {
    const md = await this.conn.metadata();
    return new Promise((resolve, reject) => {
      const s = this.keepAliveStream(md, this.conn.callOptions({ deadlineMs: 5000 }));
      s.on('data', (r: LeaseKeepAliveResponse) => {
        s.cancel();
        if (r.TTL <= 0n) this.markLost('expired');
        resolve(r);
      });
      s.on('error', (e) => reject(fromGrpc(e)));
      s.write(LeaseKeepAliveRequest.fromPartial({ ID: this.id }));
    });
  }

  /** Revokes the lease (its keys are deleted) and stops keeping it alive. */
  async revoke(o: CallOpts = {}): Promise<LeaseRevokeResponse> {
    this.closed = true;
    this.stopKeepAlive();
    try {
      return await this.conn.unary(
        LeaseService.leaseRevoke,
        LeaseRevokeRequest.fromPartial({ ID: this.id }),
        { mutation: true },
        o,
      );
    } finally {
      this.markLost('revoked');
    }
  }

  timeToLive(o: CallOpts & { keys?: boolean } = {}): Promise<LeaseTimeToLiveResponse> {
    return timeToLive(this.conn, this.id, o);
  }

  /** Stops keeping the lease alive without revoking it (it expires after its TTL); `lost` resolves 'closed'. */
  close(): void {
    this.closed = true;
    this.markLost('closed');
  }
}

function timeToLive(
  conn: Connection,
  id: bigint,
  o: CallOpts & { keys?: boolean },
): Promise<LeaseTimeToLiveResponse> {
  return conn.unary(
    LeaseService.leaseTimeToLive,
    LeaseTimeToLiveRequest.fromPartial({ ID: id, keys: o.keys ?? false }),
    { mutation: false },
    o,
  );
}

/** The Lease service. */
export class Leases {
  private readonly live = new Set<Lease>();
  constructor(private readonly conn: Connection) {}

  /** Grants a lease of `ttlSeconds`; kept alive unless `keepAlive: false`. */
  async grant(ttlSeconds: number | bigint, o: GrantOptions = {}): Promise<Lease> {
    const r = await this.grantRaw(ttlSeconds, o);
    const lease = new Lease(this.conn, r.ID, r.TTL, o.keepAlive ?? true);
    this.live.add(lease);
    void lease.lost.then(() => this.live.delete(lease));
    return lease;
  }

  /** LeaseGrant as it is, without a Lease object or keep-alive. */
  grantRaw(ttlSeconds: number | bigint, o: GrantOptions = {}): Promise<LeaseGrantResponse> {
    const req = LeaseGrantRequest.fromPartial({ TTL: BigInt(ttlSeconds), ID: o.id ?? 0n });
    return this.conn.unary(LeaseService.leaseGrant, req, { mutation: true }, o);
  }

  revoke(id: bigint, o: CallOpts = {}): Promise<LeaseRevokeResponse> {
    return this.conn.unary(
      LeaseService.leaseRevoke,
      LeaseRevokeRequest.fromPartial({ ID: id }),
      { mutation: true },
      o,
    );
  }

  timeToLive(id: bigint, o: CallOpts & { keys?: boolean } = {}): Promise<LeaseTimeToLiveResponse> {
    return timeToLive(this.conn, id, o);
  }

  /** Every lease id (LeaseLeases). */
  list(o: CallOpts = {}): Promise<LeaseLeasesResponse> {
    return this.conn.unary(LeaseService.leaseLeases, {}, { mutation: false }, o);
  }

  /** Stops every keep-alive of this client (leases are not revoked). */
  closeAll(): void {
    for (const l of [...this.live]) l.close();
  }
}
