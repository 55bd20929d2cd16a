/**
 * Repairs the HTTP/2 `:authority` that some gRPC clients send: etcdctl 3.4 (grpc-go) dials an
 * endpoint given as a URL with the URL as the authority ("http://127.0.0.1:2379"). Go's HTTP/2
 * server accepts that; nghttp2 (under node:http2) resets such a stream with PROTOCOL_ERROR.
 *
 * `handOverH2` looks at a new connection's first request before nghttp2 does. To make the client
 * send one, it sends the server preface itself (an empty SETTINGS frame, i.e. the defaults), answers
 * PINGs meanwhile, and removes the client's ACK of that SETTINGS from what it hands on, so nghttp2
 * (which sends its own SETTINGS next) never sees an ACK it did not ask for.
 * - Well-formed authority (the normal case): the raw socket goes to nghttp2 with the bytes put back,
 *   and nghttp2 reads it natively from then on: no cost per request.
 * - URL-shaped authority: the connection runs through `AuthorityRepair`, which decodes each header
 *   block with the client's HPACK state, cuts the authority to host:port and re-encodes the block as
 *   literals that never enter a dynamic table (nghttp2's HPACK state stays empty and in step).
 *   Other frames pass byte for byte; bytes from server to client are never touched.
 */
import type http2 from 'node:http2';
import type net from 'node:net';
import { Duplex } from 'node:stream';
import hpack from 'hpack.js';

const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** nghttp2's default SETTINGS_MAX_FRAME_SIZE: re-encoded blocks are split into frames this big. */
const MAX_FRAME_BYTES = 16384;
/** The HPACK table size clients encode for (the server's default SETTINGS_HEADER_TABLE_SIZE). */
const HPACK_TABLE_BYTES = 4096;
/** Most bytes held while waiting for the first request; beyond it the connection is handed over. */
const SNIFF_BYTES_MAX = 256 * 1024;
/** How long a connection may stay without a first request before it is handed over as it is. */
const SNIFF_WAIT_MS = 10_000;
const TYPE_SETTINGS = 0x4;
const TYPE_PING = 0x6;
const FLAG_ACK = 0x1;
/** An empty SETTINGS frame: the server preface with every setting at its default. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, TYPE_SETTINGS, 0, 0, 0, 0, 0]);

interface HeaderField {
  name: string;
  value: string;
  neverIndex: boolean;
}

type Decoder = ReturnType<typeof hpack.decompressor.create>;

function decodeBlock(decoder: Decoder, fragments: Buffer[]): HeaderField[] {
  decoder.write(Buffer.concat(fragments));
  decoder.execute();
  const headers: HeaderField[] = [];
  for (let h = decoder.read(); h; h = decoder.read()) headers.push(h);
  return headers;
}

/** A frame header split out of `buf`, or undefined when the frame is not complete yet. */
function nextFrame(
  buf: Buffer,
): { frame: Buffer; type: number; flags: number; streamId: number } | undefined {
  if (buf.length < FRAME_HEADER_BYTES) return undefined;
  const total = FRAME_HEADER_BYTES + buf.readUIntBE(0, 3);
  if (buf.length < total) return undefined;
  const frame = buf.subarray(0, total);
  return { frame, type: frame[3]!, flags: frame[4]!, streamId: frame.readUInt32BE(5) & 0x7fffffff };
}

/** The header block fragment of a HEADERS frame (without padding and priority fields). */
function headersFragment(frame: Buffer, flags: number): Buffer {
  let p = FRAME_HEADER_BYTES;
  let end = frame.length;
  if (flags & FLAG_PADDED) {
    end -= frame[p]!;
    p += 1;
  }
  if (flags & FLAG_PRIORITY) p += 5;
  return frame.subarray(p, end);
}

/**
 * Takes a new HTTP/2 connection whose first bytes (`initial`, starting with the preface) were
 * already read, and gives it to `server` natively, or through `AuthorityRepair` when its requests
 * carry a URL-shaped authority.
 */
