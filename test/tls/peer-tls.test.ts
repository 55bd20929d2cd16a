// Goal: peer links work over https:// with etcd's peer TLS semantics — Raft messages and a
// multi-MiB snapshot stream pass between members whose certificates are trusted and allowed
// (--peer-client-cert-auth, --peer-cert-allowed-cn), while a member with a certificate from another
// CA, or whose CN is not allowed, is refused and named in the receiver's log, the receiver keeps
// serving the others, and the sender reports the peer unreachable. Also: the TLS-aware peerFetch
// (join, lease forwarding) and --peer-auto-tls certificates (no verification, as etcd).
// Method: real Transports in one process on 127.0.0.1 port 0 with src/tls endpoints built from
// openssl-made certificates; every wait polls with a deadline; everything closed in t.after.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MessageType, newMessage } from '../../src/raft/index.js';
import { ensureSelfCert, makePeerFetch, TlsEndpoint, type TlsInfo } from '../../src/tls/index.js';
import { appMessage, startTestNode, type TestCtx, type TestNode } from '../../src/transport/test-node.js';
import { type TempDir, tempDir, waitFor } from '../helpers/index.js';
import { makeCa, type TestCa } from '../helpers/tls-certs.js';
import { tlsInfo } from './tls-info.js';

const CLUSTER = 0x77n;
let dir: TempDir;
let ca: TestCa;
let other: TestCa;

before(() => {
  dir = tempDir('tsetcd-peer-tls-');
  ca = makeCa(dir.path, 'ca');
  other = makeCa(dir.path, 'other');
});
after(() => dir?.remove());

function info(files: { cert: string; key: string }, extra: Partial<TlsInfo> = {}): TlsInfo {
  return tlsInfo(ca.cert, files, { allowedCn: 'etcd-peer', ...extra });
}

/** Member `id`'s transport serving and dialing with `tlsInfo`. */
function start(tc: TestCtx, id: bigint, tlsInfo: TlsInfo): Promise<TestNode> {
  return startTestNode(tc, id, (logger) => ({
    clusterId: CLUSTER,
    tls: TlsEndpoint.create(tlsInfo, 'peer', logger),
  }));
}

const app = (from: bigint, to: bigint, index: number) => appMessage(from, to, index, 32);

test('peer TLS: messages and a streamed snapshot between trusted, allowed members', async (t) => {
  const a = await start(t, 1n, info(ca.issue('a', { cn: 'etcd-peer' })));
  const b = await start(t, 2n, info(ca.issue('b', { cn: 'etcd-peer' })));
  a.t.addPeer(2n, [b.url]);
  b.t.addPeer(1n, [a.url]);
  a.t.send(Array.from({ length: 500 }, (_, i) => app(1n, 2n, i + 1)));
  await waitFor(() => b.got.length === 500, { what: '500 messages over TLS' });
  assert.deepEqual(
    b.got.map((m) => m.index),
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  const part = new Uint8Array(256 * 1024).fill(7);
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 12; i++) yield part;
  }
  const snap = newMessage({
    type: MessageType.Snap,
    from: 1n,
    to: 2n,
    term: 3,
    snapshot: {
      metadata: { index: 99, term: 3, confState: { voters: [1n, 2n], learners: [] } },
      data: new Uint8Array(0),
    },
  });
  a.t.sendSnapshot(snap, source(), 12 * part.byteLength);
  await waitFor(() => a.snapStatus.length === 1, { what: 'the snapshot outcome' });
  assert.deepEqual(a.snapStatus, [[2n, true]], `snapshot failed: ${a.t.stats().get(2n)?.lastError}`);
  assert.equal(b.got.at(-1)!.snapshot!.data.byteLength, 12 * part.byteLength);
});

