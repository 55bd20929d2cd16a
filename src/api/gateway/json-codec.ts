/**
 * grpc-gateway's JSON, as etcd 3.4's gateway speaks it (golang/protobuf jsonpb with OrigName), to and
 * from protobuf binary. Going through the binary form keeps the gateway exact: a request decoded
 * here reaches the handler as the same object a gRPC call would produce, and a response shows
 * exactly the fields that are on the wire.
 *
 * Output (jsonpb Marshal, OrigName, no EmitDefaults): proto field names, fields in declaration
 * order, zero scalars and empty repeated fields left out (oneof members are kept when set, even to
 * zero, as they are on the wire), 64-bit integers as strings, enums by name, bytes as standard
 * base64. Input (jsonpb Unmarshal, AllowUnknownFields): proto or JSON field names, 64-bit integers
 * as numbers or strings, enums by name or number, unknown fields ignored, `null` leaves a default.
 */
import { JSON_ENUMS, JSON_MESSAGES, type JsonField } from '../../proto/json-schema.js';
import { JsonNumber } from './json-parse.js';

/** FieldDescriptorProto.Type numbers. */
const T = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  message: 11,
  bytes: 12,
  uint32: 13,
  enum: 14,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
} as const;

/** A request body that jsonpb would refuse; the text is Go's where we know it. */
export class JsonDecodeError extends Error {}

// ---------------------------------------------------------------- JSON → binary

/** Encodes a parsed JSON value as the binary form of `type` (a message type name). */
export function jsonToProto(type: string, value: unknown): Buffer {
  const w = new Writer();
  writeMessage(w, type, value);
  return w.finish();
}

function fieldsOf(type: string): JsonField[] {
  const fields = JSON_MESSAGES[type];
  if (!fields) throw new Error(`gateway: no JSON schema for ${type}`);
  return fields;
}

function writeMessage(w: Writer, type: string, value: unknown): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof JsonNumber) {
    throw new JsonDecodeError(
      `json: cannot unmarshal ${jsonKind(value)} into Go value of type map[string]json.RawMessage`,
    );
  }
  const obj = value as Record<string, unknown>;
  for (const f of fieldsOf(type)) {
    const [protoName, jsonName, number, ftype, repeated, oneof, ref] = f;
    let v = obj[protoName];
    if (v === undefined && jsonName !== protoName) v = obj[jsonName];
    if (v === undefined || v === null) continue;
    if (repeated) {
      if (!Array.isArray(v)) {
        throw new JsonDecodeError(
          `json: cannot unmarshal ${jsonKind(v)} into Go value of type []json.RawMessage`,
        );
      }
      if (isPackable(ftype)) {
        const inner = new Writer();
        for (const item of v) writeScalar(inner, ftype, item, ref);
        w.tag(number, 2);
        w.bytes(inner.finish());
      } else {
        for (const item of v) writeField(w, number, ftype, item, ref, true);
      }
    } else {
      writeField(w, number, ftype, v, ref, oneof === 1);
    }
  }
}

function isPackable(ftype: number): boolean {
  return ftype !== T.string && ftype !== T.bytes && ftype !== T.message;
}

function wireTypeOf(ftype: number): number {
  switch (ftype) {
    case T.double:
    case T.fixed64:
    case T.sfixed64:
      return 1;
    case T.float:
    case T.fixed32:
    case T.sfixed32:
      return 5;
    case T.string:
    case T.bytes:
    case T.message:
      return 2;
    default:
      return 0;
  }
}

/** Writes one field; zero scalars are skipped unless `always` (oneof members and repeated items). */
function writeField(
  w: Writer,
  number: number,
  ftype: number,
  v: unknown,
  ref: string | undefined,
  always: boolean,
): void {
  if (ftype === T.message) {
    const inner = new Writer();
    writeMessage(inner, ref ?? '', v);
    w.tag(number, 2);
    w.bytes(inner.finish());
    return;
  }
  const probe = new Writer();
  const isZero = writeScalar(probe, ftype, v, ref);
  if (isZero && !always) return;
  w.tag(number, wireTypeOf(ftype));
  w.raw(probe.finish());
}

