/**
 * A hand-written codec for mvccpb.KeyValue, byte-for-byte what the generated codec (and Go's
 * gogoproto) writes: fields in number order, zero values omitted, int64 as varints (negative
 * values as 10-byte two's complement). It exists because this is the hot path of every put and
 * every read: it sizes the output once, writes into one buffer, and decodes key and value as views
 * of the input instead of copies. kv-codec.test.ts checks it against the generated codec.
 */
import { assert } from '../pkg/index.js';
import type { KeyValue } from '../proto/mvccpb/kv.js';

const TAG_KEY = 0x0a; // field 1, length-delimited
const TAG_CREATE = 0x10; // field 2, varint
const TAG_MOD = 0x18; // field 3, varint
const TAG_VERSION = 0x20; // field 4, varint
const TAG_VALUE = 0x2a; // field 5, length-delimited
const TAG_LEASE = 0x30; // field 6, varint

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Shared BigInts for small values (versions, mostly): BigInts are immutable, so sharing is safe. */
const SMALL_BIGINTS_MAX = 1024;
const SMALL_BIGINTS: bigint[] = Array.from({ length: SMALL_BIGINTS_MAX }, (_, i) => BigInt(i));

/** BigInt(n) for a non-negative safe integer, without allocating for small n. */
export function big(n: number): bigint {
  return n < SMALL_BIGINTS_MAX ? SMALL_BIGINTS[n]! : BigInt(n);
}

function varintSizeNum(v: number): number {
  // v is a non-negative safe integer
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarintNum(buf: Buffer, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}

function int64Size(v: bigint): number {
  if (v >= 0n && v <= MAX_SAFE_BIG) return varintSizeNum(Number(v));
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

function writeInt64(buf: Buffer, off: number, v: bigint): number {
  if (v >= 0n && v <= MAX_SAFE_BIG) return writeVarintNum(buf, off, Number(v));
  let u = BigInt.asUintN(64, v);
  while (u >= 0x80n) {
    buf[off++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[off++] = Number(u);
  return off;
}

/**
 * Encodes a KeyValue whose revisions and version are given as safe integers (the store keeps them
 * as numbers) and whose lease is an int64. Returns a fresh buffer (may come from Node's pool).
 */
export function encodeKeyValue(
  key: Uint8Array,
  createRevision: number,
  modRevision: number,
  version: number,
  value: Uint8Array,
  lease: bigint,
): Buffer {
  assert(createRevision >= 0 && modRevision >= 0 && version >= 0, 'revisions and version are non-negative');
  let size = 0;
  if (key.length > 0) size += 1 + varintSizeNum(key.length) + key.length;
  if (createRevision !== 0) size += 1 + varintSizeNum(createRevision);
  if (modRevision !== 0) size += 1 + varintSizeNum(modRevision);
  if (version !== 0) size += 1 + varintSizeNum(version);
  if (value.length > 0) size += 1 + varintSizeNum(value.length) + value.length;
  if (lease !== 0n) size += 1 + int64Size(lease);
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  if (key.length > 0) {
    buf[off++] = TAG_KEY;
    off = writeVarintNum(buf, off, key.length);
    buf.set(key, off);
    off += key.length;
  }
  if (createRevision !== 0) {
    buf[off++] = TAG_CREATE;
    off = writeVarintNum(buf, off, createRevision);
  }
  if (modRevision !== 0) {
    buf[off++] = TAG_MOD;
    off = writeVarintNum(buf, off, modRevision);
  }
  if (version !== 0) {
    buf[off++] = TAG_VERSION;
    off = writeVarintNum(buf, off, version);
  }
  if (value.length > 0) {
    buf[off++] = TAG_VALUE;
    off = writeVarintNum(buf, off, value.length);
    buf.set(value, off);
    off += value.length;
  }
  if (lease !== 0n) {
    buf[off++] = TAG_LEASE;
    off = writeInt64(buf, off, lease);
  }
  assert(off === size, 'KeyValue encoder size mismatch');
  return buf;
}

/** Encodes a KeyValue object (its bigint revisions and version must be safe integers). */
export function encodeKeyValueOf(kv: KeyValue): Buffer {
  return encodeKeyValue(
    kv.key,
    Number(kv.createRevision),
    Number(kv.modRevision),
    Number(kv.version),
    kv.value,
    kv.lease,
  );
}

/**
 * Encodes a put's KeyValue and returns it with the KeyValue object whose key and value are views
 * into the encoded bytes: one allocation for both, and immune to the caller reusing its buffers.
 * `mod`, if given, is BigInt(modRevision), shared by all changes of a txn.
 */
export function makeKeyValue(
  key: Uint8Array,
  createRevision: number,
  modRevision: number,
  version: number,
  value: Uint8Array,
  lease: bigint,
  mod?: bigint,
): { kv: KeyValue; bytes: Buffer } {
  const bytes = encodeKeyValue(key, createRevision, modRevision, version, value, lease);
  const keyOff = key.length > 0 ? 1 + varintSizeNum(key.length) : 0;
  const leaseBytes = lease !== 0n ? 1 + int64Size(lease) : 0;
  const valueEnd = bytes.length - leaseBytes;
  const kv: KeyValue = {
    key: key.length > 0 ? bytes.subarray(keyOff, keyOff + key.length) : EMPTY,
    createRevision: mod === undefined || createRevision !== modRevision ? big(createRevision) : mod,
    modRevision: mod ?? big(modRevision),
    version: big(version),
    value: value.length > 0 ? bytes.subarray(valueEnd - value.length, valueEnd) : EMPTY,
    lease,
  };
  return { kv, bytes };
}

/** Decoder state: position shared by the helpers below (the codec is synchronous). */
let pos = 0;

const EMPTY = Buffer.alloc(0);

function readVarintNum(buf: Uint8Array): number {
  // Accumulates up to 8 bytes (56 bits) as a number; returns NaN (pos unchanged) when the value is
  // longer or not a safe integer, and the caller falls back to bigint.
  const start = pos;
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 8; i++) {
    const b = buf[pos++];
    assert(b !== undefined, 'truncated varint');
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (Number.isSafeInteger(result)) return result;
      break;
    }
    mul *= 128;
  }
  pos = start;
  return Number.NaN;
}

function readInt64(buf: Uint8Array): bigint {
  const n = readVarintNum(buf);
  if (!Number.isNaN(n)) return big(n);
  let u = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos++];
    assert(b !== undefined, 'truncated varint');
    u |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asIntN(64, u);
    shift += 7n;
  }
  assert(false, 'varint longer than 10 bytes');
}

