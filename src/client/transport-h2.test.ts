/**
 * Goal: the lean unary transport (transport-h2.ts) balances and reports status as the grpc-js path
 * does. Method: in-process node:http2 servers on ports the OS picks, each answering gRPC unary calls
 * with its own name (length-prefixed DATA, grpc-status in trailers), or with a scripted status; an
 * AddressBook over them; the transport's own calls counted per server.
 * - round_robin spreads calls evenly; pick_first sends all to the first member in book order and, when
 *   that member goes away, all to the next;
 * - book changes reach the policy live (a member added gets calls, a removed one none);
 * - grpc-status/grpc-message (percent-decoded, trailers-only too) become the wire table's errors;
 *   deadlines, aborts, no connection, oversized answers and close() give grpc-js's codes;
 * - the auth token and grpc-timeout travel as headers;
 * - rotate() (max connection age) opens new sessions while calls in flight finish on the old;
 * - through a dial seam, a dial that never completes: pick_first moves on after 250 ms, and the
 *   connect timeout ends it with UNAVAILABLE.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http2, { type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { Status, wireErrors } from '../wire/index.js';
import { AddressBook } from './endpoints.js';
import { fromGrpc } from './errors.js';
import type { LbPolicy } from './options.js';
import { type CallError, type H2CallOptions, H2Transport } from './transport-h2.js';

/** What a server does with a call: answer its name, a status, or nothing (hang). */
type Behaviour =
  | 'echo'
  | 'hang'
  | { status: number; message: string; trailersOnly?: boolean }
  | { bytes: number }
  | { delayMs: number };

interface FakeMember {
  name: string;
  port: number;
  calls: number;
  /** HTTP/2 sessions (connections) opened to this member. */
  sessions: number;
  lastHeaders: IncomingHttpHeaders | undefined;
  behaviour: Behaviour;
  server: Http2Server;
  close(): Promise<void>;
}

const members: FakeMember[] = [];
after(async () => {
  for (const m of members) await m.close();
});

function frame(b: Buffer): Buffer {
  const f = Buffer.alloc(5 + b.length);
  f.writeUInt32BE(b.length, 1);
  b.copy(f, 5);
  return f;
}

