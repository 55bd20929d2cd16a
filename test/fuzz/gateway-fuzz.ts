/**
 * The JSON gateway fuzzer: seeded HTTP/1.1 requests against a member's `/v3/...` routes — invalid
 * JSON, wrong JSON types, unknown fields, oversized bodies, bodies cut mid-stream, random routes
 * and methods — each answer checked against grpc-gateway v1's shapes:
 *
 *   bound route, POST     200 + JSON (unary: one object; stream: `{"result":…}` lines, maybe ended
 *                         by `{"error":{…}}`), or the HTTP status of the gRPC code with
 *                         `{"error":m,"message":m,"code":c}` (stream: `{"error":{"grpc_code",…}}`)
 *   bound route, other    405 "Method Not Allowed"
 *   unbound /v3/ path     404 "Not Found"
 *   a body cut short      no answer is required; the member must not start the call
 *
 * and the same seed can run against real etcd 3.4 to prove the checker passes on the reference
 * (and to compare the two answer by answer). Routes that change membership or turn auth on are
 * left out (SKIPPED_ROUTES): a MemberAdd of a member that never starts would cost the single member
 * its quorum, on etcd as on tsetcd.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Rng } from './rng.js';

/** Deadline of one answer (a unary call, or a stream's first chunk), in ms. */
export const ANSWER_TIMEOUT_MS = 10_000;
/** How long a stream is read before the fuzzer hangs up, in ms. */
export const STREAM_READ_MS = 300;
/**
 * How long a call that may rightly wait is given before the fuzzer hangs up, in ms: a watch whose
 * body created no watcher sends nothing (grpc-gateway writes headers with the first message), and
 * Lock / Campaign wait for their turn. etcd 3.4 does the same.
 */
export const MAY_WAIT_MS = 1500;
const MAY_WAIT_PATHS = new Set([
  '/v3/watch',
  '/v3/lease/keepalive',
  '/v3/lock/lock',
  '/v3/election/campaign',
  '/v3/election/observe',
]);
/** etcd's default --max-request-bytes, and what an oversized body exceeds it by. */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
const OVERSIZE_SLACK = 64 * 1024;

/** What a case is about (reported per class). */
export type GatewayCaseClass =
  | 'valid'
  | 'invalid-json'
  | 'wrong-type'
  | 'unknown-field'
  | 'oversized'
  | 'cut-body'
  | 'random-route';

/** One request of the fuzzer. */
export interface GatewayCase {
  cls: GatewayCaseClass;
  method: string;
  path: string;
  body: Buffer;
  headers: Record<string, string>;
  /** Send only this many bytes of the body (Content-Length says all), then hang up. */
  cutAt?: number;
}

/** The gateway routes the fuzzer sends to, with a valid body each; `stream` for streaming routes. */
export const FUZZ_ROUTES: readonly { path: string; body: Record<string, unknown>; stream?: boolean }[] = [
  { path: '/v3/kv/range', body: { key: 'Zm9v', range_end: 'Zm9w', limit: '10' } },
  { path: '/v3/kv/put', body: { key: 'Zm9v', value: 'YmFy', prev_kv: true } },
  { path: '/v3/kv/deleterange', body: { key: 'Zm9vL3g=', prev_kv: true } },
  {
    path: '/v3/kv/txn',
    body: {
      compare: [{ key: 'Zm9v', target: 'VERSION', result: 'GREATER', version: '0' }],
      success: [{ request_put: { key: 'Zm9v', value: 'dHhu' } }],
      failure: [{ request_range: { key: 'Zm9v' } }],
    },
  },
  { path: '/v3/kv/compaction', body: { revision: '1' } },
  { path: '/v3/watch', body: { create_request: { key: 'Zm9v', start_revision: '1' } }, stream: true },
  { path: '/v3/lease/grant', body: { TTL: '30' } },
  { path: '/v3/lease/revoke', body: { ID: '1234' } },
  { path: '/v3/lease/keepalive', body: { ID: '1234' }, stream: true },
  { path: '/v3/lease/timetolive', body: { ID: '1234', keys: true } },
  { path: '/v3/lease/leases', body: {} },
  { path: '/v3/cluster/member/list', body: {} },
  { path: '/v3/maintenance/status', body: {} },
  { path: '/v3/maintenance/alarm', body: { action: 'GET' } },
  { path: '/v3/maintenance/hash', body: {} },
  { path: '/v3/auth/user/list', body: {} },
  { path: '/v3/auth/role/get', body: { role: 'nobody' } },
  { path: '/v3/auth/authenticate', body: { name: 'u', password: 'p' } },
  { path: '/v3/lock/lock', body: { name: 'bG9jaw==', lease: '1' } },
  { path: '/v3/election/leader', body: { name: 'ZWxlY3Q=' } },
  {
    path: '/v3/election/proclaim',
    body: { leader: { name: 'ZWxlY3Q=', key: 'eA==', rev: '1', lease: '1' } },
  },
];

