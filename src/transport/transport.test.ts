/**
 * Goal: the peer transport carries Raft messages between members as the contract in README.md says
 * — in order per sender, across reconnects, with etcd's refusals, bounded queues and frames,
 * runtime fault hooks, and chunked snapshots with a reported outcome.
 * Method: real Transports in one process on 127.0.0.1 port 0 (a restart reuses the port it got);
 * raw node:http2 / node:http clients play misbehaving peers. Every wait polls a condition with a
 * deadline; every transport and client is closed in cleanup (`t.after`).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { SeededRng } from '../pkg/index.js';
import { encodeMessage, type Message, MessageType, newMessage } from '../raft/index.js';
import { FaultHooks } from './faults.js';
import { encodeFrames } from './frame.js';
import { FRAME_BYTES_MAX } from './limits.js';
import { PeerServer } from './peer-server.js';
import {
  appMessage,
  logged,
  startTestNode,
  TEST_CLUSTER_ID,
  type TestCtx,
  type TestNode,
} from './test-node.js';

const CLUSTER = TEST_CLUSTER_ID;
const DEADLINE_MS = 10_000;

async function waitFor(what: string, cond: () => boolean, deadlineMs = DEADLINE_MS): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Node = TestNode;
const start = startTestNode;
const app = appMessage;

function indexesFrom(n: Node, from: bigint): number[] {
  return n.got.filter((m) => m.from === from).map((m) => m.index);
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Sends 1..count from a to b in bursts that fit the default queue. */
async function sendMany(a: Node, b: Node, count: number, burst = 500): Promise<void> {
  for (let i = 1; i <= count; i += burst) {
    const batch: Message[] = [];
    for (let j = i; j < Math.min(count + 1, i + burst); j++) batch.push(app(a.id, b.id, j));
    a.t.send(batch);
    await waitFor(
      'the queue to drain below a burst',
      () => (a.t.stats().get(b.id)?.queued ?? 0) < 4096 - burst,
    );
  }
}

function mesh(nodes: Node[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.t.addPeer(b.id, [b.url]);
}

test('three transports exchange thousands of messages, in order per sender', async (t) => {
  const nodes = [await start(t, 1n), await start(t, 2n), await start(t, 3n)];
  mesh(nodes);
  const N = 3000;
  await Promise.all(nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => sendMany(a, b, N))));
  for (const b of nodes) {
    for (const a of nodes) {
      if (a === b) continue;
      await waitFor(`${a.id}->${b.id}`, () => indexesFrom(b, a.id).length >= N);
      assert.deepEqual(indexesFrom(b, a.id), range(1, N));
    }
  }
  const m = nodes[1]!.got.find((x) => x.from === 1n && x.index === 7)!;
  assert.equal(m.type, MessageType.App);
  assert.equal(m.to, 2n);
  assert.deepEqual(Buffer.from(m.entries[0]!.data), Buffer.alloc(16, 7));
  const s = nodes[0]!.t.stats().get(2n)!;
  assert.equal(s.sent, N);
  assert.equal(s.connected, true);
  assert.equal(s.dropped, 0);
  assert.ok(s.bytes > N * 16);
  assert.equal(nodes[1]!.t.stats().get(1n)!.received, N);
});

test('a restarted peer is reconnected and the queue drains in order', async (t) => {
  const a = await start(t, 1n);
  let b = await start(t, 2n);
  const port = b.t.address.port;
  a.t.addPeer(2n, [b.url]);
  b.t.addPeer(1n, [a.url]);
  a.t.send([app(1n, 2n, 1)]);
  await waitFor('first message', () => b.got.length === 1);
  await b.t.close();
  await waitFor('a to notice b is gone', () => a.t.stats().get(2n)!.connected === false);
  a.t.send(range(2, 201).map((i) => app(1n, 2n, i)));
  await waitFor('a to report b unreachable', () => a.unreachable.includes(2n));
  assert.equal(a.t.stats().get(2n)!.queued, 200);
  b = await start(t, 2n, { listen: { host: '127.0.0.1', port } });
  b.t.addPeer(1n, [a.url]);
  await waitFor('the queue to drain', () => b.got.length === 200);
  assert.deepEqual(indexesFrom(b, 1n), range(2, 201));
  assert.equal(a.t.stats().get(2n)!.connected, true);
  assert.equal(a.t.stats().get(2n)!.queued, 0);
});

