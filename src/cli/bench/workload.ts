/**
 * The requests a benchmark sends, as ready-to-send protobuf bytes. Requests are encoded once with
 * the generated etcd messages into a template; a request whose key changes is a copy of the
 * template with the key bytes patched in place, so the hot path never builds message objects or
 * runs the protobuf encoder. Keys are as etcd's benchmark makes them: `key-size` bytes, zero
 * filled, starting with Go's binary.PutVarint (zig-zag varint) of the key number.
 */
import type { Rng } from '../../pkg/index.js';
import {
  KVService,
  PutRequest,
  RangeRequest,
  RangeResponse,
  RequestOp,
  TxnRequest,
} from '../../proto/etcdserverpb/rpc.js';
import type { BenchConfig } from './flags.js';

/** A stream of requests for one gRPC method. */
export interface Workload {
  /** Full gRPC method path, e.g. `/etcdserverpb.KV/Put`. */
  method: string;
  /**
   * The encoded request number `i` (0-based within a phase). The caller must not modify the
   * buffer: it may be shared by every request.
   */
  request(i: number): Buffer;
  /**
   * For side-effect-free workloads (range): describes one encoded response, e.g. `1 kv, 273 B`.
   * The runner sends one probe request and shows this, so an empty or mismatched read set (a key
   * present on one target only) is visible next to the numbers.
   */
  describeResponse?(response: Buffer): string;
}

/** Writes Go's binary.PutVarint(n) (zig-zag, then base-128 little endian) at buf[at..]. Returns bytes written. */
export function putVarint(buf: Buffer, at: number, n: number): number {
  let v = 2 * n; // zig-zag of a non-negative number
  let i = at;
  while (v >= 128) {
    buf[i++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[i++] = v;
  return i - at;
}

/** The key etcd's benchmark uses for key number n: keySize bytes, zero filled, varint(n) first. */
export function benchKey(n: number, keySize: number): Buffer {
  const key = Buffer.alloc(keySize);
  putVarint(key, 0, n);
  return key;
}

/**
 * An encoded request with the byte offsets of its keys. Built by encoding the same message twice,
 * with all key bytes 0x00 and then 0x01: the bytes that differ are exactly the key bytes, because
 * fixed-size keys leave the rest of the encoding unchanged.
 */
export interface RequestTemplate {
  /** The encoding with every key all zero. */
  bytes: Buffer;
  /** Start offset of each key, in the order the keys appear in the encoding. */
  keyOffsets: number[];
}

/** Builds a template from `encode(fill)`, which must encode `keyCount` keys of `keySize` bytes of `fill`. */
export function makeTemplate(
  encode: (fill: number) => Uint8Array,
  keyCount: number,
  keySize: number,
): RequestTemplate {
  const zero = Buffer.from(encode(0));
  const one = Buffer.from(encode(1));
  if (zero.length !== one.length) throw new Error('bench: key fill changed the request size');
  const diff: number[] = [];
  for (let i = 0; i < zero.length; i++) if (zero[i] !== one[i]) diff.push(i);
  if (diff.length !== keyCount * keySize) {
    throw new Error(
      `bench: found ${diff.length} key bytes in the request template, want ${keyCount * keySize}`,
    );
  }
  const keyOffsets: number[] = [];
  for (let k = 0; k < keyCount; k++) {
    const start = diff[k * keySize]!;
    if (diff[k * keySize + keySize - 1] !== start + keySize - 1)
      throw new Error('bench: key bytes are not contiguous');
    keyOffsets.push(start);
  }
  return { bytes: zero, keyOffsets };
}

/** Random bytes from the seeded generator (the value every put writes). */
function randomBytes(n: number, rng: Rng): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/**
 * Builds the workload of `cfg.command`. Key numbers: with --sequential-keys request i uses
 * i*ops .. i*ops+ops-1 (mod key space); otherwise a random start from `rng`, then consecutive keys,
 * so the keys of one txn always differ (flags guarantee txn-ops <= key-space-size).
 */
export function buildWorkload(cfg: BenchConfig, rng: Rng): Workload {
  if (cfg.command === 'range') {
    const bytes = Buffer.from(
      RangeRequest.encode(
        RangeRequest.fromPartial({
          key: Buffer.from(cfg.rangeKey),
          rangeEnd: Buffer.from(cfg.rangeEnd),
          serializable: cfg.consistency === 's',
        }),
      ).finish(),
    );
    return {
      method: KVService.range.path,
      request: () => bytes,
      describeResponse(response: Buffer): string {
        const r = RangeResponse.decode(response);
        return `${r.kvs.length} kv${r.kvs.length === 1 ? '' : 's'}, ${response.length} B`;
      },
    };
  }

  const value = randomBytes(cfg.valSize, rng);
  const ops = cfg.command === 'txn-put' ? cfg.txnOps : 1;
  const keySize = cfg.keySize;
  const putOf = (fill: number): PutRequest =>
    PutRequest.fromPartial({ key: Buffer.alloc(keySize, fill), value });
  const template =
    cfg.command === 'put'
      ? makeTemplate((fill) => PutRequest.encode(putOf(fill)).finish(), 1, keySize)
      : makeTemplate(
          (fill) =>
            TxnRequest.encode(
              TxnRequest.fromPartial({
                success: Array.from({ length: ops }, () =>
                  RequestOp.fromPartial({ requestPut: putOf(fill) }),
                ),
              }),
            ).finish(),
          ops,
          keySize,
        );
  const method = cfg.command === 'put' ? KVService.put.path : KVService.txn.path;

  const space = cfg.keySpaceSize;
  if (space === 1) {
    // Every request writes key 0, whose bytes are all zero: the template itself is the request.
    const bytes = template.bytes;
    return { method, request: () => bytes };
  }
  const { bytes, keyOffsets } = template;
  const size = bytes.length;
  return {
    method,
    request(i: number): Buffer {
      const start = cfg.sequentialKeys ? (i * ops) % space : rng.int(space);
      const out = Buffer.allocUnsafe(size);
      bytes.copy(out, 0, 0, size);
      for (let k = 0; k < ops; k++) putVarint(out, keyOffsets[k]!, (start + k) % space);
      return out;
    },
  };
}