test('peer TLS: a member with an untrusted CA or a CN not allowed is refused; the rest keep working', async (t) => {
  const a = await start(t, 1n, info(ca.issue('a2', { cn: 'etcd-peer' })));
  const b = await start(t, 2n, info(ca.issue('b2', { cn: 'etcd-peer' })));
  const wrongCn = await start(t, 3n, info(ca.issue('c2', { cn: 'intruder' }), { allowedCn: '' }));
  const wrongCa = await start(t, 4n, {
    ...info(other.issue('d2', { cn: 'etcd-peer' })),
    trustedCaFile: ca.cert,
  });
  for (const n of [b, wrongCn, wrongCa]) a.t.addPeer(n.id, [n.url]);
  for (const n of [wrongCn, wrongCa, b]) n.t.addPeer(1n, [a.url]);
  wrongCn.t.send([app(3n, 1n, 1)]);
  wrongCa.t.send([app(4n, 1n, 1)]);
  b.t.send([app(2n, 1n, 1), app(2n, 1n, 2)]);
  await waitFor(() => a.got.filter((m) => m.from === 2n).length === 2, { what: "b's messages" });
  await waitFor(() => wrongCn.unreachable.includes(1n) && wrongCa.unreachable.includes(1n), {
    what: 'the refused senders to report a unreachable',
  });
  await waitFor(
    () =>
      a.logs.some(
        (l) => l.startsWith('rejected connection') && l.includes('client certificate authentication failed'),
      ),
    {
      what: 'the CN refusal in the log',
    },
  );
  await waitFor(
    () =>
      a.logs.some(
        (l) => l.startsWith('rejected connection') && l.includes('certificate signed by unknown authority'),
      ),
    {
      what: 'the CA refusal in the log',
    },
  );
  assert.equal(a.got.filter((m) => m.from === 3n || m.from === 4n).length, 0, 'nothing from refused members');
  b.t.send([app(2n, 1n, 3)]);
  await waitFor(() => a.got.filter((m) => m.from === 2n).length === 3, { what: 'a still serving b' });
});

test('peer TLS: peerFetch speaks https with the peer client certificate', async (t) => {
  const files = ca.issue('f', { cn: 'etcd-peer' });
  const a = await start(t, 1n, info(files));
  a.t.server.handle('/members', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const fetchOk = makePeerFetch(TlsEndpoint.create(info(ca.issue('g', { cn: 'etcd-peer' })), 'peer'));
  const r = await fetchOk(`${a.url}/members`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { ok: true });
  const fetchStranger = makePeerFetch(
    TlsEndpoint.create(info(other.issue('h', { cn: 'etcd-peer' })), 'peer'),
  );
  await assert.rejects(fetchStranger(`${a.url}/members`, { signal: AbortSignal.timeout(5000) }));
});

test('peer auto-TLS: self-signed certificates as etcd makes them; peers connect without verification', async (t) => {
  const mk = (name: string) => {
    const f = ensureSelfCert(join(dir.path, name, 'fixtures', 'peer'), ['127.0.0.1:0', 'localhost:0']);
    return { cert: f.certFile, key: f.keyFile };
  };
  const fa = mk('auto-a');
  const x = new X509Certificate(readFileSync(fa.cert));
  assert.match(x.subject, /O=etcd/);
  assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.match(x.subjectAltName ?? '', /DNS:localhost/);
  assert.ok(x.verify(x.publicKey), 'self-signed');
  assert.equal(ensureSelfCert(join(dir.path, 'auto-a', 'fixtures', 'peer'), []).certFile, fa.cert, 'reused');
  const auto = (f: { cert: string; key: string }): TlsInfo => ({
    ...info(f),
    trustedCaFile: '',
    clientCertAuth: false,
    allowedCn: '',
    selfCert: true,
  });
  const a = await start(t, 1n, auto(fa));
  const b = await start(t, 2n, auto(mk('auto-b')));
  a.t.addPeer(2n, [b.url]);
  b.t.addPeer(1n, [a.url]);
  a.t.send([app(1n, 2n, 1)]);
  await waitFor(() => b.got.length === 1, { what: 'a message over auto-TLS' });
});