test('updatePeer moves the link to a new URL; removePeer ends both directions', async (t) => {
  const a = await start(t, 1n);
  const b1 = await start(t, 2n);
  mesh([a, b1]);
  a.t.send([app(1n, 2n, 1)]);
  await waitFor('first message', () => b1.got.length === 1);
  await b1.t.close();
  const b2 = await start(t, 2n);
  b2.t.addPeer(1n, [a.url]);
  a.t.updatePeer(2n, [b2.url]);
  a.t.send([app(1n, 2n, 2), app(1n, 2n, 3)]);
  await waitFor('messages at the new URL', () => b2.got.length === 2);
  assert.deepEqual(indexesFrom(b2, 1n), [2, 3]);
  b2.t.send([app(2n, 1n, 1)]);
  await waitFor('b2 -> a', () => a.got.length === 1);
  a.t.removePeer(2n);
  assert.equal(a.t.stats().has(2n), false);
  a.t.send([app(1n, 2n, 4)]); // unknown peer now: dropped quietly
  await waitFor('b2 to lose its link to a', () => b2.t.stats().get(1n)!.connected === false);
  assert.ok(b2.unreachable.includes(1n));
});

test('a peer of another cluster is refused with "cluster ID mismatch"', async (t) => {
  const a = await start(t, 1n);
  const b = await start(t, 2n, { clusterId: 0x2000n });
  a.t.addPeer(2n, [b.url]);
  b.t.addPeer(1n, [a.url]);
  a.t.send([app(1n, 2n, 1)]);
  await waitFor('a to record the refusal', () => a.t.stats().get(2n)!.lastError === 'cluster ID mismatch');
  assert.equal(a.t.stats().get(2n)!.lastErrorCode, 'cluster-id-mismatch');
  assert.ok(logged(b, 'request cluster ID mismatch'));
  assert.ok(logged(a, 'request sent was ignored by remote peer due to cluster ID mismatch'));
  assert.ok(a.unreachable.includes(2n));
  assert.equal(b.got.length, 0);
  assert.equal(a.t.stats().get(2n)!.connected, false);
  // The exact wire answer, as etcd gives it.
  const r = await rawPost(t, b.url, { 'x-etcd-cluster-id': '1000', 'x-server-from': '1', 'x-raft-to': '2' });
  assert.equal(r.status, 412);
  assert.equal(r.body, 'cluster ID mismatch\n');
  assert.equal(r.headers['x-etcd-cluster-id'], '2000');
});

test('requests to another member or from an unknown sender are refused; an allowed unknown sender is served', async (t) => {
  const b = await start(t, 2n, {
    acceptUnknownSender: (id, urls) => id === 99n && urls[0] === 'http://new:2380',
  });
  const base = { 'x-etcd-cluster-id': CLUSTER.toString(16), 'x-raft-to': '2' };
  let r = await rawPost(t, b.url, { ...base, 'x-server-from': '98', 'x-peerurls': 'http://new:2380' });
  assert.deepEqual([r.status, r.body], [404, 'error sender not found\n']);
  r = await rawPost(t, b.url, { ...base, 'x-server-from': 'zz' });
  assert.deepEqual([r.status, r.body], [404, 'invalid from\n']);
  r = await rawPost(t, b.url, {
    ...base,
    'x-raft-to': '3',
    'x-server-from': '99',
    'x-peerurls': 'http://new:2380',
  });
  assert.deepEqual([r.status, r.body], [412, 'to field mismatch\n']);
  const s = await rawStream(t, b.url, 99n, 2n, { 'x-peerurls': 'http://new:2380' });
  assert.equal(s.status, 200);
  s.stream.write(encodeFrames([encodeMessage(app(99n, 2n, 5))]));
  await waitFor('the new member message', () => b.got.length === 1);
  assert.equal(b.got[0]!.from, 99n);
});

