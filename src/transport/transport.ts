/**
 * Transport: carries Raft messages between members over their peer URLs, shaped like etcd's
 * rafthttp. Outbound, one `Peer` per remote member (queue, connection, message stream, snapshot
 * requests). Inbound, two routes on the `PeerServer`:
 *
 *   POST /raft/stream/message   long-lived; body = frames (u32be length + encodeMessage bytes)
 *   POST /raft/snapshot         one MsgSnap: a frame with the message minus its data, then the data
 *
 * Every request carries X-Etcd-Cluster-ID, X-Server-From, X-Raft-To (hex ids as etcd prints them),
 * X-Server-Version and X-PeerURLs. A receiver refuses another cluster (412 "cluster ID mismatch"),
 * a request meant for another member (412 "to field mismatch") and an unknown sender unless
 * `acceptUnknownSender` allows it (404 "error sender not found") and a removed member (410 "removed
 * member", which the removed member takes as etcd's errMemberRemoved: `onRemoved`) — etcd's statuses
 * and bodies.
 * A stream that sends an oversized or undecodable frame is ended with a trailer naming the reason;
 * the receiver keeps serving everything else.
 */
import { randomBytes } from 'node:crypto';
import { type Http2ServerRequest, type Http2ServerResponse, constants as http2constants } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { assert, SeededRng } from '../pkg/index.js';
import { decodeMessage, encodeMessage, type Message, MessageType } from '../raft/index.js';
import { TransportError } from './errors.js';
import { FrameDecoder } from './frame.js';
import {
  FRAME_BYTES_MAX,
  FRAME_HEADER_BYTES,
  PING_INTERVAL_MS,
  QUEUE_MESSAGES_MAX,
  SNAPSHOT_BUFFER_BYTES_MAX,
  SNAPSHOT_HEADER_BYTES_MAX,
  SNAPSHOT_STREAM_BYTES_MAX,
} from './limits.js';
import { Peer, type PeerContext } from './peer.js';
import { type PeerRequest, type PeerResponse, PeerServer, replyError } from './peer-server.js';
import {
  H_CLUSTER_ID,
  H_FROM,
  H_PEER_URLS,
  H_SNAPSHOT_BYTES,
  H_STREAM_ERROR,
  H_TO,
  H_VERSION,
  idFromHex,
  idToHex,
  type PeerStats,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
  type RaftTransport,
  type SnapshotData,
  type TransportLogger,
  type TransportOptions,
} from './types.js';

const silent: TransportLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The peer transport of one member. Create with `Transport.start`, stop with `close()`. */
export class Transport implements RaftTransport {
  /** The peer port; other layers may register more routes on it (`server.handle`). */
  readonly server: PeerServer;
  private readonly peers = new Map<bigint, Peer>();
  /** The current inbound message stream of each sender; a newer one replaces (ends) the older. */
  private readonly inbound = new Map<bigint, PeerRequest>();
  private readonly log: TransportLogger;
  private readonly ctx: PeerContext;
  private readonly clusterHex: string;
  private readonly localHex: string;
  private readonly frameBytesMax: number;
  private closed = false;

  private constructor(
    private readonly opts: TransportOptions,
    server: PeerServer,
  ) {
    this.server = server;
    this.log = opts.logger ?? silent;
    this.clusterHex = idToHex(opts.clusterId);
    this.localHex = idToHex(opts.localId);
    this.frameBytesMax = opts.frameBytesMax ?? FRAME_BYTES_MAX;
    const rng = opts.rng ?? new SeededRng(randomBytes(4).readUInt32LE(0));
    const urls = (
      opts.advertisePeerUrls ?? [`http://${hostForUrl(server.address.host)}:${server.address.port}`]
    ).join(',');
    const version = opts.serverVersion ?? '3.4.0';
    this.ctx = {
      localId: opts.localId,
      logger: this.log,
      rng,
      now: opts.now ?? (() => performance.now()),
      faults: opts.faults,
      queueMessagesMax: opts.queueMessagesMax ?? QUEUE_MESSAGES_MAX,
      pingIntervalMs: opts.pingIntervalMs ?? PING_INTERVAL_MS,
      tls: opts.tls,
      headersFor: (to) => ({
        [H_CLUSTER_ID]: this.clusterHex,
        [H_FROM]: this.localHex,
        [H_TO]: idToHex(to),
        [H_VERSION]: version,
        [H_PEER_URLS]: urls,
      }),
      observeRoundTrip: (id, seconds) => {
        if (!this.closed) this.opts.onRoundTrip?.(id, seconds);
      },
      reportUnreachable: (id) => {
        if (!this.closed) this.opts.onUnreachable?.(id);
      },
      reportRemoved: () => {
        if (!this.closed) this.opts.onRemoved?.();
      },
    };
    server.handle(RAFT_STREAM_PATH, (req, res) => this.handleStream(req, res));
    server.handle(RAFT_SNAPSHOT_PATH, (req, res) => void this.handleSnapshot(req, res));
  }

