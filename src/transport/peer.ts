/**
 * The outbound side of one peer: a bounded queue of encoded messages, one HTTP/2 connection (h2c,
 * prior knowledge) to one of the peer's URLs, and on it one long-lived POST stream that carries
 * length-prefixed frames; queued messages are gathered into one write. Snapshots go on their own
 * POST on the same connection.
 *
 *   idle --connect--> dialing --200--> connected --error/close/ping timeout--> backoff --> dialing
 *                        \--non-200 / error / timeout--> backoff
 *
 * Failures are reported through `onUnreachable` and retried with exponential backoff and jitter;
 * the queue survives reconnects (what was written to a dead connection is lost, like etcd).
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { Rng } from '../pkg/index.js';
import { assert } from '../pkg/index.js';
import { encodeMessage, type Message } from '../raft/index.js';
import { TRANSPORT_ERROR_TEXTS, TransportError, type TransportErrorCode } from './errors.js';
import type { FaultHooks } from './faults.js';
import { encodeFrames } from './frame.js';
import {
  BATCH_BYTES_MAX,
  ERROR_BODY_BYTES_MAX,
  FRAME_HEADER_BYTES,
  H2_SESSION_MEMORY_MB,
  H2_WINDOW_BYTES,
  QUEUE_BYTES_MAX,
  RECONNECT_BACKOFF_FACTOR,
  RECONNECT_BACKOFF_MS_MAX,
  RECONNECT_BACKOFF_MS_MIN,
  SNAPSHOT_CHUNK_BYTES,
  SNAPSHOT_CONNECT_WAIT_MS,
} from './limits.js';
import {
  H_SNAPSHOT_BYTES,
  H_STREAM_ERROR,
  idToHex,
  type PeerStats,
  type PeerTls,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
  type TransportLogger,
} from './types.js';

/** What a Peer needs from its Transport. */
export interface PeerContext {
  localId: bigint;
  logger: TransportLogger;
  rng: Rng;
  now: () => number;
  faults: FaultHooks | undefined;
  queueMessagesMax: number;
  /** Liveness ping interval (ms); see PING_INTERVAL_MS. */
  pingIntervalMs: number;
  /** TLS for https:// URLs; undefined = plaintext only. */
  tls: PeerTls | undefined;
  /** Headers every request to peer `to` carries (cluster id, from, to, version, urls). */
  headersFor(to: bigint): Record<string, string>;
  reportUnreachable(id: bigint): void;
  /** An answered ping's round-trip time, in seconds. */
  observeRoundTrip(id: bigint, seconds: number): void;
  /** A peer answered that this member was removed from the cluster (410). */
  reportRemoved(): void;
}

interface Queued {
  bytes: Uint8Array;
  at: number;
}

const EMPTY = new Uint8Array(0);

/** Reconnect delay after `attempt` consecutive failures: exponential, capped, half jittered. */
export function backoffMs(attempt: number, rng: Rng): number {
  const base = Math.min(
    RECONNECT_BACKOFF_MS_MAX,
    RECONNECT_BACKOFF_MS_MIN * RECONNECT_BACKOFF_FACTOR ** attempt,
  );
  return base / 2 + rng.next() * (base / 2);
}

/** Maps a rejecting peer's status and error body to our error code (etcd's bodies are fixed texts). */
function classify(status: number, body: string): TransportError {
  const codes: TransportErrorCode[] = [
    'cluster-id-mismatch',
    'to-mismatch',
    'sender-not-found',
    'invalid-from',
  ];
  for (const c of codes) if (body.trim() === TRANSPORT_ERROR_TEXTS[c]) return new TransportError(c);
  if (status === 410) return new TransportError('member-removed');
  return new TransportError('unexpected-status', `${status} ${body.trim().slice(0, 200)}`);
}

/** The outbound link to one peer. Owned by Transport; not exported from the layer. */
export class Peer {
  private urls: string[];
  private urlIndex = 0;
  private queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  private session: http2.ClientHttp2Session | undefined;
  private stream: http2.ClientHttp2Stream | undefined;
  private connectedUrl: string | undefined;
  private connected = false;
  /** Date.now() when the outbound stream was established (etcd's ActiveSince); 0 when down. */
  private connectedAt = 0;
  private draining = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private pingOutstanding = false;
  private pumpScheduled = false;
  private closed = false;
  private readonly connectWaiters = new Set<(ok: boolean) => void>();
  readonly counters: Omit<PeerStats, 'queued' | 'connected' | 'activeSince'> = {
    sent: 0,
    dropped: 0,
    faultDropped: 0,
    bytes: 0,
    received: 0,
    receiveFaultDropped: 0,
    lastError: null,
    lastErrorCode: null,
    snapshotsSent: 0,
    snapshotsFailed: 0,
    receivedBytes: 0,
    receiveFailures: 0,
  };