/** Writes a scalar's payload (no tag); returns whether it was the type's zero value. */
function writeScalar(w: Writer, ftype: number, v: unknown, ref: string | undefined): boolean {
  switch (ftype) {
    case T.string: {
      if (typeof v !== 'string') throw typeError(v, 'string');
      const b = Buffer.from(v, 'utf8');
      w.bytes(b);
      return b.length === 0;
    }
    case T.bytes: {
      if (typeof v !== 'string') throw typeError(v, '[]uint8');
      const b = decodeBase64(v);
      w.bytes(b);
      return b.length === 0;
    }
    case T.bool: {
      if (typeof v !== 'boolean') throw typeError(v, 'bool');
      w.varint(v ? 1n : 0n);
      return !v;
    }
    case T.enum: {
      const n = enumNumber(v, ref ?? '');
      w.varint(BigInt.asUintN(64, BigInt(n)));
      return n === 0;
    }
    case T.double:
    case T.float: {
      const n = numberOf(v, ftype === T.double ? 'float64' : 'float32');
      const b = Buffer.alloc(ftype === T.double ? 8 : 4);
      if (ftype === T.double) b.writeDoubleLE(n);
      else b.writeFloatLE(n);
      w.raw(b);
      return n === 0;
    }
    default: {
      const bits =
        ftype === T.int32 ||
        ftype === T.uint32 ||
        ftype === T.fixed32 ||
        ftype === T.sfixed32 ||
        ftype === T.sint32
          ? 32
          : 64;
      const signed =
        ftype === T.int32 ||
        ftype === T.int64 ||
        ftype === T.sfixed32 ||
        ftype === T.sfixed64 ||
        ftype === T.sint32 ||
        ftype === T.sint64;
      const n = integerOf(v, bits, signed);
      if (ftype === T.fixed64 || ftype === T.sfixed64) {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt.asUintN(64, n));
        w.raw(b);
      } else if (ftype === T.fixed32 || ftype === T.sfixed32) {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(Number(BigInt.asUintN(32, n)));
        w.raw(b);
      } else if (ftype === T.sint32 || ftype === T.sint64) {
        w.varint(BigInt.asUintN(64, n >= 0n ? n << 1n : (-n << 1n) - 1n));
      } else {
        w.varint(BigInt.asUintN(64, n));
      }
      return n === 0n;
    }
  }
}

function goType(bits: number, signed: boolean): string {
  return `${signed ? 'int' : 'uint'}${bits}`;
}

function integerOf(v: unknown, bits: number, signed: boolean): bigint {
  let text: string;
  if (v instanceof JsonNumber) text = v.text;
  else if (typeof v === 'string')
    text = v; // jsonpb strips the quotes of a quoted number
  else throw typeError(v, goType(bits, signed));
  if (!/^-?\d+$/.test(text)) {
    if (v instanceof JsonNumber || /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) {
      throw new JsonDecodeError(
        `json: cannot unmarshal number ${text} into Go value of type ${goType(bits, signed)}`,
      );
    }
    throw new JsonDecodeError(`invalid character '${text.charAt(0)}' looking for beginning of value`);
  }
  const n = BigInt(text);
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (n < min || n > max) {
    throw new JsonDecodeError(
      `json: cannot unmarshal number ${text} into Go value of type ${goType(bits, signed)}`,
    );
  }
  return n;
}

function numberOf(v: unknown, go: string): number {
  if (v instanceof JsonNumber) return Number(v.text);
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  throw typeError(v, go);
}

function enumNumber(v: unknown, ref: string): number {
  const values = JSON_ENUMS[ref] ?? {};
  if (v instanceof JsonNumber && /^-?\d+$/.test(v.text)) return Number(v.text);
  if (typeof v === 'string') {
    for (const [num, n] of Object.entries(values)) if (n === v) return Number(num);
    throw new JsonDecodeError(`unknown value ${JSON.stringify(v)} for enum ${goEnumName(ref)}`);
  }
  throw typeError(v, 'int32');
}

/** etcdserverpb.RangeRequest.SortOrder → etcdserverpb.RangeRequest_SortOrder (Go's type name). */
function goEnumName(ref: string): string {
  const dot = ref.indexOf('.');
  return ref.slice(0, dot + 1) + ref.slice(dot + 1).replaceAll('.', '_');
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof JsonNumber) return 'number';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}

