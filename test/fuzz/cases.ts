/**
 * The fuzz case generator: case number i of seed s is drawn from its own PRNG stream, so a run is
 * reproducible from its seed (the shared FuzzState, learned from answers, only steers which keys and
 * leases valid requests name). Case classes: valid calls, protobuf mutations, gRPC framing abuse,
 * header abuse, oversized messages, and raw connection garbage.
 */
import { KVService, PutRequest, TxnRequest } from '../../src/proto/etcdserverpb/rpc.js';
import { type FuzzState, METHODS, type MethodEntry } from './catalog.js';
import { mutateMessage, PROTO_MUTATIONS } from './mutate.js';
import { Rng } from './rng.js';
import { grpcFrame, type RawRequest } from './wire.js';

/** What the oracle accepts for a case besides "a gRPC status with a known code and a message". */
export interface Expectation {
  /** When set, the status code must be one of these. */
  codes?: number[];
  /** A non-gRPC HTTP answer is fine (content type that is not gRPC). */
  allowHttp?: boolean;
  /** A stream reset without status is fine (HTTP/2-level violation, e.g. a malformed :path). */
  allowReset?: boolean;
  /** The session may be torn down (GOAWAY for a header block the server refuses). */
  allowSessionLoss?: boolean;
}

export interface GrpcCase {
  kind: 'grpc';
  index: number;
  cls: string;
  /** Which endpoint (member) gets the call. */
  member: number;
  request: RawRequest;
  expect: Expectation;
}

/**
 * Connection-level abuse on a fresh connection; the member must keep serving new connections:
 * raw bytes on the TCP socket, or many streams opened on one HTTP/2 session and then either reset at
 * once ("rapid reset") or abandoned by dropping the socket mid-call.
 */
export interface ConnectionCase {
  kind: 'connection';
  index: number;
  cls: string;
  member: number;
  bytes: Buffer;
  streams?: { mode: 'rapid-reset' | 'drop-socket'; count: number; path: string; body: Buffer };
}

export type FuzzCase = GrpcCase | ConnectionCase;

export interface GenerateOptions {
  members: number;
  /** --max-request-bytes of the members (for oversized cases). */
  maxRequestBytes: number;
  /** Leave out the multi-MiB cases (quick runs). */
  noOversized?: boolean;
}

/** grpc-go's extra room above --max-request-bytes, as etcd configures it. */
export const GRPC_OVERHEAD = 512 * 1024;

/** Client-side wait beyond the grpc-timeout we send: a slow, loaded machine must not look like a hang. */
export const ANSWER_SLACK_MS = 20_000;

const UNARY_TIMEOUT = '30S';

const CORE_METHODS = METHODS.filter((m) => !m.path.startsWith('/etcdserverpb.Auth/'));
const WRITE_METHODS = METHODS.filter((m) =>
  [
    '/etcdserverpb.KV/Put',
    '/etcdserverpb.KV/DeleteRange',
    '/etcdserverpb.KV/Txn',
    '/etcdserverpb.Lease/LeaseGrant',
  ].includes(m.path),
);

function caseRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(index, 0x9e3779b1)) >>> 0);
}

function frames(messages: Buffer[]): Buffer[] {
  return messages.map((m) => grpcFrame(m));
}

/** A call with the usual headers, a deadline the server must honour, and half-close after writing. */
function call(rng: Rng, m: MethodEntry, chunks: Buffer[], extra: Partial<RawRequest> = {}): RawRequest {
  // blocking methods (Watch, Observe, Lock, Campaign ...) get a short deadline so they end by themselves
  const timeoutMs = m.blocks ? rng.range(100, 1500) : undefined;
  return {
    path: m.path,
    headers: { 'grpc-timeout': timeoutMs !== undefined ? `${timeoutMs}m` : UNARY_TIMEOUT },
    chunks,
    endStream: true,
    deadlineMs: (timeoutMs ?? 30_000) + ANSWER_SLACK_MS,
    ...extra,
  };
}