test('oversized and garbage frames end that stream only; the receiver keeps serving', async (t) => {
  const a = await start(t, 1n);
  const b = await start(t, 2n, { acceptUnknownSender: (id) => id === 99n });
  mesh([a, b]);
  // Oversized: a header announcing one byte more than the bound.
  const big = await rawStream(t, b.url, 99n, 2n);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(FRAME_BYTES_MAX + 1);
  big.stream.write(header);
  await waitFor('the oversized stream to end', () => big.ended);
  assert.match(big.trailerError ?? '', /frame exceeds the size limit: 67108865 bytes > 67108864/);
  // Garbage: a well-sized frame that does not decode.
  const bad = await rawStream(t, b.url, 99n, 2n);
  bad.stream.write(encodeFrames([new Uint8Array([1, 250, 0, 0])]));
  await waitFor('the garbage stream to end', () => bad.ended);
  assert.match(bad.trailerError ?? '', /malformed raft message/);
  // A message claiming another sender than its stream.
  const spoof = await rawStream(t, b.url, 99n, 2n);
  spoof.stream.write(encodeFrames([encodeMessage(app(1n, 2n, 1))]));
  await waitFor('the spoofing stream to end', () => spoof.ended);
  assert.equal(b.got.length, 0);
  // Garbage below HTTP: junk after a valid HTTP/2 preface, and junk that is not HTTP at all.
  for (const junk of [
    Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(64, 0xee)]),
    Buffer.alloc(64, 0x07),
  ]) {
    await new Promise<void>((resolve) => {
      const s = net.connect(b.t.address.port, '127.0.0.1', () => s.write(junk));
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
    });
  }
  // Still serving: a real peer's messages arrive, and HTTP/1.1 gets answers on the same port.
  a.t.send(range(1, 50).map((i) => app(1n, 2n, i)));
  await waitFor('a to b after the bad streams', () => b.got.length === 50);
  assert.deepEqual(indexesFrom(b, 1n), range(1, 50));
  assert.deepEqual(await http1Get(b.url, '/raft/stream/message'), {
    status: 405,
    body: 'Method Not Allowed\n',
  });
  assert.deepEqual(await http1Get(b.url, '/nope'), { status: 404, body: '404 page not found\n' });
});

test('a full queue drops messages and reports the peer unreachable', async (t) => {
  const closedPort = await freePort();
  const a = await start(t, 1n, { queueMessagesMax: 100 });
  a.t.addPeer(2n, [`http://127.0.0.1:${closedPort}`]);
  a.t.send(range(1, 150).map((i) => app(1n, 2n, i)));
  const s = a.t.stats().get(2n)!;
  assert.equal(s.queued, 100);
  assert.equal(s.dropped, 50);
  assert.ok(a.unreachable.includes(2n));
  assert.ok(logged(a, 'dropped internal Raft message since sending buffer is full'));
  a.t.removePeer(2n);
  assert.equal(a.t.stats().has(2n), false);
});

test('fault hooks: a partition blocks both directions at the sender and at the receiver, and heals', async (t) => {
  const faults = new FaultHooks();
  const nodes = [
    await start(t, 1n, { faults }),
    await start(t, 2n, { faults }),
    await start(t, 3n, { faults }),
  ];
  const [n1, n2, n3] = nodes as [Node, Node, Node];
  mesh(nodes);
  faults.partition([1n], [2n, 3n]);
  n1.t.send(range(1, 10).map((i) => app(1n, 2n, i)));
  n2.t.send(range(1, 10).map((i) => app(2n, 1n, i)));
  n2.t.send(range(1, 10).map((i) => app(2n, 3n, i)));
  await waitFor('2 -> 3 inside the majority side', () => n3.got.length === 10);
  assert.equal(n1.t.stats().get(2n)!.faultDropped, 10);
  assert.equal(n2.t.stats().get(1n)!.faultDropped, 10);
  faults.heal();
  n1.t.send([app(1n, 2n, 11)]);
  n2.t.send([app(2n, 1n, 11)]);
  await waitFor('healed links', () => n2.got.some((m) => m.from === 1n) && n1.got.length > 0);
  assert.deepEqual(indexesFrom(n2, 1n), [11]);
  assert.deepEqual(indexesFrom(n1, 2n), [11]);

  // Receiver side only: 3 has its own hooks (as a member in its own process would).
  const own = new FaultHooks();
  const n4 = await start(t, 4n, { faults: own });
  n1.t.addPeer(4n, [n4.url]);
  n4.t.addPeer(1n, [n1.url]);
  n1.t.send([app(1n, 4n, 1)]);
  await waitFor('1 -> 4 connected', () => n4.got.length === 1);
  own.partition([4n], [1n]);
  n1.t.send(range(2, 11).map((i) => app(1n, 4n, i)));
  await waitFor('4 to drop them', () => n4.t.stats().get(1n)!.receiveFaultDropped === 10);
  own.heal();
  n1.t.send([app(1n, 4n, 12)]);
  await waitFor('the marker', () => n4.got.length === 2);
  assert.deepEqual(indexesFrom(n4, 1n), [1, 12]);
});

