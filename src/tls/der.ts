/**
 * The little DER (ASN.1 distinguished encoding) this folder needs: a reader that walks TLVs (to
 * take serial numbers out of a CRL) and a writer (to build auto-TLS certificates). Not a general
 * ASN.1 library: definite lengths only, as DER requires; anything else is a DerError.
 */

/** Malformed DER input. */
export class DerError extends Error {
  override name = 'DerError';
}

/** One TLV: its tag byte, its value bytes and where the next TLV starts. */
export interface Tlv {
  tag: number;
  value: Buffer;
  end: number;
}

/** Most bytes a length field may use (4 = values up to 4 GiB, far above any CRL we read). */
const LENGTH_BYTES_MAX = 4;

/** Reads the TLV at `offset` of `buf`. Throws DerError when it is truncated or malformed. */
export function readTlv(buf: Buffer, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated TLV');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used in X.509');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > LENGTH_BYTES_MAX) throw new DerError('unsupported length');
    if (p + n > buf.length) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new DerError('truncated value');
  return { tag, value: buf.subarray(p, p + len), end: p + len };
}

/** The TLVs directly inside a constructed value (a SEQUENCE's elements). */
export function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let p = 0; p < value.length; ) {
    const t = readTlv(value, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const value = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

export const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
export const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);

/** A non-negative INTEGER from big-endian magnitude bytes (a leading 0 added when needed). */
export function uint(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const b: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      b.unshift((v & 0x7f) | (b.length > 0 ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...b);
  }
  return tlv(0x06, Buffer.from(out));
}

export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
export const octetString = (b: Buffer): Buffer => tlv(0x04, b);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));

/** UTCTime (years 1950-2049) or GeneralizedTime otherwise, as RFC 5280 requires. */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(`${iso.slice(2)}Z`));
  return tlv(0x18, Buffer.from(`${iso}Z`));
}
