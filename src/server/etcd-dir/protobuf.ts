/**
 * A strict reader of the few protobuf messages of etcd's data dir that tsetcd has no generated code
 * for (walpb.Record, walpb.Snapshot, raftpb.Entry, HardState, ConfChange, Snapshot, snappb.Snapshot,
 * etcdserverpb.Metadata, the v2 etcdserverpb.Request): fields by number, varints as bigint, bytes as
 * views into the input. Anything malformed (a truncated varint or field, a wire type the message
 * cannot have) throws `ProtoError`, which the callers turn into an error naming the file.
 */

/** A malformed message. */
export class ProtoError extends Error {
  override name = 'ProtoError';
}

/** One message's fields: number -> values in file order (repeated fields keep every value). */
export class ProtoFields {
  private readonly fields = new Map<number, (bigint | Buffer)[]>();

  constructor(buf: Buffer, what: string) {
    let i = 0;
    const varint = (): bigint => {
      let v = 0n;
      for (let shift = 0n; shift < 70n; shift += 7n) {
        if (i >= buf.length) throw new ProtoError(`${what}: truncated varint`);
        const x = buf[i++]!;
        v |= BigInt(x & 0x7f) << shift;
        if ((x & 0x80) === 0) return BigInt.asUintN(64, v);
      }
      throw new ProtoError(`${what}: varint too long`);
    };
    while (i < buf.length) {
      const tag = varint();
      const field = Number(tag >> 3n);
      const wire = Number(tag & 7n);
      if (field === 0) throw new ProtoError(`${what}: field number 0`);
      let value: bigint | Buffer;
      switch (wire) {
        case 0:
          value = varint();
          break;
        case 1:
        case 5: {
          const n = wire === 1 ? 8 : 4;
          if (i + n > buf.length) throw new ProtoError(`${what}: truncated field ${field}`);
          value = buf.subarray(i, i + n);
          i += n;
          break;
        }
        case 2: {
          const len = varint();
          if (len > BigInt(buf.length - i)) throw new ProtoError(`${what}: field ${field} runs past the end`);
          value = buf.subarray(i, i + Number(len));
          i += Number(len);
          break;
        }
        default:
          throw new ProtoError(`${what}: field ${field} has wire type ${wire}`);
      }
      const list = this.fields.get(field);
      if (list) list.push(value);
      else this.fields.set(field, [value]);
    }
  }

  /** The last value of varint field `n` (0 when absent); refuses a field of another wire type. */
  uint(n: number, what: string): bigint {
    const v = this.fields.get(n)?.at(-1);
    if (v === undefined) return 0n;
    if (typeof v !== 'bigint') throw new ProtoError(`${what}: field ${n} is not a varint`);
    return v;
  }

  /** `uint` as a number; refuses one above 2^53 (an index or term no real log reaches). */
  num(n: number, what: string): number {
    const v = this.uint(n, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtoError(`${what}: field ${n} = ${v} out of range`);
    return Number(v);
  }

  /** The last value of length-delimited field `n` (empty when absent). */
  bytes(n: number, what: string): Buffer {
    const v = this.fields.get(n)?.at(-1);
    if (v === undefined) return Buffer.alloc(0);
    if (typeof v === 'bigint') throw new ProtoError(`${what}: field ${n} is not length-delimited`);
    return v;
  }

  /** Whether field `n` is present. */
  has(n: number): boolean {
    return this.fields.has(n);
  }

  /** Every value of a repeated uint64 field, packed or not. */
  uints(n: number, what: string): bigint[] {
    const out: bigint[] = [];
    for (const v of this.fields.get(n) ?? []) {
      if (typeof v === 'bigint') out.push(v);
      else out.push(...packedVarints(v, what));
    }
    return out;
  }
}

function packedVarints(buf: Buffer, what: string): bigint[] {
  const out: bigint[] = [];
  let v = 0n;
  let shift = 0n;
  for (const x of buf) {
    v |= BigInt(x & 0x7f) << shift;
    shift += 7n;
    if ((x & 0x80) === 0) {
      out.push(BigInt.asUintN(64, v));
      v = 0n;
      shift = 0n;
    } else if (shift >= 70n) throw new ProtoError(`${what}: varint too long`);
  }
  if (shift !== 0n) throw new ProtoError(`${what}: truncated packed varint`);
  return out;
}