export function generateCase(seed: number, index: number, state: FuzzState, opts: GenerateOptions): FuzzCase {
  const rng = caseRng(seed, index);
  const member = rng.int(opts.members);
  // Auth is mostly not built yet: its methods get a fair share, not a third of all calls
  // and writes get extra weight so that the end-of-run hash comparison covers plenty of history
  const m = rng.weighted<() => MethodEntry>([
    [15, () => rng.pick(METHODS)],
    [55, () => rng.pick(CORE_METHODS)],
    [30, () => rng.pick(WRITE_METHODS)],
  ])();
  const family = rng.weighted<string>([
    [30, 'valid'],
    [30, 'proto'],
    [20, 'frame'],
    [10, 'header'],
    [opts.noOversized ? 0 : 1, 'oversized'],
    [2, 'connection'],
  ]);
  const base = { kind: 'grpc' as const, index, member };
  switch (family) {
    case 'valid': {
      const cancel = m.blocks && rng.chance(0.3);
      return {
        ...base,
        cls: cancel ? 'valid:client-cancel' : 'valid',
        request: call(
          rng,
          m,
          frames(m.sample(rng, state)),
          cancel ? { resetAfterMs: rng.range(0, 300) } : {},
        ),
        expect: {},
      };
    }
    case 'proto': {
      const kind = rng.pick(PROTO_MUTATIONS);
      const msgs = m.sample(rng, state);
      const at = rng.int(msgs.length);
      msgs[at] = mutateMessage(rng, msgs[at]!, kind);
      return { ...base, cls: `proto:${kind}`, request: call(rng, m, frames(msgs)), expect: {} };
    }
    case 'frame':
      return frameCase(rng, base, m, state);
    case 'header':
      return headerCase(rng, base, m, state);
    case 'oversized':
      return oversizedCase(rng, base, opts.maxRequestBytes);
    default: {
      if (rng.chance(0.3)) {
        const mode = rng.pick(['rapid-reset', 'drop-socket'] as const);
        const w = rng.pick([METHODS.find((x) => x.path === '/etcdserverpb.Watch/Watch')!, m]);
        return {
          kind: 'connection',
          index,
          member,
          cls: `connection:${mode}`,
          bytes: Buffer.alloc(0),
          streams: {
            mode,
            count: rng.range(10, 300),
            path: w.path,
            body: grpcFrame(w.sample(rng, state)[0]!),
          },
        };
      }
      return { kind: 'connection', index, member, ...connectionBytes(rng) };
    }
  }
}

type Base = { kind: 'grpc'; index: number; member: number };

function frameCase(rng: Rng, base: Base, m: MethodEntry, state: FuzzState): GrpcCase {
  const msgs = m.sample(rng, state);
  const body = msgs[0]!;
  const unaryRequest = m.shape !== 'bidi_stream';
  const unary = m.shape === 'unary';
  const kind = rng.pick([
    'zero-messages',
    'extra-messages',
    'length-longer',
    'length-shorter',
    'huge-prefix',
    'compressed-flag',
    'payload-format',
    'grpc-encoding',
    'split-bytes',
    'partial-prefix',
    'no-half-close',
    'reset-mid-message',
    'empty-data',
  ]);
  const cls = `frame:${kind}`;
  switch (kind) {
    case 'zero-messages':
      return { ...base, cls, request: call(rng, m, []), expect: unaryRequest ? { codes: [2] } : {} };
    case 'extra-messages':
      return { ...base, cls, request: call(rng, m, frames([...msgs, ...m.sample(rng, state)])), expect: {} };
    case 'length-longer': {
      const f = grpcFrame(body, { length: body.length + rng.range(1, 100) });
      // the message never completes: unary UNKNOWN, streams INTERNAL "unexpected EOF"
      return { ...base, cls, request: call(rng, m, [f]), expect: { codes: [unary ? 2 : 13] } };
    }
    case 'length-shorter': {
      if (body.length === 0) return { ...base, cls, request: call(rng, m, [grpcFrame(body)]), expect: {} };
      const f = grpcFrame(body, { length: rng.int(body.length) });
      return { ...base, cls, request: call(rng, m, [f]), expect: {} };
    }
    case 'huge-prefix': {
      const length = rng.pick([2 ** 32 - 1, 2 ** 31, 64 * 1024 * 1024, 2 * 1024 * 1024 + 1]);
      return {
        ...base,
        cls,
        request: call(rng, m, [grpcFrame(rng.bytes(rng.int(64)), { length })]),
        expect: { codes: [8] },
      };
    }
    case 'compressed-flag':
      return {
        ...base,
        cls,
        request: call(rng, m, [grpcFrame(body, { compressed: true })]),
        expect: { codes: [13] },
      };
    case 'payload-format': {
      const f = grpcFrame(body);
      f[0] = rng.range(2, 255);
      return { ...base, cls, request: call(rng, m, [f]), expect: { codes: [13] } };
    }
    case 'grpc-encoding': {
      const enc = rng.pick(['gzip', 'snappy', 'deflate', 'x'.repeat(rng.range(1, 50)), 'identity']);
      const req = call(rng, m, [grpcFrame(body, { compressed: enc !== 'identity' && rng.chance(0.5) })]);
      req.headers = { ...req.headers, 'grpc-encoding': enc };
      return { ...base, cls, request: req, expect: enc === 'identity' ? {} : { codes: [12] } };
    }
    case 'split-bytes': {
      const all = Buffer.concat(frames(msgs));
      const pieces: Buffer[] = [];
      for (let off = 0; off < all.length; ) {
        const n = rng.weighted([
          [4, 1],
          [2, rng.range(2, 7)],
          [1, rng.range(8, 4096)],
        ]);
        pieces.push(all.subarray(off, off + n));
        off += n;
      }
      return { ...base, cls, request: call(rng, m, pieces), expect: {} };
    }
    case 'partial-prefix': {
      const f = grpcFrame(body).subarray(0, rng.range(1, 4));
      return { ...base, cls, request: call(rng, m, [f]), expect: { codes: [unary ? 2 : 13] } };
    }
    case 'no-half-close': {
      // a unary call answers after its message even if the client never ends its side
      const req = call(rng, m, frames(msgs), { endStream: false });
      return { ...base, cls, request: req, expect: {} };
    }
    case 'reset-mid-message': {
      const f = grpcFrame(body, { length: body.length + rng.range(1, 1000) });
      return { ...base, cls, request: call(rng, m, [f], { resetAfterMs: rng.range(0, 50) }), expect: {} };
    }
    default: {
      const chunks: Buffer[] = [];
      for (const fr of frames(msgs)) chunks.push(Buffer.alloc(0), fr, Buffer.alloc(0));
      return { ...base, cls, request: call(rng, m, chunks), expect: {} };
    }
  }
}