/** Routes never sent to (see the file comment): unbound for the fuzzer, bound for the server. */
export const SKIPPED_ROUTES = [
  '/v3/cluster/member/add',
  '/v3/cluster/member/remove',
  '/v3/cluster/member/update',
  '/v3/cluster/member/promote',
  '/v3/auth/enable',
  '/v3/maintenance/snapshot',
  '/v3/maintenance/transfer-leadership',
];

const STREAM_PATHS = new Set(FUZZ_ROUTES.filter((r) => r.stream).map((r) => r.path));

function jsonBody(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

/** A JSON value of a random type (never the one at hand, most of the time). */
function wrongValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => rng.int(1000),
    () => -rng.int(1000),
    () => '18446744073709551616',
    () => '-1',
    () => 1.5,
    () => 1e300,
    () => 'not base64 !!',
    () => '',
    () => true,
    () => null,
    () => [],
    () => [1, 'a', null],
    () => ({}),
    () => ({ nested: { deeper: [1] } }),
    () => 'NOT_AN_ENUM',
    () => '\u0000\uffff',
  ])();
}

/** Replaces one leaf (or whole sub-object) of `v` with a value of another type. */
function mutateTypes(rng: Rng, v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || depth > 3) return wrongValue(rng);
  if (Array.isArray(v)) {
    if (v.length === 0 || rng.chance(0.3)) return wrongValue(rng);
    const out = [...v];
    const i = rng.int(out.length);
    out[i] = mutateTypes(rng, out[i], depth + 1);
    return out;
  }
  const keys = Object.keys(v);
  if (keys.length === 0 || rng.chance(0.2)) return wrongValue(rng);
  const k = rng.pick(keys);
  return {
    ...(v as Record<string, unknown>),
    [k]: mutateTypes(rng, (v as Record<string, unknown>)[k], depth + 1),
  };
}