  /** Binds the peer port and returns a running transport (with no peers yet). */
  static async start(opts: TransportOptions): Promise<Transport> {
    assert(opts.localId !== 0n, 'localId is non-zero');
    assert(opts.clusterId !== 0n, 'clusterId is non-zero');
    assert(
      opts.queueMessagesMax === undefined ||
        (Number.isSafeInteger(opts.queueMessagesMax) && opts.queueMessagesMax > 0),
      'queueMessagesMax is a positive integer',
    );
    assert(
      opts.pingIntervalMs === undefined || (Number.isFinite(opts.pingIntervalMs) && opts.pingIntervalMs > 0),
      'pingIntervalMs is positive',
    );
    const server =
      opts.server ??
      (await PeerServer.listen(
        opts.listen.host,
        opts.listen.port,
        opts.tlsListen === false ? undefined : opts.tls,
      ));
    return new Transport(opts, server);
  }

  /** The bound peer address (the real port when 0 was asked). */
  get address(): { host: string; port: number } {
    return this.server.address;
  }

  /**
   * Starts a link to member `id` at `urls` (http:// or unix:// URLs; tried in turn on reconnects). Adding an
   * existing peer updates its URLs instead.
   */
  addPeer(id: bigint, urls: string[]): void {
    assert(!this.closed, 'addPeer on a closed transport');
    assert(id !== 0n && id !== this.opts.localId, 'a peer id is non-zero and not the local id');
    const existing = this.peers.get(id);
    if (existing) {
      existing.setUrls(urls);
      return;
    }
    this.peers.set(id, new Peer(id, urls, this.ctx));
  }

