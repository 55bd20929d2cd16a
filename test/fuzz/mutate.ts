/**
 * Protobuf-level mutations of a valid encoded message: bit flips, truncation, garbage, and type
 * confusion (a known field number re-sent with another wire type, illegal wire types, tag 0, huge or
 * negative lengths), applied at the top level or inside a nested message.
 */
import type { Rng } from './rng.js';

export interface WireField {
  field: number;
  wireType: number;
  /** Offsets of the whole field (tag included) in the message. */
  start: number;
  end: number;
  /** For wire type 2: the payload's offsets. */
  payloadStart?: number;
}

function readVarint(buf: Buffer, pos: number): { value: bigint; next: number } | undefined {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) return undefined;
    const b = buf[pos + i]!;
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  return undefined;
}

/** Splits a well-formed message into its top-level fields; undefined if it is not well-formed. */
export function parseFields(buf: Buffer): WireField[] | undefined {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const tag = readVarint(buf, pos);
    if (!tag || tag.value === 0n) return undefined;
    const field = Number(tag.value >> 3n);
    const wireType = Number(tag.value & 7n);
    pos = tag.next;
    let payloadStart: number | undefined;
    switch (wireType) {
      case 0: {
        const v = readVarint(buf, pos);
        if (!v) return undefined;
        pos = v.next;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const len = readVarint(buf, pos);
        if (!len || len.value > BigInt(buf.length)) return undefined;
        payloadStart = len.next;
        pos = len.next + Number(len.value);
        break;
      }
      default:
        return undefined;
    }
    if (pos > buf.length) return undefined;
    out.push({ field, wireType, start, end: pos, ...(payloadStart !== undefined ? { payloadStart } : {}) });
  }
  return out;
}

export function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}

export function tag(field: number, wireType: number): Buffer {
  return varint((BigInt(field) << 3n) | BigInt(wireType));
}

/** A field with the given wire type and a plausible (or deliberately wrong) payload. */
function fieldOfWireType(rng: Rng, field: number, wireType: number): Buffer {
  const t = tag(field, wireType);
  switch (wireType) {
    case 0:
      return Buffer.concat([t, varint(rng.pick([0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(rng.u32())]))]);
    case 1:
      return Buffer.concat([t, rng.bytes(8)]);
    case 5:
      return Buffer.concat([t, rng.bytes(4)]);
    case 2: {
      const body = rng.bytes(rng.int(12));
      return Buffer.concat([t, varint(body.length), body]);
    }
    default:
      // 3/4 (groups) and the illegal 6/7: a tag followed by some bytes
      return Buffer.concat([t, rng.bytes(rng.int(4))]);
  }
}

export type ProtoMutation =
  | 'random-bytes'
  | 'bit-flip'
  | 'truncate'
  | 'append-garbage'
  | 'wrong-wire-type'
  | 'illegal-wire-type'
  | 'tag-zero'
  | 'huge-length'
  | 'negative-length'
  | 'overlong-varint'
  | 'unknown-field'
  | 'duplicate-field'
  | 'nested';

export const PROTO_MUTATIONS: ProtoMutation[] = [
  'random-bytes',
  'bit-flip',
  'truncate',
  'append-garbage',
  'wrong-wire-type',
  'illegal-wire-type',
  'tag-zero',
  'huge-length',
  'negative-length',
  'overlong-varint',
  'unknown-field',
  'duplicate-field',
  'nested',
];

/** Applies `kind` to the encoded message `msg`; returns the mutated bytes. */
export function mutateMessage(rng: Rng, msg: Buffer, kind: ProtoMutation, depth = 0): Buffer {
  const fields = parseFields(msg) ?? [];
  const pickField = (): WireField | undefined => (fields.length > 0 ? rng.pick(fields) : undefined);
  const knownField = (): number => pickField()?.field ?? rng.range(1, 12);
  const spliceField = (replacement: Buffer): Buffer => {
    const f = pickField();
    if (!f) return Buffer.concat([msg, replacement]);
    return Buffer.concat([msg.subarray(0, f.start), replacement, msg.subarray(f.end)]);
  };
  switch (kind) {
    case 'random-bytes':
      return rng.bytes(
        rng.weighted([
          [8, rng.int(64)],
          [1, rng.range(64, 4096)],
        ]),
      );
    case 'bit-flip': {
      if (msg.length === 0) return rng.bytes(rng.range(1, 8));
      const out = Buffer.from(msg);
      const flips = rng.range(1, 8);
      for (let i = 0; i < flips; i++) {
        const at = rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 'truncate':
      return msg.length === 0 ? Buffer.from([0x0a]) : msg.subarray(0, rng.int(msg.length));
    case 'append-garbage':
      return Buffer.concat([msg, rng.bytes(rng.range(1, 16))]);
    case 'wrong-wire-type': {
      const f = pickField();
      const field = f?.field ?? rng.range(1, 12);
      const wrong = rng.pick([0, 1, 2, 3, 4, 5].filter((w) => w !== f?.wireType));
      return spliceField(fieldOfWireType(rng, field, wrong));
    }
    case 'illegal-wire-type':
      return Buffer.concat([msg, fieldOfWireType(rng, knownField(), rng.pick([6, 7]))]);
    case 'tag-zero':
      return rng.chance(0.5)
        ? Buffer.concat([Buffer.from([0, rng.int(256)]), msg])
        : Buffer.concat([msg, Buffer.from([0])]);
    case 'huge-length':
      return Buffer.concat([
        msg,
        tag(knownField(), 2),
        varint(rng.pick([2 ** 31 - 1, 2 ** 32 + 5, 2 ** 62])),
        rng.bytes(4),
      ]);
    case 'negative-length':
      return Buffer.concat([msg, tag(knownField(), 2), varint(-BigInt(rng.range(1, 1000))), rng.bytes(4)]);
    case 'overlong-varint':
      return Buffer.concat([
        msg,
        tag(knownField(), 0),
        Buffer.alloc(rng.range(10, 14), 0xff),
        Buffer.from([0x01]),
      ]);
    case 'unknown-field':
      return Buffer.concat([
        msg,
        fieldOfWireType(rng, rng.pick([15, 99, 2 ** 29 - 1]), rng.pick([0, 1, 2, 5])),
      ]);
    case 'duplicate-field': {
      const f = pickField();
      if (!f) return Buffer.concat([msg, msg]);
      const copy = msg.subarray(f.start, f.end);
      const times = rng.weighted([
        [5, 2],
        [1, rng.range(100, 2000)],
      ]);
      return Buffer.concat([msg, ...Array.from({ length: times }, () => copy)]);
    }
    case 'nested': {
      // mutate inside a length-delimited field that itself parses as a message
      const nested = fields.filter((f) => f.wireType === 2 && f.payloadStart !== undefined);
      if (nested.length === 0 || depth > 3) return mutateMessage(rng, msg, 'wrong-wire-type', depth);
      const f = rng.pick(nested);
      const inner = msg.subarray(f.payloadStart, f.end);
      const kinds = PROTO_MUTATIONS.filter((k) => k !== 'random-bytes');
      const mutated = mutateMessage(rng, inner, rng.pick(kinds), depth + 1);
      return Buffer.concat([
        msg.subarray(0, f.start),
        tag(f.field, 2),
        varint(mutated.length),
        mutated,
        msg.subarray(f.end),
      ]);
    }
  }
}