export function handOverH2(socket: net.Socket, initial: Buffer, server: http2.Http2Server): void {
  let buf: Buffer = initial.subarray(PREFACE_BYTES);
  const kept: Buffer[] = [initial.subarray(0, PREFACE_BYTES)];
  const decoder = hpack.decompressor.create({ table: { size: HPACK_TABLE_BYTES } });
  let block: { streamId: number; flags: number; fragments: Buffer[]; raw: Buffer[] } | undefined;
  let firstHeaders:
    | { streamId: number; endStream: number; headers: HeaderField[]; raw: Buffer[] }
    | undefined;
  const after: Buffer[] = [];
  let ackSeen = false;
  let done = false;
  let heldBytes = initial.length;

  const finish = (repair: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.pause();
    if (!repair) {
      if (firstHeaders) kept.push(...firstHeaders.raw);
      socket.unshift(Buffer.concat([...kept, ...after, buf]));
      server.emit('connection', socket);
      return;
    }
    const fh = firstHeaders!;
    for (const h of fh.headers) if (h.name === ':authority') h.value = repairAuthority(h.value);
    const repaired = new AuthorityRepair(socket, decoder);
    repaired.pushInitial(Buffer.concat([...kept, encodeHeaderFrames(fh.streamId, fh.endStream, fh.headers)]));
    repaired.feed(Buffer.concat([...after, buf]));
    server.emit('connection', repaired);
    socket.resume();
  };

  const scan = () => {
    for (let f = nextFrame(buf); f && !done; f = nextFrame(buf)) {
      buf = buf.subarray(f.frame.length);
      if (f.type === TYPE_SETTINGS && f.flags & FLAG_ACK && !ackSeen) {
        ackSeen = true; // the client's ACK of our preface: nghttp2 must not see it
      } else if (f.type === TYPE_PING && !(f.flags & FLAG_ACK) && !firstHeaders) {
        const pong = Buffer.from(f.frame);
        pong[4] = FLAG_ACK;
        socket.write(pong);
      } else if (
        firstHeaders === undefined &&
        (f.type === TYPE_HEADERS || (f.type === TYPE_CONTINUATION && block))
      ) {
        if (f.type === TYPE_HEADERS) {
          block = {
            streamId: f.streamId,
            flags: f.flags,
            fragments: [headersFragment(f.frame, f.flags)],
            raw: [f.frame],
          };
        } else {
          block!.fragments.push(f.frame.subarray(FRAME_HEADER_BYTES));
          block!.raw.push(f.frame);
          block!.flags |= f.flags & FLAG_END_HEADERS;
        }
        if (block!.flags & FLAG_END_HEADERS) {
          firstHeaders = {
            streamId: block!.streamId,
            endStream: block!.flags & FLAG_END_STREAM,
            headers: decodeBlock(decoder, block!.fragments),
            raw: block!.raw,
          };
          block = undefined;
        }
      } else if (firstHeaders) {
        after.push(f.frame); // after the first request, in order (the ACK may still be to come)
      } else {
        kept.push(f.frame);
      }
      if (firstHeaders && ackSeen) break;
    }
    if (done) return;
    if (firstHeaders && ackSeen) {
      const authority = firstHeaders.headers.find((h) => h.name === ':authority')?.value;
      finish(authority !== undefined && !isPlainAuthority(authority));
    } else if (heldBytes > SNIFF_BYTES_MAX) {
      finish(false);
    }
  };

  const onData = (chunk: Buffer) => {
    heldBytes += chunk.length;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    try {
      scan();
    } catch {
      // Not decodable by us: nghttp2 judges the bytes as they are.
      if (firstHeaders) kept.push(...firstHeaders.raw);
      firstHeaders = undefined;
      kept.push(...after.splice(0));
      finish(false);
    }
  };
  const timer = setTimeout(() => finish(false), SNIFF_WAIT_MS);
  timer.unref();
  socket.on('data', onData);
  socket.write(EMPTY_SETTINGS);
  onData(Buffer.alloc(0));
  socket.resume();
}