  /** Ends the link to `id` (its queue is dropped) and any stream it has open to us. No-op if unknown. */
  removePeer(id: bigint): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
    const stream = this.inbound.get(id);
    if (stream) {
      this.inbound.delete(id);
      resetRequest(stream);
    }
  }

  /** Replaces the URLs of `id`; reconnects if the current one is no longer listed. */
  updatePeer(id: bigint, urls: string[]): void {
    const p = this.peers.get(id);
    assert(p !== undefined, `updatePeer of unknown peer ${idToHex(id)}`);
    p.setUrls(urls);
  }

  /**
   * Queues messages for their peers and returns at once. Per peer, order is kept and messages
   * queued in the same tick go out in one write. A message to an unknown peer is dropped (logged);
   * one that finds its peer's queue full is dropped and `onUnreachable(to)` called. MsgSnap goes
   * on its own request; its outcome arrives at `onSnapshotStatus`. Messages are encoded here, so
   * the caller may reuse them afterwards.
   */
  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    let overflowed: Set<bigint> | undefined;
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (p === undefined) {
        this.log.debug(
          { 'remote-peer-id': idToHex(m.to), type: MessageType[m.type] },
          'ignored message send request; unknown remote peer target',
        );
        continue;
      }
      const isSnap = m.type === MessageType.Snap && m.snapshot !== null;
      if (this.faultDrops(p)) {
        if (isSnap) queueMicrotask(() => this.reportSnapshot(m.to, false));
        continue;
      }
      if (isSnap && m.snapshot !== null) {
        this.startSnapshot(p, m, m.snapshot.data, m.snapshot.data.byteLength);
        continue;
      }
      if (!p.enqueue(encodeMessage(m))) {
        overflowed ??= new Set();
        overflowed.add(m.to);
      }
    }
    if (overflowed) {
      for (const id of overflowed) {
        this.log.warn(
          { 'local-member-id': this.localHex, 'remote-peer-id': idToHex(id) },
          'dropped internal Raft message since sending buffer is full',
        );
        this.ctx.reportUnreachable(id);
      }
    }
  }

  /**
   * Sends a MsgSnap whose data comes from a stream (e.g. read from the snapshot file) instead of
   * `m.snapshot.data`; `size` is the exact number of bytes `data` yields.
   */
  sendSnapshot(m: Message, data: AsyncIterable<Uint8Array>, size: number): void {
    assert(m.type === MessageType.Snap && m.snapshot !== null, 'sendSnapshot takes a MsgSnap');
    const p = this.peers.get(m.to);
    if (this.closed) return;
    if (p === undefined || this.faultDrops(p)) {
      queueMicrotask(() => this.reportSnapshot(m.to, false));
      return;
    }
    this.startSnapshot(p, m, data, size);
  }

  /** Counters per peer (only peers currently added). */
  stats(): Map<bigint, PeerStats> {
    const out = new Map<bigint, PeerStats>();
    for (const [id, p] of this.peers) out.set(id, p.stats());
    return out;
  }

  /**
   * Stops every link, ends inbound streams, releases the port (unless the server was passed in
   * `opts.server`: then its owner closes it). No callbacks fire afterwards.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    for (const s of this.inbound.values()) resetRequest(s);
    this.inbound.clear();
    if (this.opts.server === undefined) await this.server.close();
  }

  /** Applies partition and drop faults to an outbound message; true when it must vanish. */
  private faultDrops(p: Peer): boolean {
    const f = this.opts.faults;
    if (f === undefined) return false;
    const drop =
      f.blocked(this.opts.localId, p.id) ||
      this.dropByChance(f.link(this.opts.localId, p.id).dropProbability);
    if (drop) p.counters.faultDropped++;
    return drop;
  }

  private dropByChance(p: number): boolean {
    return p > 0 && this.ctx.rng.next() < p;
  }

  private startSnapshot(
    p: Peer,
    m: Message,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    size: number,
  ): void {
    void p.sendSnapshot(m, data, size).then((ok) => {
      if (!ok) this.ctx.reportUnreachable(p.id);
      this.reportSnapshot(p.id, ok);
    });
  }

  private reportSnapshot(id: bigint, ok: boolean): void {
    if (!this.closed) this.opts.onSnapshotStatus?.(id, ok);
  }

  /**
   * Checks a request's method and headers; answers the refusal itself and returns null, or returns
   * the sender's id.
   */
  private admit(req: PeerRequest, res: PeerResponse): bigint | null {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      replyError(res, 405, 'Method Not Allowed');
      return null;
    }
    res.setHeader(H_CLUSTER_ID, this.clusterHex);
    const gcid = req.headers[H_CLUSTER_ID];
    if (gcid !== this.clusterHex) {
      this.log.warn(
        {
          'local-member-id': this.localHex,
          'local-member-cluster-id': this.clusterHex,
          'remote-peer-server-name': String(req.headers[H_FROM] ?? ''),
          'remote-peer-cluster-id': String(gcid ?? ''),
        },
        'request cluster ID mismatch',
      );
      replyError(res, 412, new TransportError('cluster-id-mismatch').message);
      return null;
    }
    const from = idFromHex(req.headers[H_FROM]);
    if (from === null) {
      replyError(res, 404, new TransportError('invalid-from').message);
      return null;
    }
    if (req.headers[H_TO] !== this.localHex) {
      this.log.warn(
        { 'local-member-id': this.localHex, 'remote-peer-id-header': String(req.headers[H_TO] ?? '') },
        'ignored streaming request; ID mismatch',
      );
      replyError(res, 412, new TransportError('to-mismatch').message);
      return null;
    }
    if (this.opts.isRemoved?.(from)) {
      this.log.warn(
        { 'local-member-id': this.localHex, 'remote-peer-id': idToHex(from) },
        'rejected stream from remote peer because it was removed',
      );
      replyError(res, 410, new TransportError('removed-member').message);
      return null;
    }
    if (!this.peers.has(from)) {
      const raw = req.headers[H_PEER_URLS];
      const urls = typeof raw === 'string' && raw !== '' ? raw.split(',') : [];
      if (!this.opts.acceptUnknownSender?.(from, urls)) {
        this.log.warn(
          {
            'local-member-id': this.localHex,
            'remote-peer-id-from': idToHex(from),
            'cluster-id': this.clusterHex,
          },
          'failed to find remote peer in cluster',
        );
        replyError(res, 404, new TransportError('sender-not-found').message);
        return null;
      }
    }
    return from;
  }

  private handleStream(req: PeerRequest, res: PeerResponse): void {
    if (this.closed) {
      resetRequest(req);
      return;
    }
    const from = this.admit(req, res);
    if (from === null) return;
    const older = this.inbound.get(from);
    if (older) resetRequest(older); // a reconnect: the old stream's data must not follow the new one's
    this.inbound.set(from, req);
    req.on('close', () => {
      if (this.inbound.get(from) === req) this.inbound.delete(from);
    });
    (res as import('node:http').ServerResponse).writeHead(200, {
      [H_VERSION]: this.opts.serverVersion ?? '3.4.0',
    });
    (res as import('node:http').ServerResponse).flushHeaders();
    const decoder = new FrameDecoder(this.frameBytesMax);
    let dead = false;
    const reject = (err: Error) => {
      dead = true;
      const p = this.peers.get(from);
      if (p) p.counters.receiveFailures++;
      this.log.warn(
        { 'local-member-id': this.localHex, 'remote-peer-id': idToHex(from), error: err.message },
        'lost TCP streaming connection with remote peer (rejected stream)',
      );
      req.removeAllListeners('data');
      req.resume();
      res.addTrailers({ [H_STREAM_ERROR]: err.message.replace(/[^\x20-\x7e]/g, '?') });
      // Once the trailers are out, reset the stream: the sender must not keep writing into it.
      const h2 = (res as Partial<Http2ServerResponse>).stream;
      if (h2) h2.once('wantTrailers', () => setImmediate(() => h2.close(http2constants.NGHTTP2_NO_ERROR)));
      else res.on('finish', () => req.destroy());
      res.end();
    };
    req.on('data', (chunk: Buffer) => {
      // After a newer stream from the same sender took over, anything still buffered here is
      // older than what the new stream carries: drop it rather than deliver out of order.
      if (dead || this.closed || this.inbound.get(from) !== req) return;
      const sender = this.peers.get(from);
      if (sender) sender.counters.receivedBytes += chunk.length;
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        reject(err as Error);
        return;
      }
      for (const f of frames) {
        let m: Message;
        try {
          m = decodeMessage(f);
        } catch (err) {
          reject(new TransportError('malformed-message', (err as Error).message));
          return;
        }
        if (m.from !== from || m.to !== this.opts.localId) {
          reject(
            new TransportError(
              'malformed-message',
              `message ${idToHex(m.from)}->${idToHex(m.to)} on stream from ${idToHex(from)}`,
            ),
          );
          return;
        }
        const p = this.peers.get(from);
        if (this.opts.faults?.blocked(from, this.opts.localId)) {
          if (p) p.counters.receiveFaultDropped++;
          continue;
        }
        if (p) p.counters.received++;
        try {
          this.opts.onMessage(m);
        } catch (err) {
          this.log.error({ 'local-member-id': this.localHex, error: String(err) }, 'onMessage threw');
        }
      }
    });
  }

  private async handleSnapshot(req: PeerRequest, res: PeerResponse): Promise<void> {
    if (this.closed) {
      resetRequest(req);
      return;
    }
    const from = this.admit(req, res);
    if (from === null) return;
    if (this.opts.faults?.blocked(from, this.opts.localId)) {
      resetRequest(req); // as if the link were down
      return;
    }
    const buffered = this.opts.snapshotBuffered === true || this.opts.onSnapshot === undefined;
    const sizeMax = buffered ? SNAPSHOT_BUFFER_BYTES_MAX : SNAPSHOT_STREAM_BYTES_MAX;
    const sizeText = req.headers[H_SNAPSHOT_BYTES];
    const size = typeof sizeText === 'string' && /^\d{1,16}$/.test(sizeText) ? Number(sizeText) : -1;
    if (size < 0) {
      replyError(res, 400, `missing or invalid ${H_SNAPSHOT_BYTES}`);
      return;
    }
    if (size > sizeMax) {
      replyError(res, 413, new TransportError('snapshot-too-large', `${size} > ${sizeMax}`).message);
      return;
    }
    const body = new BodyReader(req);
    let inCallback = false; // errors from onSnapshot/onMessage are the receiver's (500), not the request's (400)
    try {
      const { frame, rest } = await readHeaderFrame(body);
      const m = decodeMessage(frame);
      if (m.type !== MessageType.Snap || m.snapshot === null) {
        replyError(res, 400, 'wrong raft message type');
        body.discard();
        return;
      }
      if (m.from !== from || m.to !== this.opts.localId) {
        throw new TransportError('malformed-message', 'snapshot message from/to do not match the headers');
      }
      const data = snapshotChunks([rest], body, size);
      this.log.info(
        {
          'local-member-id': this.localHex,
          'remote-snapshot-sender-id': idToHex(from),
          'incoming-snapshot-index': m.snapshot.metadata.index,
          'incoming-snapshot-size-bytes': size,
        },
        'receiving database snapshot',
      );
      if (buffered) {
        const all = await gather(data, size);
        inCallback = true;
        if (this.opts.onSnapshot) await this.opts.onSnapshot(m, all);
        else this.opts.onMessage({ ...m, snapshot: { ...m.snapshot, data: all } });
      } else {
        inCallback = true;
        await this.opts.onSnapshot!(m, data as SnapshotData);
      }
      if (this.closed) return;
      const p = this.peers.get(from);
      if (p) {
        p.counters.received++;
        p.counters.receivedBytes += size;
      }
      res.writeHead(204);
      res.end();
      body.discard();
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      this.log.warn(
        { 'local-member-id': this.localHex, 'remote-snapshot-sender-id': idToHex(from), error: msg },
        'failed to receive snapshot',
      );
      const p = this.peers.get(from);
      if (p) p.counters.receiveFailures++;
      const status = inCallback ? 500 : 400;
      if (!this.closed) replyError(res, status, msg);
      body.discard();
    }
  }
}