/** Breaks JSON text: truncation, a stray byte, a bad token, bad UTF-8, nesting, several values. */
function breakJson(rng: Rng, text: string): Buffer {
  const b = Buffer.from(text);
  switch (rng.int(9)) {
    case 0:
      return b.subarray(0, rng.int(b.length));
    case 1: {
      const i = rng.int(b.length + 1);
      return Buffer.concat([
        b.subarray(0, i),
        Buffer.from([rng.pick([0x7b, 0x7d, 0x22, 0x2c, 0x3a, 0x5d, 0x00, 0xff])]),
        b.subarray(i),
      ]);
    }
    case 2:
      return Buffer.from(
        rng.pick([
          'nul',
          'tru',
          '{"a":}',
          '{,}',
          '[1,]',
          '{"a" 1}',
          "{'a':1}",
          'NaN',
          '-',
          '01',
          '"\\x"',
          '\u00ef\u00bb\u00bf{}',
        ]),
      );
    case 3:
      return rng.bytes(rng.range(1, 64));
    case 4:
      return Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    case 5:
      return Buffer.from(`${'['.repeat(rng.range(100, 20_000))}`);
    case 6:
      return Buffer.concat([b, Buffer.from(rng.pick([' {}', ' x', '}', ' 1', '\n{"key":"YQ=="}']))]);
    case 7:
      return Buffer.from(rng.pick(['"just a string"', '123', 'null', '[]', 'true']));
    default:
      return Buffer.from(text.replace(/"/g, rng.chance(0.5) ? "'" : ''));
  }
}

const METHODS_OTHER = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

function randomPath(rng: Rng): string {
  const route = rng.pick(FUZZ_ROUTES).path;
  return rng.pick<() => string>([
    () => `/v3/${rng.pick(['kv', 'lease', 'watch', 'auth', 'x', ''])}/${rng.bytes(4).toString('hex')}`,
    () => route.replace('/v3/', '/v3beta/'),
    () => `${route}/extra`,
    () => route.toUpperCase(),
    () => `${route}?q=${rng.int(100)}`,
    () => `/v3/${'a/'.repeat(rng.range(1, 50))}`,
    () => `/v3/kv/%70ut`,
    () => '/v3/',
    () => `/v3beta/${rng.bytes(3).toString('hex')}`,
  ])();
}

/** The case with this index of a seed. Deterministic: the same (seed, index) gives the same case. */
export function gatewayCase(seed: number, index: number): GatewayCase {
  const rng = new Rng((seed * 1_000_003 + index) >>> 0);
  const route = rng.pick(FUZZ_ROUTES);
  const headers = { 'content-type': 'application/json' };
  const cls = rng.weighted<GatewayCaseClass>([
    [2, 'valid'],
    [4, 'invalid-json'],
    [4, 'wrong-type'],
    [3, 'unknown-field'],
    [1, 'oversized'],
    [2, 'cut-body'],
    [3, 'random-route'],
  ]);
  const base = { method: 'POST', path: route.path, headers, cls };
  switch (cls) {
    case 'valid':
      return { ...base, body: jsonBody(route.body) };
    case 'invalid-json':
      return { ...base, body: breakJson(rng, JSON.stringify(route.body)) };
    case 'wrong-type':
      return { ...base, body: jsonBody(mutateTypes(rng, route.body)) };
    case 'unknown-field': {
      const name = rng.pick(['unknown', 'Key', 'KEY', 'key ', 'prevKv', 'foo_bar', '', '\u00e9']);
      return { ...base, body: jsonBody({ ...route.body, [name]: wrongValue(rng) }) };
    }
    case 'oversized': {
      const n = MAX_REQUEST_BYTES + rng.range(1, OVERSIZE_SLACK);
      const value = Buffer.alloc(Math.ceil((n * 3) / 4), 0x61).toString('base64');
      const body = rng.chance(0.5)
        ? jsonBody({ key: 'Zm9v', value })
        : Buffer.from(`{"key":"Zm9v","value":"${'A'.repeat(n)}`); // also unterminated
      return { ...base, path: '/v3/kv/put', body };
    }
    case 'cut-body': {
      const body = jsonBody(route.body);
      return { ...base, body, cutAt: rng.int(body.length) };
    }
    case 'random-route':
      return {
        ...base,
        method: rng.chance(0.6) ? 'POST' : rng.pick(METHODS_OTHER),
        path: randomPath(rng),
        body: jsonBody(route.body),
      };
  }
}

/** What came back for one case. */
export interface GatewayAnswer {
  /**
   * 'none': the connection closed (or was closed by us) without an HTTP answer; 'waiting': a call
   * that may wait (MAY_WAIT_PATHS) had not answered after MAY_WAIT_MS; 'timeout': any other call
   * had not answered after ANSWER_TIMEOUT_MS.
   */
  kind: 'http' | 'none' | 'timeout' | 'waiting';
  status?: number;
  contentType?: string;
  /** The body (a stream's first STREAM_READ_MS of it). */
  body?: string;
  error?: string;
}

/** Sends one case to host:port. Never rejects. */
export function sendCase(endpoint: string, c: GatewayCase): Promise<GatewayAnswer> {
  const [host, port] = [
    endpoint.slice(0, endpoint.lastIndexOf(':')),
    Number(endpoint.slice(endpoint.lastIndexOf(':') + 1)),
  ];
  if (c.cutAt !== undefined) return sendCut(host, port, c);
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: GatewayAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const req = httpRequest({
      host,
      port,
      method: c.method,
      path: c.path,
      headers: { ...c.headers, 'content-length': String(c.body.length) },
      agent: false,
    });
    const path = normalPath(c.path);
    const mayWait = c.method === 'POST' && path !== undefined && MAY_WAIT_PATHS.has(path);
    const streaming = path !== undefined && STREAM_PATHS.has(path);
    const timer = setTimeout(
      () => done({ kind: mayWait ? 'waiting' : 'timeout' }),
      mayWait ? MAY_WAIT_MS : ANSWER_TIMEOUT_MS,
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      const finish = () =>
        done({
          kind: 'http',
          status: res.statusCode,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      res.on('data', (d: Buffer) => {
        chunks.push(d);
        // A stream that answered: read a little more, then hang up (watches never end).
        if (chunks.length === 1 && streaming) setTimeout(finish, STREAM_READ_MS);
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', (e) => done({ kind: 'none', error: e.message }));
    req.end(c.body);
  });
}

/** Sends headers saying the whole body, then part of it, then half-closes and hangs up. */
function sendCut(host: string, port: number, c: GatewayCase): Promise<GatewayAnswer> {
  return new Promise((resolve) => {
    const sock = connect(port, host);
    let out = '';
    const finish = (kind: GatewayAnswer['kind']) => {
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(out);
      resolve(m ? { kind: 'http', status: Number(m[1]), body: out } : { kind });
    };
    const timer = setTimeout(() => finish('none'), STREAM_READ_MS * 2);
    sock.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    sock.on('error', () => finish('none'));
    sock.on('close', () => finish('none'));
    sock.on('connect', () => {
      sock.write(
        `${c.method} ${c.path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${c.body.length}\r\n\r\n`,
      );
      sock.write(c.body.subarray(0, c.cutAt));
      sock.end();
    });
  });
}

/** grpc-gateway v1's HTTPStatusFromCode (the checker's own copy, from grpc-gateway's source). */
const HTTP_OF_CODE: Record<number, number> = {
  0: 200,
  1: 408,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 412,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a unary error body; returns what is wrong, or undefined. */
function checkErrorBody(status: number, body: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return `error body is not JSON: ${body.slice(0, 200)}`;
  }
  if (!isObject(v)) return 'error body is not an object';
  if (isObject(v.error)) return checkStreamError(status, v.error);
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'code,error,message') return `error body keys ${keys}`;
  if (typeof v.error !== 'string' || v.error !== v.message) return 'error and message differ';
  if (typeof v.code !== 'number' || !(v.code in HTTP_OF_CODE) || v.code === 0)
    return `bad code ${String(v.code)}`;
  if (HTTP_OF_CODE[v.code] !== status) return `status ${status} for code ${v.code}`;
  return undefined;
}

/** Checks a stream's `{"error":{…}}` chunk. */
function checkStreamError(status: number | undefined, e: Record<string, unknown>): string | undefined {
  for (const k of Object.keys(e))
    if (!['grpc_code', 'http_code', 'message', 'http_status'].includes(k)) return `stream error key ${k}`;
  const code = (e.grpc_code as number | undefined) ?? 0;
  if (typeof e.http_code !== 'number' || e.http_code !== HTTP_OF_CODE[code])
    return `stream error http_code ${String(e.http_code)}`;
  if (status !== undefined && status !== 200 && status !== e.http_code)
    return `status ${status} vs http_code ${e.http_code}`;
  return undefined;
}

/**
 * Checks one answer against grpc-gateway's shapes; returns what is wrong, or undefined.
 * `pathKnown`: whether the path (after /v3beta/ → /v3/, without the query) is a bound route.
 */
export function judgeGatewayAnswer(c: GatewayCase, a: GatewayAnswer): string | undefined {
  if (a.kind === 'timeout') return 'no answer within the deadline';
  if (a.kind === 'waiting') return undefined;
  if (c.cutAt !== undefined) {
    // A cut body must never be served as if it were whole.
    if (a.kind === 'http' && a.status === 200) return 'a cut body was answered 200';
    return undefined;
  }
  if (a.kind === 'none') return `no HTTP answer (${a.error ?? 'closed'})`;
  const status = a.status!;
  const body = a.body ?? '';
  const path = normalPath(c.path);
  const bound =
    path !== undefined && (FUZZ_ROUTES.some((r) => r.path === path) || SKIPPED_ROUTES.includes(path));
  if (path === undefined) return undefined; // not a gateway path: another handler's business
  const leak = INTERNAL_ERROR.exec(body);
  if (leak) return `an internal error reached the client: ${leak[0]}`;
  // Differences of Go's HTTP server, outside grpc-gateway (known, see test/fuzz/README.md): etcd
  // answers every OPTIONS with 200 (its CORS access controller) and redirects an unclean path
  // (//, /./, /../) with 301; tsetcd does neither.
  if (c.method === 'OPTIONS' && status === 200 && body === '') return undefined;
  if (status === 301 && /\/\/|\/\.\.?(\/|$)/.test(path)) return undefined;
  if (!bound)
    return status === 404 && body === 'Not Found\n'
      ? undefined
      : `unbound path: ${status} ${JSON.stringify(body.slice(0, 80))}`;
  if (c.method !== 'POST')
    return status === 405 && body === 'Method Not Allowed\n'
      ? undefined
      : `method ${c.method}: ${status} ${JSON.stringify(body.slice(0, 80))}`;
  if (!a.contentType?.startsWith('application/json')) return `content-type ${a.contentType}`;
  if (STREAM_PATHS.has(path)) {
    if (status !== 200) return checkErrorBody(status, body);
    // The last line may be cut where the fuzzer hung up.
    const lines = body.split('\n');
    if (!body.endsWith('\n')) lines.pop();
    for (const line of lines.filter((l) => l !== '')) {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return `stream line is not JSON (or cut by the reader): ${line.slice(0, 120)}`;
      }
      if (!isObject(v)) return 'stream line is not an object';
      const keys = Object.keys(v);
      if (keys.length !== 1) return `stream line keys ${keys.join(',')}`;
      if (isObject(v.result)) continue;
      if (isObject(v.error)) {
        const w = checkStreamError(undefined, v.error);
        if (w) return w;
        continue;
      }
      return `stream line ${line.slice(0, 120)}`;
    }
    return undefined;
  }
  if (status === 200) {
    try {
      return isObject(JSON.parse(body)) ? undefined : '200 body is not an object';
    } catch {
      return `200 body is not JSON: ${body.slice(0, 120)}`;
    }
  }
  return checkErrorBody(status, body);
}

/** JavaScript's own error texts, which must never reach a client. */
const INTERNAL_ERROR =
  /Maximum call stack size exceeded|Cannot read propert|is not a function|is not defined|undefined is not|RangeError|TypeError/;

/** The gateway path a request path is served as (v3beta rewritten, query dropped); undefined if none. */
function normalPath(p: string): string | undefined {
  const q = p.indexOf('?');
  let path = q < 0 ? p : p.slice(0, q);
  try {
    path = decodeURIComponent(path); // as Go's url.Parse
  } catch {
    // left as it is
  }
  if (path.startsWith('/v3beta/')) path = `/v3/${path.slice('/v3beta/'.length)}`;
  return path.startsWith('/v3/') ? path : undefined;
}

/** A short, comparable summary of an answer: status and, for JSON errors, the gRPC code and text. */
export function answerSummary(a: GatewayAnswer): string {
  if (a.kind !== 'http') return a.kind;
  const body = a.body ?? '';
  try {
    const v = JSON.parse(body.split('\n')[0] ?? '') as Record<string, unknown>;
    if (isObject(v) && typeof v.code === 'number')
      return `${a.status} code ${v.code} ${JSON.stringify(v.message)}`;
    if (isObject(v) && isObject(v.error)) return `${a.status} stream-error ${String(v.error.grpc_code)}`;
    if (isObject(v)) return `${a.status} json`;
  } catch {
    // not JSON
  }
  return `${a.status} ${JSON.stringify(body.slice(0, 40))}`;
}

/** One failed case. */
export interface GatewayFailure {
  index: number;
  cls: GatewayCaseClass;
  request: string;
  problem: string;
}

/** A run's numbers. */
export interface GatewayFuzzReport {
  seed: number;
  cases: number;
  byClass: Partial<Record<GatewayCaseClass, number>>;
  failures: GatewayFailure[];
  answers: string[];
}

/** A case in one line (method, path, body head). */
export function describeGatewayCase(c: GatewayCase): string {
  const head = c.body.subarray(0, 80).toString('latin1');
  return `${c.method} ${c.path} (${c.body.length} bytes${c.cutAt !== undefined ? `, cut at ${c.cutAt}` : ''}) ${JSON.stringify(head)}`;
}

/**
 * etcd 3.4.23 panics (nil pointer dereference, the process exits) on an Alarm request whose action
 * is not GET/ACTIVATE/DEACTIVATE, e.g. `{"action":-342}`: its server returns no response and no
 * error, and the gateway dereferences it. Found by this fuzzer; the etcd reference run skips them.
 */
export function crashesEtcd34(c: GatewayCase): boolean {
  return normalPath(c.path) === '/v3/maintenance/alarm';
}

/** Runs cases [0, n) of `seed` against `endpoint`, `concurrency` at a time, checking each answer. */
export async function runGatewayFuzz(
  endpoint: string,
  seed: number,
  n: number,
  concurrency = 4,
  /** Cases whose request matches this are not sent (their answer reads "skipped"). */
  skip?: (c: GatewayCase) => boolean,
): Promise<GatewayFuzzReport> {
  const report: GatewayFuzzReport = { seed, cases: n, byClass: {}, failures: [], answers: new Array(n) };
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const c = gatewayCase(seed, i);
      if (skip?.(c)) {
        report.answers[i] = 'skipped';
        continue;
      }
      report.byClass[c.cls] = (report.byClass[c.cls] ?? 0) + 1;
      const a = await sendCase(endpoint, c);
      report.answers[i] = answerSummary(a);
      const problem = judgeGatewayAnswer(c, a);
      if (problem) report.failures.push({ index: i, cls: c.cls, request: describeGatewayCase(c), problem });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  report.failures.sort((x, y) => x.index - y.index);
  return report;
}