function headerCase(rng: Rng, base: Base, m: MethodEntry, state: FuzzState): GrpcCase {
  const body = frames(m.sample(rng, state));
  const kind = rng.pick([
    'unknown-method',
    'unknown-service',
    'malformed-path',
    'content-type',
    'no-te',
    'get-method',
    'bad-timeout',
    'tiny-timeout',
    'big-metadata',
    'binary-metadata',
    'garbage-token',
  ]);
  const cls = `header:${kind}`;
  const req = call(rng, m, body);
  const service = m.path.slice(1, m.path.lastIndexOf('/'));
  switch (kind) {
    case 'unknown-method':
      req.path = `/${service}/${rng.pick(['Nope', 'range', 'Put2', ''])}`;
      return { ...base, cls, request: req, expect: { codes: [12] } };
    case 'unknown-service':
      req.path = `/${rng.pick(['etcdserverpb.Nope', 'grpc.reflection.v1alpha.ServerReflection', 'x', ''])}/${rng.pick(['Range', 'ServerReflectionInfo'])}`;
      return { ...base, cls, request: req, expect: { codes: [12] } };
    case 'malformed-path':
      req.path = rng.pick([
        '/',
        '//',
        '/etcdserverpb.KV',
        `${m.path}/extra`,
        '/%00/%ff',
        `/${'a'.repeat(3000)}`,
      ]);
      // HTTP/2 may refuse some paths outright; otherwise an UNIMPLEMENTED-style status
      return { ...base, cls, request: req, expect: { allowReset: true } };
    case 'content-type': {
      const ct = rng.pick([
        'text/plain',
        'application/grpcx',
        'application/json',
        'application/grpc+proto',
        'application/grpc;x=y',
      ]);
      req.headers = { ...req.headers, 'content-type': ct };
      return { ...base, cls, request: req, expect: { allowHttp: true } };
    }
    case 'no-te':
      req.headers = { ...req.headers, te: null };
      return { ...base, cls, request: req, expect: {} };
    case 'get-method':
      req.headers = { ...req.headers, ':method': rng.pick(['GET', 'PUT', 'DELETE']) };
      return { ...base, cls, request: req, expect: {} };
    case 'bad-timeout':
      req.headers = {
        ...req.headers,
        'grpc-timeout': rng.pick(['abc', '-5S', '1X', '99999999999H', 'S', '']),
      };
      if (m.blocks) req.resetAfterMs = rng.range(100, 1000);
      return { ...base, cls, request: req, expect: {} };
    case 'tiny-timeout':
      req.headers = { ...req.headers, 'grpc-timeout': rng.pick(['0n', '1n', '1u', '1m']) };
      return { ...base, cls, request: req, expect: {} };
    case 'big-metadata':
      req.headers = { ...req.headers, 'x-fuzz': 'v'.repeat(rng.pick([1000, 8000, 30_000, 70_000])) };
      return { ...base, cls, request: req, expect: { allowReset: true, allowSessionLoss: true } };
    case 'binary-metadata':
      req.headers = {
        ...req.headers,
        'x-fuzz-bin': rng.bytes(rng.int(64)).toString('base64') + rng.pick(['', '!!', '=']),
      };
      return { ...base, cls, request: req, expect: {} };
    default:
      req.headers = {
        ...req.headers,
        // Garbage, and tokens shaped like etcd's simple ones (letters.index) naming applied
        // indexes, forged or expired (auth, issue 13).
        token: rng.pick([
          rng.bytes(rng.int(40)).toString('hex'),
          `${'abcdefghijklmnop'.slice(0, rng.int(17))}.${rng.int(4)}`,
          rng.pick(['.', '..', 'a.b.c', 'a.-1', 'a.+1', 'a.1e3', 'a.', '.1']),
        ]),
        authorization: rng.bytes(8).toString('hex'),
      };
      return { ...base, cls, request: req, expect: {} };
  }
}

