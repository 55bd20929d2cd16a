/**
 * Go's formatting as etcdctl's output uses it: %q quoting (strconv.Quote), humanize.Bytes, Go's
 * time.Duration String(), and encoding/json of etcd's protobuf structs (snake_case json tags with
 * etcd's camelCase exceptions, omitempty, []byte as base64, uint64 exact).
 */

/** strconv.Quote: printable runes kept, \a\b\f\n\r\t\v\\\" escaped, other bytes \xNN, other runes \uNNNN. */
export function goQuote(b: Buffer | string): string {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  const s = buf.toString('utf8');
  const valid = Buffer.from(s).equals(buf);
  let out = '"';
  if (!valid) {
    // Invalid UTF-8: Go escapes the bad bytes one by one; keep it simple and exact for ASCII input.
    for (const byte of buf) out += quoteRune(byte, true);
    return `${out}"`;
  }
  for (const ch of s) out += quoteRune(ch.codePointAt(0)!, false);
  return `${out}"`;
}

function quoteRune(c: number, byteMode: boolean): string {
  switch (c) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
    case 0x5c:
      return '\\\\';
    case 0x22:
      return '\\"';
  }
  if (c >= 0x20 && c < 0x7f) return String.fromCharCode(c);
  if (c < 0x20 || c === 0x7f || (byteMode && c >= 0x80)) return `\\x${c.toString(16).padStart(2, '0')}`;
  // Printable beyond ASCII: Go keeps it when unicode.IsPrint; approximate with the letter/number/mark/punct/symbol classes.
  const ch = String.fromCodePoint(c);
  if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) return ch;
  return c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** github.com/dustin/go-humanize Bytes: SI units, "%.0f %s" from 10 on, "%.1f %s" below. */
export function humanizeBytes(n: bigint | number): string {
  const s = Number(n);
  if (s < 10) return `${s} B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const val = Math.floor((s / 1000 ** e) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${sizes[e]}` : `${roundHalfEven(val)} ${sizes[e]}`;
}

/** Go's %.0f: round half to even (20.5 → "20"), unlike toFixed (→ "21"). */
function roundHalfEven(v: number): string {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5 || (d === 0.5 && f % 2 === 1)) return String(f + 1);
  return String(f);
}

/** Go's time.Duration.String() for a duration in nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const fmt = (v: number, unit: string) => `${trimFloat(v)}${unit}`;
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return fmt(ns / 1e3, 'µs');
  if (ns < 1e9) return fmt(ns / 1e6, 'ms');
  let secs = ns / 1e9;
  let out = '';
  if (secs >= 3600) {
    const h = Math.floor(secs / 3600);
    out += `${h}h`;
    secs -= h * 3600;
  }
  if (secs >= 60 || out !== '') {
    const m = Math.floor(secs / 60);
    out += `${m}m`;
    secs -= m * 60;
  }
  return `${out}${trimFloat(secs)}s`;
}

function trimFloat(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, '');
}

/** JSON names of etcd's fields where the json tag is not the snake_case of the ts-proto name. */
const KEEP = new Set([
  'ID',
  'TTL',
  'grantedTTL',
  'peerURLs',
  'clientURLs',
  'isLearner',
  'memberID',
  'dbSize',
  'raftIndex',
  'raftAppliedIndex',
  'dbSizeInUse',
  'targetID',
  'permType',
]);

function jsonName(k: string, ctx: string): string {
  if (ctx === 'status' && k === 'raftTerm') return 'raftTerm';
  if (ctx === 'leaseStatus' && k === 'ID') return 'id';
  // Go fields without a json tag keep their Go name (clientv3's wrappers: Error, Header, Events...).
  if (KEEP.has(k) || /^[A-Z]/.test(k)) return k;
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** StatusResponse fields etcd 3.6 added (tsetcd fills them; etcdctl 3.4 does not know them). */
const STATUS_36_FIELDS = new Set(['storageVersion', 'dbSizeQuota', 'downgradeInfo']);

/** A value already in Go's JSON text (not quoted again). */
export class Raw {
  constructor(readonly text: string) {}
}

/**
 * encoding/json of an etcd protobuf struct: keys in field order, zero values omitted (omitempty),
 * Buffers as base64, bigints exactly. `ctx` picks the context-dependent names.
 */
export function goJson(v: unknown, ctx = ''): string {
  if (v instanceof Raw) return v.text;
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Buffer.isBuffer(v)) return JSON.stringify(v.toString('base64'));
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v))
    return `[${v.map((x) => goJson(x, ctx === 'leases' ? 'leaseStatus' : ctx)).join(',')}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (isZero(x)) continue;
    // etcd 3.6's Status fields: etcdctl 3.4's StatusResponse has no such Go fields, so prints none.
    if (ctx === 'status' && STATUS_36_FIELDS.has(k)) continue;
    const sub = k === 'header' ? '' : k === 'leases' ? 'leases' : ctx === 'leases' ? '' : ctx;
    parts.push(`${JSON.stringify(jsonName(k, ctx))}:${goJson(x, sub)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Go's omitempty: false, 0, "", nil, empty slice. (Structs are never empty: a nil pointer is.) */
export function isZero(x: unknown): boolean {
  if (x === undefined || x === null || x === false || x === 0 || x === 0n || x === '') return true;
  if (Buffer.isBuffer(x) || Array.isArray(x)) return x.length === 0;
  return false;
}