/**
 * Reads the length-prefixed MsgSnap header of a snapshot request; returns it and the data bytes that
 * arrived with it. Throws 'frame-too-large' past SNAPSHOT_HEADER_BYTES_MAX, 'snapshot-truncated' if
 * the body ends first.
 */
async function readHeaderFrame(body: BodyReader): Promise<{ frame: Buffer; rest: Buffer }> {
  let acc: Buffer = Buffer.alloc(0);
  let need = FRAME_HEADER_BYTES;
  for (;;) {
    if (acc.byteLength >= need) {
      if (need === FRAME_HEADER_BYTES) {
        const length = acc.readUInt32BE(0);
        if (length > SNAPSHOT_HEADER_BYTES_MAX) {
          throw new TransportError(
            'frame-too-large',
            `snapshot header of ${length} bytes > ${SNAPSHOT_HEADER_BYTES_MAX}`,
          );
        }
        need = FRAME_HEADER_BYTES + length;
        continue;
      }
      return { frame: acc.subarray(FRAME_HEADER_BYTES, need), rest: acc.subarray(need) };
    }
    const c = await body.next();
    if (c === null) throw new TransportError('snapshot-truncated', 'body ended inside the message header');
    acc = acc.byteLength === 0 ? c : Buffer.concat([acc, c]);
  }
}

