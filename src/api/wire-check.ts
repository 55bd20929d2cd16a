/**
 * The strict half of request decoding. Our generated decoders (ts-proto) skip a known field that
 * arrives with another wire type and stop quietly at tag 0 or a stray end-group; etcd's gogoproto
 * decoders reject all of these. So before decoding, a request's bytes are walked once against the
 * wire schema generated from our protos (src/proto/wire-schema.ts), and what etcd's decoder would
 * refuse is refused with the text it gives ("proto: wrong wireType = 0 for field Key", ...).
 *
 * Only the etcd packages are checked: grpc.health is golang/protobuf in etcd, which tolerates
 * these, and our decoders already tolerate them too.
 */
import { WIRE_MESSAGES, WIRE_METHOD_INPUT, type WireMessageShape } from '../proto/wire-schema.js';

const UNEXPECTED_EOF = 'unexpected EOF';
const INTEGER_OVERFLOW = 'proto: integer overflow';
const NEGATIVE_LENGTH = 'proto: negative length found during unmarshaling';

class WireError extends Error {}

const STRICT_PACKAGES = ['/etcdserverpb.', '/v3lockpb.', '/v3electionpb.'];

/** The request type of each strictly checked method. */
const requestShape = new Map<string, WireMessageShape>();
for (const [path, type] of Object.entries(WIRE_METHOD_INPUT)) {
  const shape = WIRE_MESSAGES[type];
  if (shape && STRICT_PACKAGES.some((p) => path.startsWith(p))) requestShape.set(path, shape);
}

/**
 * Checks a request body for method `path`; returns etcd's decoder error text, or undefined when the
 * bytes are well-formed (or the method is not checked).
 */
export function checkRequestWire(path: string, body: Uint8Array): string | undefined {
  const shape = requestShape.get(path);
  if (!shape) return undefined;
  try {
    checkMessage(shape, body, 0, body.length);
    return undefined;
  } catch (err) {
    if (err instanceof WireError) return err.message;
    throw err;
  }
}

/** Where the last varint ended (the hot path allocates no tuple per read). */
let after = 0;

/**
 * A varint as gogo reads it: at most 10 bytes (64 bits), else overflow; the end of data is EOF. A
 * value of up to 4 bytes (every tag and length in practice) comes back as a number, a longer one as
 * the uint64 bigint.
 */
function varint(buf: Uint8Array, pos: number, end: number): number | bigint {
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw new WireError(UNEXPECTED_EOF);
    const b = buf[pos++]!;
    value |= (b & 0x7f) << shift;
    if (b < 0x80) {
      after = pos;
      return value;
    }
  }
  let big = BigInt(value);
  for (let shift = 28n; ; shift += 7n) {
    if (shift >= 64n) throw new WireError(INTEGER_OVERFLOW);
    if (pos >= end) throw new WireError(UNEXPECTED_EOF);
    const b = buf[pos++]!;
    big |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) {
      after = pos;
      return BigInt.asUintN(64, big);
    }
  }
}

/** A length as Go's int (negative when bit 63 is set); returns the payload's end, `after` its start. */
function lengthDelimited(buf: Uint8Array, pos: number, end: number): number {
  const raw = varint(buf, pos, end);
  const start = after;
  let len: number;
  if (typeof raw === 'number') len = raw;
  else {
    const signed = BigInt.asIntN(64, raw);
    if (signed < 0n) throw new WireError(NEGATIVE_LENGTH);
    len = signed > BigInt(end) ? end + 1 : Number(signed);
  }
  if (start + len > end) throw new WireError(UNEXPECTED_EOF);
  after = start;
  return start + len;
}

function checkMessage(shape: WireMessageShape, buf: Uint8Array, pos: number, end: number): void {
  while (pos < end) {
    const start = pos;
    const tag = varint(buf, pos, end);
    pos = after;
    let fieldNum: number;
    let wireType: number;
    if (typeof tag === 'number') {
      fieldNum = tag >>> 3;
      wireType = tag & 7;
    } else {
      fieldNum = Number(BigInt.asIntN(32, tag >> 3n));
      wireType = Number(tag & 7n);
    }
    if (wireType === 4) throw new WireError(`proto: ${shape.go}: wiretype end group for non-group`);
    // (gogo prints the whole tag where it says "wire type")
    if (fieldNum <= 0) throw new WireError(`proto: ${shape.go}: illegal tag ${fieldNum} (wire type ${tag})`);
    const field = shape.fields[fieldNum];
    if (!field) {
      pos = start + skipField(buf, start, end);
      continue;
    }
    if (wireType !== field.wire && !(field.packable && wireType === 2)) {
      throw new WireError(`proto: wrong wireType = ${wireType} for field ${field.go}`);
    }
    if (wireType === 2 && field.packable && field.wire === 0) {
      // packed varints: every one must be complete and at most 10 bytes
      const to = lengthDelimited(buf, pos, end);
      for (let p = after; p < to; p = after) varint(buf, p, to);
      pos = to;
      continue;
    }
    pos = skipValue(buf, pos, end, wireType, field.message);
  }
}

/** Skips one value of `wireType` at `pos` (checking a nested message against its shape). */
function skipValue(buf: Uint8Array, pos: number, end: number, wireType: number, message?: string): number {
  switch (wireType) {
    case 0:
      varint(buf, pos, end);
      return after;
    case 1:
      if (pos + 8 > end) throw new WireError(UNEXPECTED_EOF);
      return pos + 8;
    case 5:
      if (pos + 4 > end) throw new WireError(UNEXPECTED_EOF);
      return pos + 4;
    default: {
      const to = lengthDelimited(buf, pos, end);
      const nested = message !== undefined ? WIRE_MESSAGES[message] : undefined;
      if (nested) checkMessage(nested, buf, after, to);
      return to;
    }
  }
}

/** Length of the unknown field at `pos` (tag included), as gogo's skip function measures it. */
function skipField(buf: Uint8Array, pos: number, end: number): number {
  const start = pos;
  const tag = varint(buf, pos, end);
  pos = after;
  const wireType = typeof tag === 'number' ? tag & 7 : Number(tag & 7n);
  switch (wireType) {
    case 0:
    case 1:
    case 2:
    case 5:
      return skipValue(buf, pos, end, wireType) - start;
    case 3: {
      // a group: skip fields until its end-group tag
      for (;;) {
        if (pos >= end) throw new WireError(UNEXPECTED_EOF);
        const inner = varint(buf, pos, end);
        if ((typeof inner === 'number' ? inner & 7 : Number(inner & 7n)) === 4) return after - start;
        pos += skipField(buf, pos, end);
      }
    }
    case 4:
      return pos - start;
    default:
      throw new WireError(`proto: illegal wireType ${wireType}`);
  }
}