test('fault hooks: drop probability loses about that share; delay holds messages and keeps order', async (t) => {
  const faults = new FaultHooks();
  const a = await start(t, 1n, { faults });
  const b = await start(t, 2n, { faults });
  mesh([a, b]);
  faults.setLink(1n, '*', { dropProbability: 0.5 });
  a.t.send(range(1, 1000).map((i) => app(1n, 2n, i)));
  const dropped = a.t.stats().get(2n)!.faultDropped;
  assert.ok(dropped > 400 && dropped < 600, `dropped ${dropped} of 1000`);
  await waitFor('the survivors', () => b.got.length === 1000 - dropped);
  const got = indexesFrom(b, 1n);
  assert.deepEqual(
    got,
    [...got].sort((x, y) => x - y),
  );
  faults.setLink(1n, '*', { delayMs: 150 });
  const sentAt = Date.now();
  a.t.send([app(1n, 2n, 2000), app(1n, 2n, 2001)]);
  await waitFor('the delayed pair', () => b.got.length === 1002 - dropped);
  assert.ok(Date.now() - sentAt >= 140, 'held for the delay');
  assert.deepEqual(indexesFrom(b, 1n).slice(-2), [2000, 2001]);
  faults.reset();
  assert.deepEqual(faults.link(1n, 2n), { dropProbability: 0, delayMs: 0 });
});

function snapMsg(from: bigint, to: bigint, data: Uint8Array): Message {
  return newMessage({
    type: MessageType.Snap,
    from,
    to,
    term: 3,
    snapshot: { metadata: { index: 4242, term: 3, confState: { voters: [1n, 2n, 3n], learners: [] } }, data },
  });
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new SeededRng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

test('a snapshot of several MiB arrives intact as a stream, and its status is reported', async (t) => {
  const data = randomBytes(6 * 1024 * 1024 + 123, 7);
  const received: { m: Message; bytes: Buffer; chunks: number }[] = [];
  const a = await start(t, 1n);
  const b = await start(t, 2n, {
    onSnapshot: async (m, d) => {
      assert.ok(!(d instanceof Uint8Array));
      const parts: Buffer[] = [];
      for await (const c of d) parts.push(Buffer.from(c));
      received.push({ m, bytes: Buffer.concat(parts), chunks: parts.length });
    },
  });
  mesh([a, b]);
  a.t.send([app(1n, 2n, 1), snapMsg(1n, 2n, data), app(1n, 2n, 2)]);
  await waitFor('the snapshot status', () => a.snapStatus.length === 1, 20_000);
  assert.deepEqual(a.snapStatus, [[2n, true]]);
  assert.equal(received.length, 1);
  const r = received[0]!;
  assert.ok(r.chunks > 1, 'arrived in chunks');
  assert.equal(r.bytes.byteLength, data.byteLength);
  assert.ok(r.bytes.equals(data), 'bytes intact');
  assert.equal(r.m.snapshot!.metadata.index, 4242);
  assert.deepEqual(r.m.snapshot!.metadata.confState.voters, [1n, 2n, 3n]);
  assert.equal(r.m.snapshot!.data.byteLength, 0);
  await waitFor('the surrounding messages', () => b.got.length === 2);
  assert.equal(a.t.stats().get(2n)!.snapshotsSent, 1);
});

test('a snapshot without onSnapshot arrives buffered through onMessage; a refusing receiver reports failure', async (t) => {
  const data = randomBytes(3 * 1024 * 1024, 9);
  const a = await start(t, 1n);
  const b = await start(t, 2n);
  const c = await start(t, 3n, {
    onSnapshot: async () => {
      throw new Error('disk full');
    },
  });
  mesh([a, b, c]);
  a.t.send([snapMsg(1n, 2n, data), snapMsg(1n, 3n, data)]);
  await waitFor('both statuses', () => a.snapStatus.length === 2, 20_000);
  assert.deepEqual(
    [...a.snapStatus].sort((x, y) => Number(x[0] - y[0])),
    [
      [2n, true],
      [3n, false],
    ],
  );
  assert.equal(b.got.length, 1);
  assert.ok(Buffer.from(b.got[0]!.snapshot!.data).equals(data));
  assert.match(a.t.stats().get(3n)!.lastError ?? '', /disk full/);
  assert.ok(a.unreachable.includes(3n));
});

test('a snapshot across a partition fails at once and is reported', async (t) => {
  const faults = new FaultHooks();
  const a = await start(t, 1n, { faults });
  const b = await start(t, 2n, { faults });
  mesh([a, b]);
  faults.partition([1n], [2n]);
  a.t.send([snapMsg(1n, 2n, new Uint8Array(10))]);
  await waitFor('a status', () => a.snapStatus.length === 1);
  assert.deepEqual(a.snapStatus, [[2n, false]]);
});

// ---- raw clients playing misbehaving peers ----

async function rawPost(
  t: TestCtx,
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(url);
  t.after(() => void session.destroy());
  const req = session.request({ ':method': 'POST', ':path': '/raft/stream/message', ...headers });
  req.end();
  return new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (h) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        session.close();
        resolve({ status: Number(h[':status']), body: Buffer.concat(parts).toString(), headers: h });
      });
    });
  });
}

