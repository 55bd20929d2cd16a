// Goal: tsetcd's JSON gateway answers as etcd 3.4's grpc-gateway does — the same HTTP status, the same
// JSON bodies (fields, names, order, 64-bit integers as strings, base64 bytes, enum names), the same
// error shapes — on every route family, for unary and streaming calls and for bad input.
// Method: each case sends the same HTTP requests (as curl would) to a fresh etcd 3.4 and a fresh
// tsetcd; bodies are parsed and normalized (cluster/member ids and terms become placeholders, as
// do lease ids and hashes, which differ between any two servers) and the transcripts must be equal.
// Steps also assert etcd's status, so the harness cannot pass by both sides failing alike.

import assert from 'node:assert/strict';
import http from 'node:http';
import { diffCase, type Session } from '../helpers/index.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Values that legitimately differ between two servers. */
function scrub(v: unknown): unknown {
  if (typeof v === 'string') {
    // lock and election keys end in the owner's lease id: "<name>/<16 hex digits>", base64
    const text = Buffer.from(v, 'base64').toString('latin1');
    if (/\/[0-9a-f]{1,16}$/.test(text) && Buffer.from(text, 'latin1').toString('base64') === v) {
      return `base64(${text.replace(/[0-9a-f]{1,16}$/, '<lease>')})`;
    }
    return v;
  }
  if (Array.isArray(v)) return v.map(scrub);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [
        k,
        [
          'cluster_id',
          'member_id',
          'raft_term',
          'ID',
          'hash',
          'memberID',
          'leader',
          'lease',
          'dbSize',
          'dbSizeInUse',
          'raftIndex',
          'raftAppliedIndex',
          'raftTerm',
          'version',
          'peerURLs',
          'clientURLs',
        ].includes(k) &&
        (typeof x === 'string' || typeof x === 'number' || Array.isArray(x))
          ? `<${k}>`
          : scrub(x),
      ]),
    );
  }
  return v;
}

interface HttpResult {
  status: number;
  contentType: string;
  /** JSON lines (a streaming call) or one JSON value or text. */
  body: unknown;
}

/** Sends one HTTP/1.1 request; for streams, reads until `lines` chunks arrived or the body ended. */
function send(
  s: Session,
  method: string,
  path: string,
  body?: string,
  opts: {
    lines?: number;
    headers?: Record<string, string>;
    /** Runs once `duringAfter` lines (default 1) have arrived, e.g. a write the stream should show. */
    during?: () => Promise<void>;
    duringAfter?: number;
  } = {},
): Promise<HttpResult> {
  const url = new URL(path, s.member.clientURL);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: opts.headers }, (res) => {
      let text = '';
      let started = false;
      const finish = () => {
        req.destroy();
        const type = String(res.headers['content-type'] ?? '');
        let parsed: unknown = text;
        if (type.startsWith('application/json')) {
          const lines = text.split('\n').filter((l) => l !== '');
          parsed = opts.lines !== undefined ? lines.map((l) => JSON.parse(l)) : JSON.parse(text || 'null');
        }
        resolve({ status: res.statusCode ?? 0, contentType: type, body: parsed });
      };
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        const count = text.split('\n').filter((l) => l !== '').length;
        if (!started && opts.during && count >= (opts.duringAfter ?? 1)) {
          started = true;
          void opts.during();
        }
        if (opts.lines !== undefined && text.split('\n').filter((l) => l !== '').length >= opts.lines)
          finish();
      });
      res.on('end', finish);
      res.on('error', () => {});
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    req.end(body);
  });
}