async function member(name: string): Promise<FakeMember> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    m.sessions++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const m: FakeMember = {
    name,
    port: 0,
    calls: 0,
    sessions: 0,
    lastHeaders: undefined,
    behaviour: 'echo',
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    m.calls++;
    m.lastHeaders = headers;
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('end', () => {
      const b = m.behaviour;
      if (typeof b === 'object' && 'delayMs' in b) {
        setTimeout(() => {
          if (stream.destroyed || stream.closed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(frame(Buffer.from(name)));
        }, b.delayMs);
        return;
      }
      // A call the client cancelled meanwhile has nothing to answer.
      if (b === 'hang' || stream.destroyed || stream.closed) return;
      if (typeof b === 'object' && 'status' in b && b.trailersOnly) {
        stream.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc',
            'grpc-status': String(b.status),
            'grpc-message': b.message,
          },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => {
        if (typeof b === 'object' && 'status' in b) {
          stream.sendTrailers({ 'grpc-status': String(b.status), 'grpc-message': b.message });
        } else stream.sendTrailers({ 'grpc-status': '0' });
      });
      if (b === 'echo') stream.end(frame(Buffer.from(name)));
      else if (typeof b === 'object' && 'bytes' in b) stream.end(frame(Buffer.alloc(b.bytes, 1)));
      else stream.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  m.port = (server.address() as AddressInfo).port;
  members.push(m);
  return m;
}

const echo = {
  path: '/test.Echo/Call',
  requestSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b.toString(),
};

function transport(ms: FakeMember[], policy: LbPolicy, maxResponseBytes = 2 ** 31 - 1) {
  const book = new AddressBook(ms.map((m) => ({ host: '127.0.0.1', port: m.port })));
  const t = new H2Transport(book, policy, { initialMs: 20, maxMs: 100 }, maxResponseBytes);
  return { book, t };
}

function call(t: H2Transport, o: H2CallOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    t.unary(echo, Buffer.from('hi'), 'voters', o, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

async function burst(t: H2Transport, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await call(t);
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  return seen;
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

test('round_robin: calls go to every member in turn', async () => {
  const ms = [await member('a'), await member('b'), await member('c')];
  const { book, t } = transport(ms, 'round_robin');
  await call(t); // the first call waits for the connections
  await until(async () => (await burst(t, 3)).size === 3, 5000, 'three ready members');
  const seen = await burst(t, 300);
  assert.deepEqual([...seen.keys()].sort(), ['a', 'b', 'c']);
  for (const [who, n] of seen) assert.equal(n, 100, `${who}: ${n} of 300`);
  t.close();
  book.close();
});

test('pick_first: every call to the first member; when it goes, every call to the next', async () => {
  const ms = [await member('p1'), await member('p2'), await member('p3')];
  const { book, t } = transport(ms, 'pick_first');
  assert.deepEqual([...(await burst(t, 100))], [['p1', 100]]);
  assert.equal(ms[1]!.calls + ms[2]!.calls, 0);
  await ms[0]!.close();
  // The call in flight when the connection drops may fail (UNAVAILABLE); then p2 is pinned.
  await until(
    () =>
      call(t).then(
        () => true,
        (e: CallError) => {
          assert.equal(e.code, Status.UNAVAILABLE);
          return false;
        },
      ),
    5000,
    'a pick after the loss',
  );
  assert.deepEqual([...(await burst(t, 100))], [['p2', 100]]);
  assert.equal(ms[2]!.calls, 0);
  t.close();
  book.close();
});

test('a member added to the book gets round_robin calls, a removed one none', async () => {
  const ms = [await member('r1'), await member('r2')];
  const { book, t } = transport(ms, 'round_robin');
  await until(async () => (await burst(t, 2)).size === 2, 5000, 'two ready members');
  const m3 = await member('r3');
  book.set([...ms, m3].map((m) => ({ host: '127.0.0.1', port: m.port })));
  await until(async () => (await burst(t, 3)).has('r3'), 5000, 'r3 reached');
  book.set([ms[1]!, m3].map((m) => ({ host: '127.0.0.1', port: m.port })));
  const seen = await burst(t, 100);
  assert.equal(seen.get('r1'), undefined);
  assert.equal(seen.get('r2'), 50);
  assert.equal(seen.get('r3'), 50);
  t.close();
  book.close();
});

test("grpc-status and grpc-message become the wire table's errors (trailers and trailers-only)", async () => {
  const [code, text] = wireErrors.compacted;
  const m = await member('e');
  const { book, t } = transport([m], 'round_robin');
  for (const trailersOnly of [false, true]) {
    m.behaviour = { status: code, message: encodeURIComponent(text), trailersOnly };
    const e = await call(t).then(
      () => assert.fail('resolved'),
      (err: CallError) => err,
    );
    assert.equal(e.code, code);
    assert.equal(e.details, text);
    assert.equal(fromGrpc(e).kind, 'compacted');
  }
  t.close();
  book.close();
});

test('token and grpc-timeout headers; deadline, abort and oversized answers', async () => {
  const m = await member('d');
  const { book, t } = transport([m], 'round_robin', 64);
  assert.equal(await call(t, { token: 'tok.1', deadline: Date.now() + 60_000 }), 'd');
  assert.equal(m.lastHeaders?.token, 'tok.1');
  assert.match(String(m.lastHeaders?.['grpc-timeout']), /^\d+m$/);
  assert.equal(m.lastHeaders?.['content-type'], 'application/grpc');

  m.behaviour = 'hang';
  const t0 = Date.now();
  const late = await call(t, { deadline: Date.now() + 100 }).catch((e: CallError) => e);
  assert.equal((late as CallError).code, Status.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - t0 < 2000);

  const ac = new AbortController();
  const p = call(t, { signal: ac.signal }).catch((e: CallError) => e);
  ac.abort();
  assert.equal(((await p) as CallError).code, Status.CANCELLED);

  m.behaviour = { bytes: 65 };
  assert.equal(((await call(t).catch((e) => e)) as CallError).code, Status.RESOURCE_EXHAUSTED);
  m.behaviour = { bytes: 64 };
  assert.equal((await call(t)).length, 64);

  m.behaviour = 'hang';
  const pending = call(t).catch((e: CallError) => e);
  await until(async () => m.calls >= 6, 5000, 'the call to reach the server');
  t.close();
  assert.equal(((await pending) as CallError).code, Status.CANCELLED);
  book.close();
});

test('no member reachable: UNAVAILABLE "No connection established"', async () => {
  const m = await member('gone');
  const port = m.port;
  await m.close();
  const book = new AddressBook([{ host: '127.0.0.1', port }]);
  const t = new H2Transport(book, 'round_robin', { initialMs: 20, maxMs: 100 }, 2 ** 31 - 1);
  const e = (await call(t).catch((x) => x)) as CallError;
  assert.equal(e.code, Status.UNAVAILABLE);
  assert.match(e.details, /^No connection established/);
  t.close();
  book.close();
});

/** A session whose dial never completes (a blackholed address), for the dial seam. */
class HangingSession extends EventEmitter {
  destroyed = false;
  closed = false;
  unref() {}
  ref() {}
  close() {
    this.closed = true;
  }
  destroy(e?: Error) {
    if (this.destroyed) return;
    this.destroyed = true;
    if (e) this.emit('error', e);
    this.emit('close');
  }
}

function hangingDial(hangPort: number) {
  return (authority: string) =>
    authority.endsWith(`:${hangPort}`)
      ? (new HangingSession() as unknown as http2.ClientHttp2Session)
      : http2.connect(authority);
}

test('pick_first dials the next member when the first has been connecting for 250 ms', async () => {
  const ms = [await member('h1'), await member('h2'), await member('h3')];
  const book = new AddressBook(ms.map((m) => ({ host: '127.0.0.1', port: m.port })));
  const dial = hangingDial(ms[0]!.port);
  const t = new H2Transport(
    book,
    'pick_first',
    { initialMs: 20, maxMs: 100, connectTimeoutMs: 60_000, dial },
    2 ** 31 - 1,
  );
  const t0 = performance.now();
  assert.equal(await call(t, { deadline: Date.now() + 5000 }), 'h2');
  assert.ok(performance.now() - t0 < 2000, `first answer after ${performance.now() - t0} ms`);
  assert.deepEqual([...(await burst(t, 50))], [['h2', 50]]);
  assert.equal(ms[2]!.calls, 0);
  t.close();
  book.close();
});

test('a dial that never completes is abandoned after the connect timeout: UNAVAILABLE', async () => {
  const m = await member('never');
  const book = new AddressBook([{ host: '127.0.0.1', port: m.port }]);
  const dial = hangingDial(m.port);
  const t = new H2Transport(
    book,
    'round_robin',
    { initialMs: 20, maxMs: 100, connectTimeoutMs: 200, dial },
    2 ** 31 - 1,
  );
  const e = (await call(t, { deadline: Date.now() + 5000 }).catch((x) => x)) as CallError;
  assert.equal(e.code, Status.UNAVAILABLE, e.message);
  assert.match(e.details, /connect timeout/);
  assert.equal(m.calls, 0);
  t.close();
  book.close();
});

test('rotate: new calls on new sessions, calls in flight finish on the old ones', async () => {
  const m = await member('rot');
  const { book, t } = transport([m], 'round_robin');
  assert.equal(await call(t), 'rot');
  assert.equal(m.sessions, 1);
  m.behaviour = { delayMs: 200 };
  const inFlight = call(t);
  await until(async () => m.calls >= 2, 5000, 'the slow call to reach the server');
  t.rotate();
  m.behaviour = 'echo';
  assert.equal(await call(t), 'rot');
  assert.equal(m.sessions, 2);
  assert.equal(await inFlight, 'rot');
  t.close();
  book.close();
});
