/**
 * Length-prefixed frames on a message stream: each frame is `length:u32be payload`, the payload one
 * `encodeMessage` output. A length of 0 is a link heartbeat and carries nothing. Pure code: the
 * decoder is fed chunks as they arrive and hands back whole payloads; it never allocates more than
 * one frame (bounded by `frameBytesMax`) beyond what it was given.
 */
import { assert } from '../pkg/index.js';
import { TransportError } from './errors.js';
import { FRAME_HEADER_BYTES } from './limits.js';

/** Writes `payloads` as consecutive frames into one new buffer (one write on the wire). */
export function encodeFrames(payloads: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const p of payloads) total += FRAME_HEADER_BYTES + p.byteLength;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const p of payloads) {
    assert(p.byteLength <= 0xffffffff, 'frame payload fits a u32 length');
    out.writeUInt32BE(p.byteLength, pos);
    out.set(p, pos + FRAME_HEADER_BYTES);
    pos += FRAME_HEADER_BYTES + p.byteLength;
  }
  assert(pos === total, 'frames fill the buffer exactly');
  return out;
}

/**
 * Incremental frame decoder. `push` returns the complete payloads found so far (in order), keeping a
 * partial frame for the next call. Throws TransportError 'frame-too-large' as soon as a header
 * announces more than `frameBytesMax` bytes; after a throw the decoder is unusable (the stream it
 * reads must be closed). Returned payloads are views of the pushed chunks (or of one joined copy).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(private readonly frameBytesMax: number) {
    assert(Number.isSafeInteger(frameBytesMax) && frameBytesMax > 0, 'frameBytesMax is a positive integer');
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Buffer[] {
    assert(!this.failed, 'FrameDecoder used after a framing error');
    if (chunk.byteLength === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const length = this.peekLength();
      if (length > this.frameBytesMax) {
        this.failed = true;
        throw new TransportError('frame-too-large', `${length} bytes > ${this.frameBytesMax}`);
      }
      const need = FRAME_HEADER_BYTES + length;
      if (this.buffered < need) break;
      const frame = this.take(need);
      if (length > 0) out.push(frame.subarray(FRAME_HEADER_BYTES));
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.byteLength >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    return this.join().readUInt32BE(0);
  }

  /** Removes and returns the first `n` buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.byteLength < n) first = this.join();
    const taken = first.subarray(0, n);
    if (first.byteLength === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return taken;
  }

  /** Joins every buffered chunk into one (done once per frame that straddles chunks). */
  private join(): Buffer {
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined;
  }
}