function typeError(v: unknown, go: string): JsonDecodeError {
  return new JsonDecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type ${go}`);
}

/** Go's encoding/json reads []byte as standard base64 (padding required); URL-safe is refused. */
function decodeBase64(s: string): Buffer {
  const clean = s.replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    let at = clean.search(/[^A-Za-z0-9+/=]/);
    if (at < 0) at = clean.length - (clean.length % 4 || 4);
    throw new JsonDecodeError(`illegal base64 data at input byte ${Math.max(at, 0)}`);
  }
  return Buffer.from(clean, 'base64');
}

class Writer {
  private chunks: Buffer[] = [];
  tag(number: number, wire: number): void {
    this.varint(BigInt(number) * 8n + BigInt(wire));
  }
  varint(n: bigint): void {
    const out: number[] = [];
    let x = n;
    while (x > 0x7fn) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.chunks.push(Buffer.from(out));
  }
  bytes(b: Buffer): void {
    this.varint(BigInt(b.length));
    this.chunks.push(b);
  }
  raw(b: Buffer): void {
    this.chunks.push(b);
  }
  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

// ---------------------------------------------------------------- binary → JSON

/** Decodes the binary form of `type` into jsonpb's JSON object (key order as jsonpb writes it). */
export function protoToJson(type: string, bytes: Uint8Array): Record<string, unknown> {
  const fields = fieldsOf(type);
  const byNumber = new Map<number, JsonField>();
  for (const f of fields) byNumber.set(f[2], f);
  const values = new Map<number, unknown[]>();
  const r = new Reader(bytes);
  while (!r.done()) {
    const key = r.varint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    const f = byNumber.get(number);
    if (!f) {
      r.skip(wire);
      continue;
    }
    const list = values.get(number) ?? [];
    values.set(number, list);
    const ftype = f[3];
    if (wire === 2 && isPackable(ftype)) {
      const inner = new Reader(r.bytes());
      while (!inner.done()) list.push(readScalar(inner, ftype, f[6]));
    } else if (ftype === T.message) {
      list.push(protoToJson(f[6] ?? '', r.bytes()));
    } else {
      list.push(readScalar(r, ftype, f[6]));
    }
  }
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const list = values.get(f[2]);
    if (!list || list.length === 0) continue;
    if (f[4]) out[f[0]] = list;
    else {
      const v = list[list.length - 1];
      if (f[5] === 0 && f[3] !== T.message && isZeroJson(v)) continue;
      out[f[0]] = v;
    }
  }
  return out;
}

function isZeroJson(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === '0';
}

function readScalar(r: Reader, ftype: number, ref: string | undefined): unknown {
  switch (ftype) {
    case T.string:
      return Buffer.from(r.bytes()).toString('utf8');
    case T.bytes:
      return Buffer.from(r.bytes()).toString('base64');
    case T.bool:
      return r.varint() !== 0n;
    case T.enum: {
      const n = Number(BigInt.asIntN(32, r.varint()));
      return JSON_ENUMS[ref ?? '']?.[n] ?? n;
    }
    case T.double:
      return r.fixed(8).readDoubleLE();
    case T.float:
      return r.fixed(4).readFloatLE();
    case T.fixed64:
      return r.fixed(8).readBigUInt64LE().toString();
    case T.sfixed64:
      return r.fixed(8).readBigInt64LE().toString();
    case T.fixed32:
      return r.fixed(4).readUInt32LE();
    case T.sfixed32:
      return r.fixed(4).readInt32LE();
    case T.int32:
      return Number(BigInt.asIntN(32, r.varint()));
    case T.uint32:
      return Number(BigInt.asUintN(32, r.varint()));
    case T.int64:
      return BigInt.asIntN(64, r.varint()).toString();
    case T.uint64:
      return BigInt.asUintN(64, r.varint()).toString();
    case T.sint32:
    case T.sint64: {
      const z = r.varint();
      const n = z & 1n ? -((z + 1n) >> 1n) : z >> 1n;
      return ftype === T.sint32 ? Number(n) : n.toString();
    }
    default:
      throw new Error(`gateway: field type ${ftype} not supported`);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('gateway: truncated varint');
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  bytes(): Uint8Array {
    const n = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  fixed(n: number): Buffer {
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`gateway: wire type ${wire} not supported`);
  }
}