function oversizedCase(rng: Rng, base: Base, maxRequestBytes: number): GrpcCase {
  const beyondGrpc = rng.chance(0.5);
  const size = beyondGrpc
    ? maxRequestBytes + GRPC_OVERHEAD + rng.range(1, 1000)
    : maxRequestBytes + rng.range(1, 1000);
  const asTxn = rng.chance(0.3);
  const put = { key: Buffer.from('big'), value: Buffer.alloc(size, 0x61) };
  const body = asTxn
    ? Buffer.from(TxnRequest.encode(TxnRequest.fromPartial({ success: [{ requestPut: put }] })).finish())
    : Buffer.from(PutRequest.encode(PutRequest.fromPartial(put)).finish());
  const path = asTxn ? KVService.txn.path : KVService.put.path;
  return {
    ...base,
    cls: beyondGrpc ? 'oversized:grpc-limit' : 'oversized:request-limit',
    request: {
      path,
      headers: { 'grpc-timeout': UNARY_TIMEOUT },
      chunks: [grpcFrame(body)],
      endStream: true,
      deadlineMs: 30_000 + ANSWER_SLACK_MS,
    },
    // past the gRPC limit: RESOURCE_EXHAUSTED; past --max-request-bytes only: "request is too large"
    expect: { codes: beyondGrpc ? [8] : [3] },
  };
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function connectionBytes(rng: Rng): { cls: string; bytes: Buffer } {
  const kind = rng.pick([
    'random',
    'preface-garbage',
    'preface-bad-frames',
    'http1-garbage',
    'truncated-preface',
  ]);
  const cls = `connection:${kind}`;
  switch (kind) {
    case 'random':
      return { cls, bytes: rng.bytes(rng.range(1, 2000)) };
    case 'preface-garbage':
      return { cls, bytes: Buffer.concat([PREFACE, rng.bytes(rng.range(1, 2000))]) };
    case 'preface-bad-frames': {
      // well-formed 9-byte frame headers with random types, flags, stream ids and short payloads
      const parts: Buffer[] = [PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])];
      for (let i = 0; i < rng.range(1, 10); i++) {
        const payload = rng.bytes(rng.int(40));
        const h = Buffer.alloc(9);
        h.writeUIntBE(rng.chance(0.8) ? payload.length : rng.int(1 << 24), 0, 3);
        h[3] = rng.int(12);
        h[4] = rng.int(256);
        h.writeUInt32BE(rng.chance(0.5) ? rng.range(0, 9) : rng.u32(), 5);
        parts.push(h, payload);
      }
      return { cls, bytes: Buffer.concat(parts) };
    }
    case 'http1-garbage':
      return {
        cls,
        bytes: Buffer.from(
          rng.pick([
            'GET / HTTP/1.1\r\n\r\n',
            'POST /v3/kv/put HTTP/1.1\r\nContent-Length: 99999\r\n\r\n{',
            `${rng.bytes(30).toString('latin1')}\r\n\r\n`,
          ]),
        ),
      };
    default:
      return { cls, bytes: PREFACE.subarray(0, rng.range(1, PREFACE.length - 1)) };
  }
}