  constructor(
    readonly id: bigint,
    urls: string[],
    private readonly ctx: PeerContext,
  ) {
    this.urls = validateUrls(urls);
    this.dial();
  }

  /** A snapshot of the counters. */
  stats(): PeerStats {
    return {
      ...this.counters,
      queued: this.queue.length - this.head,
      connected: this.connected,
      activeSince: this.connected ? this.connectedAt : 0,
    };
  }

  /**
   * Queues an encoded message; false (and nothing queued) when the queue is at its bound. Writing
   * happens on a microtask, so messages sent in the same tick share one write.
   */
  enqueue(bytes: Uint8Array): boolean {
    assert(!this.closed, 'enqueue on a closed peer');
    const queued = this.queue.length - this.head;
    if (queued >= this.ctx.queueMessagesMax || this.queuedBytes + bytes.byteLength > QUEUE_BYTES_MAX) {
      this.counters.dropped++;
      return false;
    }
    this.queue.push({ bytes, at: this.ctx.now() });
    this.queuedBytes += bytes.byteLength;
    this.schedulePump();
    return true;
  }

  /** Replaces the URLs; reconnects if the current connection's URL is no longer listed. */
  setUrls(urls: string[]): void {
    this.urls = validateUrls(urls);
    this.urlIndex = 0;
    if (this.connectedUrl !== undefined && !this.urls.includes(this.connectedUrl)) {
      this.fail(this.session, new TransportError('peer-unreachable', 'peer URLs updated'), false);
    }
  }

  /** Stops for good: drops the queue (counted as dropped), ends the connection, cancels timers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.counters.dropped += this.queue.length - this.head;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    for (const t of [this.reconnectTimer, this.delayTimer, this.pingTimer, this.connectTimer])
      clearTimeout(t);
    clearInterval(this.pingTimer);
    this.session?.destroy();
    this.session = undefined;
    this.stream = undefined;
    this.connected = false;
    for (const w of this.connectWaiters) w(false);
    this.connectWaiters.clear();
  }

  /**
   * Sends a MsgSnap on its own request: the message without its data as one frame, then `size`
   * bytes of data in SNAPSHOT_CHUNK_BYTES writes. Resolves true once the receiver answered 204
   * (it processed the snapshot), false on any failure (recorded in lastError). Never rejects.
   */
  async sendSnapshot(
    m: Message,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    size: number,
  ): Promise<boolean> {
    assert(m.snapshot !== null, 'MsgSnap carries a snapshot');
    assert(Number.isSafeInteger(size) && size >= 0, 'snapshot size is a non-negative integer');
    try {
      if (!(await this.waitConnected(SNAPSHOT_CONNECT_WAIT_MS))) {
        throw new TransportError('peer-unreachable', 'no connection for the snapshot');
      }
      const session = this.session;
      assert(session !== undefined, 'connected implies a session');
      const header = encodeMessage({ ...m, snapshot: { ...m.snapshot, data: EMPTY } });
      const req = session.request({
        ':method': 'POST',
        ':path': RAFT_SNAPSHOT_PATH,
        ...this.ctx.headersFor(this.id),
        [H_SNAPSHOT_BYTES]: String(size),
      });
      const response = readResponse(req);
      response.catch(() => {});
      try {
        await writeAll(req, encodeFrames([header]));
        this.counters.bytes += FRAME_HEADER_BYTES + header.byteLength;
        let written = 0;
        const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
          data instanceof Uint8Array ? chunksOf(data) : data;
        for await (const c of chunks) {
          written += c.byteLength;
          if (written > size) throw new TransportError('snapshot-truncated', `source longer than ${size}`);
          await writeAll(req, c);
          this.counters.bytes += c.byteLength;
        }
        if (written !== size)
          throw new TransportError('snapshot-truncated', `source gave ${written} of ${size}`);
        req.end();
      } catch (err) {
        // The receiver may have answered (and closed the stream) early: prefer its reason. Destroying
        // first makes `response` settle either way.
        req.destroy();
        const early = await response.catch(() => undefined);
        if (early && early.status !== 204) throw classifySnapshot(early.status, early.body);
        throw err;
      }
      const { status, body } = await response;
      if (status !== 204) throw classifySnapshot(status, body);
      this.counters.snapshotsSent++;
      return true;
    } catch (err) {
      this.counters.snapshotsFailed++;
      this.counters.lastError = String((err as Error).message ?? err);
      this.counters.lastErrorCode = err instanceof TransportError ? err.code : null;
      this.ctx.logger.warn(
        {
          'local-member-id': idToHex(this.ctx.localId),
          'remote-peer-id': idToHex(this.id),
          error: this.counters.lastError,
        },
        'failed to send database snapshot',
      );
      return false;
    }
  }