/** Sends and records the normalized result; asserts etcd's status on every side. */
async function step(
  s: Session,
  name: string,
  status: number,
  method: string,
  path: string,
  body?: string,
  opts: Parameters<typeof send>[4] = {},
): Promise<HttpResult> {
  if (process.env.GW_DEBUG) console.error(s.label, name);
  const r = await send(s, method, path, body, opts);
  assert.equal(r.status, status, `${s.label}: ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  s.record(name, { status: r.status, contentType: r.contentType, body: scrub(r.body) });
  return r;
}

/**
 * A step of a table: its name, etcd's HTTP status, the request line ("POST /v3/kv/put"), the body
 * and `send`'s options.
 */
type StepRow = [
  name: string,
  status: number,
  request: string,
  body?: string,
  opts?: Parameters<typeof send>[4],
];

/** Runs `rows` in order as steps (see `step`). */
async function steps(s: Session, rows: StepRow[]): Promise<void> {
  for (const [name, status, request, body, opts] of rows) {
    const [method, path] = request.split(' ') as [string, string];
    await step(s, name, status, method, path, body, opts);
  }
}

/** JSON.stringify, short for the tables' bodies. */
const j = (v: unknown) => JSON.stringify(v);

const TXN = {
  compare: [{ target: 'VALUE', result: 'EQUAL', key: b64('foo'), value: b64('baz') }],
  success: [{ request_put: { key: b64('t'), value: b64('1') } }, { request_range: { key: b64('foo') } }],
  failure: [{ request_delete_range: { key: b64('foo') } }],
};
const TXN_ZERO_COMPARE = {
  compare: [{ target: 'VERSION', result: 'GREATER', key: b64('t'), version: '0' }],
  success: [{ request_range: { key: b64('t') } }],
};

diffCase('gateway: kv routes, /v3beta, bad input, unknown routes', (s) =>
  steps(s, [
    ['put', 200, 'POST /v3/kv/put', j({ key: b64('foo'), value: b64('bar') })],
    ['put prev_kv', 200, 'POST /v3/kv/put', j({ key: b64('foo'), value: b64('baz'), prev_kv: true })],
    ['put by json names', 200, 'POST /v3/kv/put', j({ key: b64('a'), value: b64('1'), prevKv: true })],
    ['range', 200, 'POST /v3/kv/range', j({ key: b64('foo') })],
    [
      'range all, sorted, limit as number',
      200,
      'POST /v3/kv/range',
      `{"key":"AA==","range_end":"AA==","sort_order":"DESCEND","sort_target":"KEY","limit":1}`,
    ],
    ['range count only', 200, 'POST /v3beta/kv/range', `{"key":"AA==","range_end":"AA==","count_only":true}`],
    [
      'range keys only, enum by number',
      200,
      'POST /v3/kv/range',
      `{"key":"AA==","range_end":"AA==","keys_only":true,"sort_order":1}`,
    ],
    ['range missing key', 200, 'POST /v3/kv/range', j({ key: b64('nope') })],
    ['empty body', 400, 'POST /v3/kv/range', ''],
    ['txn', 200, 'POST /v3/kv/txn', j(TXN)],
    ['txn compare on zero value (oneof)', 200, 'POST /v3/kv/txn', j(TXN_ZERO_COMPARE)],
    ['deleterange prev_kv', 200, 'POST /v3/kv/deleterange', j({ key: b64('a'), prev_kv: true })],
    ['compaction', 200, 'POST /v3/kv/compaction', j({ revision: '3' })],
    ['compacted range', 400, 'POST /v3/kv/range', j({ key: b64('foo'), revision: '2' })],
    // Bad input: grpc-gateway's texts (Go's encoding/json and jsonpb) with InvalidArgument.
    ['truncated json', 400, 'POST /v3/kv/range', '{"key":'],
    ['not json', 400, 'POST /v3/kv/range', 'x'],
    ['missing value', 400, 'POST /v3/kv/range', '{"key": }'],
    ['missing colon', 400, 'POST /v3/kv/range', '{"key" "Zm9v"}'],
    ['two values no comma', 400, 'POST /v3/kv/range', '{"key":"Zm9v" "x":1}'],
    ['bad literal', 400, 'POST /v3/kv/range', '{"keys_only": tru}'],
    ['array body', 400, 'POST /v3/kv/range', '[]'],
    ['wrong type bytes', 400, 'POST /v3/kv/range', '{"key":5}'],
    ['wrong type bool', 400, 'POST /v3/kv/range', '{"key":"Zm9v","keys_only":"yes"}'],
    ['wrong type int64', 400, 'POST /v3/kv/range', '{"key":"Zm9v","limit":"abc"}'],
    ['fraction int64', 400, 'POST /v3/kv/range', '{"key":"Zm9v","limit":1.5}'],
    ['unknown enum', 400, 'POST /v3/kv/range', '{"key":"Zm9v","sort_order":"FOO"}'],
    ['bad base64', 400, 'POST /v3/kv/range', '{"key":"Zm9v!"}'],
    ['unknown field ignored', 200, 'POST /v3/kv/range', '{"key":"Zm9v","nope":1}'],
    ['null field', 200, 'POST /v3/kv/range', '{"key":"Zm9v","limit":null}'],
    ['empty key', 400, 'POST /v3/kv/put', '{"value":"eA=="}'],
    ['GET on a POST route', 405, 'GET /v3/kv/range'],
    ['unknown route', 404, 'POST /v3/kv/nope', '{}'],
    ['outside the gateway', 404, 'GET /nope'],
  ]),
);

diffCase('gateway: lease, cluster, maintenance, lock, election routes', async (s) => {
  const grant = await step(s, 'lease grant', 200, 'POST', '/v3/lease/grant', '{"TTL":"60"}');
  const id = (grant.body as { ID: string }).ID;
  await steps(s, [
    ['put with lease', 200, 'POST /v3/kv/put', j({ key: b64('l'), value: b64('v'), lease: id })],
    ['timetolive keys', 200, 'POST /v3/lease/timetolive', j({ ID: id, keys: true })],
    ['timetolive via /v3/kv/lease', 200, 'POST /v3/kv/lease/timetolive', j({ ID: id })],
    ['leases', 200, 'POST /v3/lease/leases', '{}'],
  ]);
  await step(s, 'keepalive stream', 200, 'POST', '/v3/lease/keepalive', j({ ID: id }), { lines: 1 });
  await steps(s, [
    ['revoke', 200, 'POST /v3/kv/lease/revoke', j({ ID: id })],
    ['revoke again', 404, 'POST /v3/lease/revoke', j({ ID: id })],
    ['member list', 200, 'POST /v3/cluster/member/list', '{}'],
    ['member remove unknown', 404, 'POST /v3/cluster/member/remove', '{"ID":"1"}'],
    ['status', 200, 'POST /v3/maintenance/status', '{}'],
    ['alarm get', 200, 'POST /v3/maintenance/alarm', '{"action":"GET"}'],
    ['hash (the route is Hash, not HashKV)', 200, 'POST /v3/maintenance/hash', '{}'],
    ['defragment', 200, 'POST /v3/maintenance/defragment', '{}'],
  ]);
  const lock = await step(s, 'lock', 200, 'POST', '/v3/lock/lock', j({ name: b64('mylock') }));
  const key = (lock.body as { key: string }).key;
  await step(s, 'unlock', 200, 'POST', '/v3/lock/unlock', j({ key }));
  const g = await step(s, 'lease for election', 200, 'POST', '/v3/lease/grant', '{"TTL":"60"}');
  const lease = (g.body as { ID: string }).ID;
  const campaign = j({ name: b64('e'), lease, value: b64('v1') });
  const c = await step(s, 'campaign', 200, 'POST', '/v3/election/campaign', campaign);
  const leader = (c.body as { leader: unknown }).leader;
  await step(s, 'proclaim', 200, 'POST', '/v3/election/proclaim', j({ leader, value: b64('v2') }));
  await step(s, 'leader', 200, 'POST', '/v3/election/leader', j({ name: b64('e') }));
  await step(s, 'observe', 200, 'POST', '/v3/election/observe', j({ name: b64('e') }), { lines: 1 });
  await steps(s, [
    ['resign', 200, 'POST /v3/election/resign', j({ leader })],
    ['leader after resign', 500, 'POST /v3/election/leader', j({ name: b64('e') })],
  ]);
});

/** A watch create request on key "w" (with `extra` fields), as a JSON body. */
const watchW = (extra: object = {}) => j({ create_request: { key: b64('w'), ...extra } });

diffCase('gateway: watch streams — events, cancel, compacted, several requests in one body', (s) =>
  steps(s, [
    ['put 1', 200, 'POST /v3/kv/put', j({ key: b64('w'), value: b64('1') })],
    [
      'watch from rev 1, then a put arrives',
      200,
      'POST /v3/watch',
      watchW({ start_revision: '1' }),
      {
        lines: 3,
        // after "created" and the first put's event, so that the second put is a response of its own
        duringAfter: 2,
        during: async () => {
          await send(s, 'POST', '/v3/kv/put', j({ key: b64('w'), value: b64('2') }));
        },
      },
    ],
    [
      'create and cancel in one body',
      200,
      'POST /v3/watch',
      `${watchW()} ${j({ cancel_request: { watch_id: '0' } })}`,
      { lines: 2 },
    ],
    [
      'prefix watch with prev_kv and filters',
      200,
      'POST /v3/watch',
      watchW({ range_end: b64('x'), start_revision: '2', prev_kv: true, filters: ['NODELETE'] }),
      { lines: 2 },
    ],
    ['compact', 200, 'POST /v3/kv/compaction', '{"revision":"3"}'],
    ['watch a compacted revision', 200, 'POST /v3/watch', watchW({ start_revision: '1' }), { lines: 2 }],
    ['bad first request of a bidi stream', 500, 'POST /v3/watch', '{"create_request": 5}'],
    ['bad second request: ignored', 200, 'POST /v3/watch', `${watchW()} {"x":`, { lines: 1 }],
    ['bad request of a server stream', 400, 'POST /v3/election/observe', '{"name": 5}'],
  ]),
);