function readLength(buf: Uint8Array): number {
  const n = readVarintNum(buf);
  assert(!Number.isNaN(n) && pos + n <= buf.length, 'bad length prefix');
  return n;
}

/**
 * Decodes a KeyValue. By default `key` and `value` are views into `buf` (no copy): the caller must
 * own `buf` and never reuse it. With `copy`, they are fresh copies, so `buf` may be a scratch
 * buffer (lmdb's getBinaryFast); `knownKey`, when given, is used as `key` instead of copying it
 * (the caller knows the key bytes, e.g. a single-key lookup). Unknown fields are skipped.
 */
export function decodeKeyValue(buf: Uint8Array, copy = false, knownKey?: Buffer): KeyValue {
  pos = 0;
  const kv: KeyValue = {
    key: EMPTY,
    createRevision: 0n,
    modRevision: 0n,
    version: 0n,
    value: EMPTY,
    lease: 0n,
  };
  const end = buf.length;
  while (pos < end) {
    const tag = buf[pos++]!;
    switch (tag) {
      case TAG_KEY: {
        const n = readLength(buf);
        kv.key = knownKey ?? bytesAt(buf, pos, n, copy);
        pos += n;
        break;
      }
      case TAG_CREATE:
        kv.createRevision = readInt64(buf);
        break;
      case TAG_MOD:
        kv.modRevision = readInt64(buf);
        break;
      case TAG_VERSION:
        kv.version = readInt64(buf);
        break;
      case TAG_VALUE: {
        const n = readLength(buf);
        kv.value = bytesAt(buf, pos, n, copy);
        pos += n;
        break;
      }
      case TAG_LEASE:
        kv.lease = readInt64(buf);
        break;
      default:
        skipField(buf, tag);
    }
  }
  assert(pos === end, 'KeyValue overran its buffer');
  return kv;
}

/** Buffer's native copy, applied to any Uint8Array source (no intermediate view). */
const copyBytes = Buffer.prototype.copy as (
  this: Uint8Array,
  target: Uint8Array,
  targetStart: number,
  sourceStart: number,
  sourceEnd: number,
) => number;

function bytesAt(buf: Uint8Array, start: number, n: number, copy: boolean): Buffer {
  if (!copy) {
    return Buffer.from(buf.buffer, buf.byteOffset + start, n);
  }
  const out = Buffer.allocUnsafe(n);
  copyBytes.call(buf, out, 0, start, start + n);
  return out;
}

function skipField(buf: Uint8Array, firstTagByte: number): void {
  // Re-read the tag as a varint (it may be multi-byte), then skip by wire type.
  pos--;
  const tag = readVarintNum(buf);
  assert(!Number.isNaN(tag) && firstTagByte !== undefined, 'bad tag');
  switch (tag & 7) {
    case 0:
      readInt64(buf);
      return;
    case 1:
      pos += 8;
      return;
    case 2: {
      const n = readLength(buf); // (not `pos += readLength()`: that reads pos before the call)
      pos += n;
      return;
    }
    case 5:
      pos += 4;
      return;
    default:
      assert(false, `unsupported wire type ${tag & 7} in KeyValue`);
  }
}