interface RawStream {
  status: number;
  stream: http2.ClientHttp2Stream;
  ended: boolean;
  trailerError: string | undefined;
}

async function rawStream(
  t: TestCtx,
  url: string,
  from: bigint,
  to: bigint,
  extra: Record<string, string> = {},
): Promise<RawStream> {
  const session = http2.connect(url);
  session.on('error', () => {});
  t.after(() => void session.destroy());
  const stream = session.request(
    {
      ':method': 'POST',
      ':path': '/raft/stream/message',
      'x-etcd-cluster-id': CLUSTER.toString(16),
      'x-server-from': from.toString(16),
      'x-raft-to': to.toString(16),
      ...extra,
    },
    { endStream: false },
  );
  stream.on('error', () => {});
  const out: RawStream = { status: 0, stream, ended: false, trailerError: undefined };
  stream.on('trailers', (h) => {
    out.trailerError = h['x-tsetcd-stream-error'] as string | undefined;
  });
  stream.on('close', () => {
    out.ended = true;
  });
  stream.resume();
  await new Promise<void>((resolve) =>
    stream.on('response', (h) => {
      out.status = Number(h[':status']);
      resolve();
    }),
  );
  return out;
}

function http1Get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}${path}`, { agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
  });
}

/** A port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

test('sendSnapshot streams data from an async source; a source shorter than announced fails', async (t) => {
  const a = await start(t, 1n);
  const b = await start(t, 2n); // no onSnapshot: buffered, delivered through onMessage
  mesh([a, b]);
  const part = randomBytes(100 * 1024, 3);
  async function* source(n: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < n; i++) yield part;
  }
  a.t.sendSnapshot(snapMsg(1n, 2n, new Uint8Array(0)), source(10), 10 * part.byteLength);
  await waitFor('the streamed snapshot', () => a.snapStatus.length === 1);
  assert.deepEqual(a.snapStatus, [[2n, true]]);
  const got = b.got[0]!.snapshot!.data;
  assert.equal(got.byteLength, 10 * part.byteLength);
  assert.ok(Buffer.from(got.subarray(9 * part.byteLength)).equals(Buffer.from(part)));
  a.t.sendSnapshot(snapMsg(1n, 2n, new Uint8Array(0)), source(3), 4 * part.byteLength);
  await waitFor('the short snapshot to fail', () => a.snapStatus.length === 2);
  assert.deepEqual(a.snapStatus[1], [2n, false]);
  assert.match(a.t.stats().get(2n)!.lastError ?? '', /source gave 307200 of 409600/);
  assert.equal(b.got.length, 1);
});

test('the peer port serves other routes over HTTP/1.1 and HTTP/2', async (t) => {
  const b = await start(t, 2n);
  b.t.server.handle('/version', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}');
  });
  assert.deepEqual(await http1Get(b.url, '/version'), {
    status: 200,
    body: '{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}',
  });
  const session = http2.connect(b.url);
  t.after(() => void session.destroy());
  const body = await new Promise<string>((resolve, reject) => {
    const req = session.request({ ':path': '/version' });
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString()));
    req.on('error', reject);
  });
  assert.equal(body, '{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}');
});

test('a transport can join a peer server started earlier and leaves it running on close', async (t) => {
  const server = await PeerServer.listen('127.0.0.1', 0);
  t.after(() => server.close());
  server.handle('/members', (_req, res) => {
    res.writeHead(200);
    res.end('[]');
  });
  const a = await start(t, 1n);
  const b = await start(t, 2n, { server });
  assert.equal(b.t.address.port, server.address.port);
  mesh([a, b]);
  a.t.send([app(1n, 2n, 1)]);
  await waitFor('a message through the shared server', () => b.got.length === 1);
  await b.t.close();
  assert.deepEqual(await http1Get(b.url, '/members'), { status: 200, body: '[]' });
});

test('a peer that goes silent is detected by ping and reconnected once it answers again', async (t) => {
  const b = await start(t, 2n);
  const proxy = await stallableProxy(t, b.t.address.port);
  const a = await start(t, 1n, { pingIntervalMs: 100 });
  a.t.addPeer(2n, [`http://127.0.0.1:${proxy.port}`]);
  b.t.addPeer(1n, [a.url]);
  a.t.send([app(1n, 2n, 1)]);
  await waitFor('first message', () => b.got.length === 1);
  proxy.stall();
  await waitFor(
    'the ping timeout',
    () => a.t.stats().get(2n)!.lastError === 'rafthttp: peer unreachable: ping timeout',
  );
  assert.equal(a.t.stats().get(2n)!.connected, false);
  assert.ok(a.unreachable.includes(2n));
  await waitFor('a dial that gets no answer', () =>
    /no answer from/.test(a.t.stats().get(2n)!.lastError ?? ''),
  );
  a.t.send([app(1n, 2n, 2)]);
  proxy.resume();
  await waitFor('reconnected and drained', () => b.got.length === 2);
  assert.deepEqual(indexesFrom(b, 1n), [1, 2]);
});