/** Whether `v` is a valid HTTP/2 authority for nghttp2 (host[:port], no scheme, path or userinfo). */
export function isPlainAuthority(v: string): boolean {
  return /^[A-Za-z0-9._~!$&'()*+,;=:%[\]-]*$/.test(v);
}

/**
 * "http://host:port/x" -> "host:port"; a plain authority is returned as it is. A unix socket path
 * (etcdctl --endpoints unix:///run/etcd.sock sends the path) has no host: it becomes "localhost",
 * as Go's HTTP client names unix-socket servers.
 */
export function repairAuthority(v: string): string {
  const noScheme = v.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '');
  if (noScheme.startsWith('/')) return 'localhost';
  const cut = noScheme.search(/[/?#]/);
  const hostPort = cut >= 0 ? noScheme.slice(0, cut) : noScheme;
  const at = hostPort.lastIndexOf('@');
  return at >= 0 ? hostPort.slice(at + 1) : hostPort;
}

/** A connection in rewrite mode: nghttp2 reads the repaired client bytes from it and writes through it. */
export class AuthorityRepair extends Duplex {
  /** The connection underneath (a TLS socket on https listeners: its peer certificate is asked for). */
  readonly inner: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private block: { streamId: number; flags: number; fragments: Buffer[] } | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly decoder: Decoder,
  ) {
    super({ allowHalfOpen: true });
    this.inner = socket;
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** Bytes already repaired (the preface, early frames and the first request). */
  pushInitial(bytes: Buffer): void {
    this.forward(bytes);
  }

  /** Client bytes not yet looked at. */
  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      for (let f = nextFrame(this.buf); f; f = nextFrame(this.buf)) {
        this.buf = this.buf.subarray(f.frame.length);
        if (f.type === TYPE_HEADERS) {
          this.block = {
            streamId: f.streamId,
            flags: f.flags,
            fragments: [headersFragment(f.frame, f.flags)],
          };
        } else if (f.type === TYPE_CONTINUATION && this.block) {
          this.block.fragments.push(f.frame.subarray(FRAME_HEADER_BYTES));
          this.block.flags |= f.flags & FLAG_END_HEADERS;
        } else {
          this.forward(f.frame);
          continue;
        }
        if (this.block.flags & FLAG_END_HEADERS) {
          const b = this.block;
          this.block = undefined;
          const headers = decodeBlock(this.decoder, b.fragments);
          for (const h of headers) if (h.name === ':authority') h.value = repairAuthority(h.value);
          this.forward(encodeHeaderFrames(b.streamId, b.flags & FLAG_END_STREAM, headers));
        }
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy(err ?? undefined);
    cb(err);
  }

  private forward(chunk: Buffer): void {
    if (!this.push(chunk)) this.socket.pause();
  }
}

/** HPACK integer with an N-bit prefix (RFC 7541 5.1). */
function pushInt(out: number[], first: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function pushString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  pushInt(out, 0x00, 7, bytes.length);
  for (const b of bytes) out.push(b);
}

/** A header block of literals that never touch a dynamic table, as HEADERS (+CONTINUATION) frames. */
function encodeHeaderFrames(streamId: number, endStream: number, headers: HeaderField[]): Buffer {
  const bytes: number[] = [];
  for (const h of headers) {
    // 0x10: literal never indexed, 0x00: literal without indexing; both with a new (literal) name.
    bytes.push(h.neverIndex ? 0x10 : 0x00);
    pushString(bytes, h.name);
    pushString(bytes, h.value);
  }
  const block = Buffer.from(bytes);
  const frames: Buffer[] = [];
  for (let off = 0, first = true; first || off < block.length; first = false) {
    const piece = block.subarray(off, off + MAX_FRAME_BYTES);
    off += piece.length;
    const last = off >= block.length;
    const head = Buffer.alloc(FRAME_HEADER_BYTES);
    head.writeUIntBE(piece.length, 0, 3);
    head[3] = first ? TYPE_HEADERS : TYPE_CONTINUATION;
    head[4] = (first ? endStream : 0) | (last ? FLAG_END_HEADERS : 0);
    head.writeUInt32BE(streamId, 5);
    frames.push(head, piece);
  }
  return Buffer.concat(frames);
}