  private waitConnected(ms: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.connectWaiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), ms);
      this.connectWaiters.add(done);
    });
  }

  private dial(): void {
    if (this.closed) return;
    const url = this.urls[this.urlIndex % this.urls.length]!;
    let session: http2.ClientHttp2Session;
    try {
      // unix://NAME (etcd's unix peer URL): h2c over the socket file NAME.
      const unixPath = url.startsWith('unix://') ? url.slice('unix://'.length) : undefined;
      const secure = url.startsWith('https:');
      if (secure && !this.ctx.tls) {
        throw new TransportError('peer-unreachable', `${url}: https peer URL without peer TLS configured`);
      }
      session = http2.connect(unixPath !== undefined ? 'http://localhost' : url, {
        settings: { initialWindowSize: H2_WINDOW_BYTES, enablePush: false },
        maxSessionMemory: H2_SESSION_MEMORY_MB,
        ...(unixPath !== undefined ? { createConnection: () => net.connect(unixPath) } : {}),
        ...(secure ? this.ctx.tls!.clientOptions() : {}),
      });
    } catch (err) {
      this.session = undefined;
      this.fail(undefined, err as Error, true);
      return;
    }
    this.session = session;
    session.on('error', (err) => this.fail(session, err, true));
    session.on('close', () =>
      this.fail(session, new TransportError('peer-unreachable', 'connection closed'), true),
    );
    session.on('connect', () => {
      try {
        session.setLocalWindowSize(H2_WINDOW_BYTES);
      } catch {
        // destroyed meanwhile: 'close' follows
      }
    });
    this.connectTimer = setTimeout(
      () => this.fail(session, new TransportError('peer-unreachable', `no answer from ${url}`), true),
      this.ctx.pingIntervalMs * 2,
    );
    const stream = session.request(
      { ':method': 'POST', ':path': RAFT_STREAM_PATH, ...this.ctx.headersFor(this.id) },
      { endStream: false },
    );
    this.stream = stream;
    stream.on('error', (err) => this.fail(session, err, true));
    let endReason: string | undefined;
    let rejected = false;
    stream.on('trailers', (h) => {
      const reason = h[H_STREAM_ERROR];
      if (typeof reason === 'string') endReason = reason;
    });
    stream.on('close', () => {
      if (rejected) return; // the rejection's reason is being read; it fails the session
      const why = endReason === undefined ? 'stream closed' : `stream ended by peer: ${endReason}`;
      this.fail(session, new TransportError('peer-unreachable', why), true);
    });
    stream.on('response', (h) => {
      const status = Number(h[':status']);
      if (status !== 200) rejected = true;
      if (status === 200) {
        stream.resume(); // nothing is expected on the body; keep it flowing to see trailers and end
        this.onConnected(session, url);
        return;
      }
      void readBody(stream).then((body) => {
        const err = classify(status, body);
        if (err.code === 'cluster-id-mismatch') {
          this.ctx.logger.warn(
            { 'local-member-id': idToHex(this.ctx.localId), 'remote-peer-id': idToHex(this.id) },
            'request sent was ignored by remote peer due to cluster ID mismatch',
          );
        }
        if (err.code === 'member-removed') this.ctx.reportRemoved();
        this.fail(session, err, true);
      });
    });
  }

  private onConnected(session: http2.ClientHttp2Session, url: string): void {
    if (session !== this.session || this.closed) return;
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.connectedAt = Date.now();
    this.connectedUrl = url;
    this.attempt = 0;
    this.draining = false;
    this.ctx.logger.info(
      { 'local-member-id': idToHex(this.ctx.localId), 'remote-peer-id': idToHex(this.id), url },
      'peer became active',
    );
    this.pingOutstanding = false;
    this.pingTimer = setInterval(() => this.ping(session), this.ctx.pingIntervalMs);
    for (const w of this.connectWaiters) w(true);
    this.connectWaiters.clear();
    this.schedulePump();
  }

  private ping(session: http2.ClientHttp2Session): void {
    if (session !== this.session) return;
    if (this.pingOutstanding) {
      this.fail(session, new TransportError('peer-unreachable', 'ping timeout'), true);
      return;
    }
    this.pingOutstanding = true;
    try {
      session.ping((err, durationMs) => {
        if (err) return;
        this.pingOutstanding = false;
        this.ctx.observeRoundTrip(this.id, durationMs / 1000);
      });
    } catch (err) {
      this.fail(session, err as Error, true);
    }
  }

  /**
   * Tears the connection down (once per session) and schedules the next attempt. `report` says
   * whether to tell the caller the peer is unreachable.
   */
  private fail(session: http2.ClientHttp2Session | undefined, err: Error, report: boolean): void {
    if (session !== this.session || this.closed) return;
    const wasConnected = this.connected;
    this.session = undefined;
    this.stream = undefined;
    this.connected = false;
    this.connectedUrl = undefined;
    clearTimeout(this.connectTimer);
    clearInterval(this.pingTimer);
    session?.destroy();
    this.counters.lastError = err.message;
    this.counters.lastErrorCode = err instanceof TransportError ? err.code : null;
    if (wasConnected) {
      this.ctx.logger.warn(
        {
          'local-member-id': idToHex(this.ctx.localId),
          'remote-peer-id': idToHex(this.id),
          error: err.message,
        },
        'peer became inactive (message send to peer failed)',
      );
    }
    if (report) this.ctx.reportUnreachable(this.id);
    this.urlIndex++;
    const delay = backoffMs(this.attempt, this.ctx.rng);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Writes queued messages (batched up to BATCH_BYTES_MAX per write) until empty or blocked. */
  private pump(): void {
    const stream = this.stream;
    if (!this.connected || this.draining || this.closed || stream === undefined) return;
    const delayMs = this.ctx.faults?.link(this.ctx.localId, this.id).delayMs ?? 0;
    const now = delayMs > 0 ? this.ctx.now() : 0;
    while (this.head < this.queue.length) {
      const batch: Uint8Array[] = [];
      let bytes = 0;
      let waitMs = 0;
      while (this.head < this.queue.length) {
        const q = this.queue[this.head]!;
        if (delayMs > 0 && q.at + delayMs > now) {
          waitMs = q.at + delayMs - now;
          break;
        }
        const frameBytes = FRAME_HEADER_BYTES + q.bytes.byteLength;
        if (batch.length > 0 && bytes + frameBytes > BATCH_BYTES_MAX) break;
        batch.push(q.bytes);
        bytes += frameBytes;
        this.queuedBytes -= q.bytes.byteLength;
        this.head++;
      }
      this.compactQueue();
      if (batch.length > 0) {
        const ok = stream.write(encodeFrames(batch));
        this.counters.sent += batch.length;
        this.counters.bytes += bytes;
        if (!ok) {
          this.draining = true;
          stream.once('drain', () => {
            if (stream !== this.stream) return;
            this.draining = false;
            this.pump();
          });
          return;
        }
      }
      if (waitMs > 0) {
        if (this.delayTimer === undefined) {
          this.delayTimer = setTimeout(() => {
            this.delayTimer = undefined;
            this.pump();
          }, Math.ceil(waitMs));
        }
        return;
      }
    }
  }

  private compactQueue(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

function validateUrls(urls: string[]): string[] {
  assert(urls.length > 0, 'a peer has at least one URL');
  for (const u of urls) {
    const parsed = new URL(u);
    assert(
      parsed.protocol === 'http:' || parsed.protocol === 'https:' || parsed.protocol === 'unix:',
      `peer URL ${u}: only http:// (h2c), https:// and unix:// are supported`,
    );
  }
  return [...urls];
}

function classifySnapshot(status: number, body: string): TransportError {
  const err = classify(status, body);
  if (err.code !== 'unexpected-status') return err;
  return new TransportError('snapshot-rejected', `${status} ${body.trim().slice(0, 200)}`);
}

function* chunksOf(data: Uint8Array): Iterable<Uint8Array> {
  for (let off = 0; off < data.byteLength; off += SNAPSHOT_CHUNK_BYTES) {
    yield data.subarray(off, Math.min(data.byteLength, off + SNAPSHOT_CHUNK_BYTES));
  }
}

/** Writes `chunk`, resolving once the stream can take more; rejects if the stream closes first. */
function writeAll(stream: http2.ClientHttp2Stream, chunk: Uint8Array): Promise<void> {
  if (stream.destroyed || stream.closed) {
    return Promise.reject(new TransportError('peer-unreachable', 'snapshot stream closed'));
  }
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new TransportError('peer-unreachable', 'snapshot stream closed'));
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}

/** Resolves with the status and (bounded) body of a response; rejects if the stream dies first. */
function readResponse(stream: http2.ClientHttp2Stream): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    stream.on('error', reject);
    stream.on('close', () =>
      reject(new TransportError('peer-unreachable', 'stream closed before a response')),
    );
    stream.on('response', (h) => {
      const status = Number(h[':status']);
      void readBody(stream).then((body) => resolve({ status, body }));
    });
  });
}

/** Reads a response body up to ERROR_BODY_BYTES_MAX; resolves with what arrived when it ends or dies. */
function readBody(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let n = 0;
    const done = () => resolve(Buffer.concat(parts).toString('utf8'));
    stream.on('data', (c: Buffer) => {
      if (n < ERROR_BODY_BYTES_MAX) parts.push(c.subarray(0, ERROR_BODY_BYTES_MAX - n));
      n += c.byteLength;
    });
    stream.on('end', done);
    stream.on('close', done);
  });
}
