/**
 * One encoder writer reused for every message its owner encodes (issue 15: a fresh protobuf
 * BinaryWriter starts at 128 bytes and doubles, so a 300-byte put cost three buffers and two copies
 * before the final one). The owner encodes synchronously and never re-entrantly on one thread;
 * `finish()` copies the bytes out and resets the writer. After a big message the writer is replaced
 * so that its grown buffer is not kept for ever; after a throw, so that no half-written state leaks
 * into the next message.
 */

/** What is needed of a writer (the protobuf runtime's BinaryWriter has it). */
export interface FinishingWriter {
  /** Every byte written since the last finish, as a fresh array; resets the writer. */
  finish(): Uint8Array;
}

/** Messages up to this size leave the writer's buffer in place for the next one. */
export const REUSED_WRITER_KEEP_BYTES = 64 * 1024;

export class ReusedWriter<W extends FinishingWriter> {
  private writer: W;

  constructor(private readonly make: () => W) {
    this.writer = make();
  }

  /** Runs `write` on the writer and returns exactly the bytes it wrote (a fresh copy). */
  encode(write: (w: W) => void): Uint8Array {
    const w = this.writer;
    let out: Uint8Array;
    try {
      write(w);
      out = w.finish();
    } catch (err) {
      this.writer = this.make();
      throw err;
    }
    if (out.length > REUSED_WRITER_KEEP_BYTES) this.writer = this.make();
    return out;
  }
}