/** A TCP proxy to 127.0.0.1:`target` that can stop forwarding (sockets stay open: a silent peer). */
async function stallableProxy(
  t: TestCtx,
  target: number,
): Promise<{ port: number; stall(): void; resume(): void }> {
  let stalled = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    if (stalled) for (const s of pair) s.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const p of pairs) for (const s of p) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    stall() {
      stalled = true;
      for (const p of pairs) for (const s of p) s.pause();
    },
    resume() {
      stalled = false;
      // Connections made while stalled were already given up by the dialer; fresh ones flow.
      for (const p of pairs) for (const s of p) s.resume();
    },
  };
}

test('malformed snapshot requests are refused with a 4xx and a reason', async (t) => {
  const b = await start(t, 2n, { acceptUnknownSender: (id) => id === 99n });
  const headers = { 'x-etcd-cluster-id': CLUSTER.toString(16), 'x-server-from': '63', 'x-raft-to': '2' };
  const post = async (extra: Record<string, string>, body: Buffer) => {
    const session = http2.connect(b.url);
    t.after(() => void session.destroy());
    const req = session.request({ ':method': 'POST', ':path': '/raft/snapshot', ...headers, ...extra });
    req.on('error', () => {});
    req.end(body);
    return new Promise<{ status: number; body: string }>((resolve) => {
      req.on('response', (h) => {
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => resolve({ status: Number(h[':status']), body: Buffer.concat(parts).toString() }));
      });
    });
  };
  let r = await post({}, Buffer.alloc(0));
  assert.deepEqual(r, { status: 400, body: 'missing or invalid x-snapshot-bytes\n' });
  r = await post({ 'x-snapshot-bytes': String(2 ** 31) }, Buffer.alloc(0));
  assert.equal(r.status, 413);
  assert.match(r.body, /snapshot exceeds the size limit/);
  r = await post({ 'x-snapshot-bytes': '3' }, encodeFrames([new Uint8Array([1, 2, 3])]));
  assert.equal(r.status, 400);
  assert.match(r.body, /malformed/);
  r = await post({ 'x-snapshot-bytes': '3' }, encodeFrames([encodeMessage(app(99n, 2n, 1))]));
  assert.deepEqual(r, { status: 400, body: 'wrong raft message type\n' });
  const snap = encodeMessage(snapMsg(99n, 2n, new Uint8Array(0)));
  r = await post({ 'x-snapshot-bytes': '10' }, Buffer.concat([encodeFrames([snap]), Buffer.alloc(4)]));
  assert.equal(r.status, 400);
  assert.match(r.body, /4 of 10 bytes/);
  r = await post({ 'x-snapshot-bytes': '2' }, Buffer.concat([encodeFrames([snap]), Buffer.from([5, 6])]));
  assert.equal(r.status, 204);
  assert.deepEqual([...b.got[0]!.snapshot!.data], [5, 6]);
});