/** Data of a snapshot request as an AsyncIterable: `first` chunks, then the body; checks the length. */
async function* snapshotChunks(first: Buffer[], body: BodyReader, size: number): AsyncGenerator<Uint8Array> {
  let n = 0;
  for (const c of first) {
    if (c.byteLength === 0) continue;
    n += c.byteLength;
    if (n > size) throw new TransportError('snapshot-truncated', `more than the announced ${size} bytes`);
    yield c;
  }
  for (;;) {
    const c = await body.next();
    if (c === null) break;
    n += c.byteLength;
    if (n > size) throw new TransportError('snapshot-truncated', `more than the announced ${size} bytes`);
    yield c;
  }
  if (n !== size) throw new TransportError('snapshot-truncated', `${n} of ${size} bytes`);
}

async function gather(data: AsyncIterable<Uint8Array>, size: number): Promise<Uint8Array> {
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for await (const c of data) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  assert(pos === size, 'snapshotChunks checked the length');
  return out;
}

/**
 * Pulls a request body chunk by chunk with backpressure (the request is paused while a chunk
 * waits), so a slow snapshot consumer slows the sender instead of buffering the whole body.
 */
class BodyReader {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private failed: Error | undefined;
  private wake: (() => void) | undefined;
  private discarding = false;

  constructor(private readonly req: PeerRequest) {
    req.on('data', (c: Buffer) => {
      if (this.discarding) return;
      this.chunks.push(c);
      if (this.chunks.length >= 4) req.pause();
      this.notify();
    });
    req.on('end', () => {
      this.ended = true;
      this.notify();
    });
    req.on('error', (err) => {
      this.failed = err;
      this.notify();
    });
    req.on('close', () => {
      if (!this.ended) this.failed ??= new TransportError('snapshot-truncated', 'sender went away');
      this.notify();
    });
  }

  /** The next chunk, null at the end; rejects if the request failed. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const c = this.chunks.shift();
      if (c !== undefined) {
        if (this.chunks.length < 2) this.req.resume();
        return c;
      }
      if (this.ended) return null;
      if (this.failed) throw this.failed;
      this.req.resume();
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  /** Throws away whatever is left of the body. */
  discard(): void {
    this.discarding = true;
    this.chunks.length = 0;
    this.req.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** Ends an inbound request at once: RST_STREAM on HTTP/2, the socket on HTTP/1.1. */
function resetRequest(req: PeerRequest): void {
  const h2 = (req as Partial<Http2ServerRequest>).stream;
  if (h2) {
    if (!h2.closed) h2.close(http2constants.NGHTTP2_CANCEL);
  } else {
    req.socket?.destroy();
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
