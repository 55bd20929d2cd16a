// Goal: a gRPC handler sees the CN of the client certificate verified on its call's connection
// (`CallContext.commonName`, what auth takes as the user name) through both ways a TLS connection
// reaches nghttp2 — natively (grpc-js) and through the :authority repair (etcdctl 3.4 dials with the
// URL as authority) — and undefined on a plaintext listener. Method: a GrpcServer whose KV.Range
// answers the CN as a value, behind an https:// and an http:// ClientListener; grpc-js and etcdctl.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ClientListener } from '../../src/api/client-listener.js';
import { GrpcServer } from '../../src/api/grpc-server.js';
import { KVService, RangeResponse } from '../../src/proto/etcdserverpb/rpc.js';
import { TlsEndpoint } from '../../src/tls/index.js';
import { b, connect, etcdctl, tempDir } from '../helpers/index.js';
import { makeCa } from '../helpers/tls-certs.js';
import { tlsInfo } from './tls-info.js';

test('CallContext.commonName: the verified client certificate CN, natively and through the authority repair', async (t) => {
  const dir = tempDir('tsetcd-cn-');
  t.after(() => dir.remove());
  const ca = makeCa(dir.path, 'ca');
  const server = ca.issue('server', { usage: 'server' });
  const alice = ca.issue('alice', { cn: 'alice', usage: 'client' });
  const grpc = new GrpcServer({ maxReceiveMessageBytes: 4 << 20 });
  grpc.addService(KVService, {
    range: (_r: unknown, ctx: { commonName: string | undefined }) =>
      RangeResponse.fromPartial({
        header: { clusterId: 1n, memberId: 1n, revision: 1n, raftTerm: 1n },
        kvs: [
          {
            key: b('cn'),
            value: b(ctx.commonName ?? '<none>'),
            createRevision: 1n,
            modRevision: 1n,
            version: 1n,
          },
        ],
        count: 1n,
      }),
  });
  const http = async () => ({ status: 404, headers: {}, body: '' });
  const endpoint = TlsEndpoint.create(tlsInfo(ca.cert, server), 'client');
  const secure = new ClientListener(grpc, http, endpoint);
  const plain = new ClientListener(grpc, http);
  const sAddr = await secure.listen('127.0.0.1', 0);
  const pAddr = await plain.listen('127.0.0.1', 0);
  t.after(async () => {
    await secure.close();
    await plain.close();
    await grpc.close();
  });

  const c = connect(`127.0.0.1:${sAddr.port}`, {
    tls: { ca: readFileSync(ca.cert), cert: readFileSync(alice.cert), key: readFileSync(alice.key) },
  });
  t.after(() => c.close());
  const r = await c.kv.range({ key: b('cn') });
  assert.equal(Buffer.from(r.kvs[0]!.value).toString(), 'alice');

  const ctl = await etcdctl(`https://127.0.0.1:${sAddr.port}`, [
    ...['--cacert', ca.cert, '--cert', alice.cert, '--key', alice.key],
    ...['get', 'cn', '--print-value-only'],
  ]);
  assert.equal(ctl.stdout.trim(), 'alice', ctl.stderr);

  const p = connect(`127.0.0.1:${pAddr.port}`);
  t.after(() => p.close());
  assert.equal(Buffer.from((await p.kv.range({ key: b('cn') })).kvs[0]!.value).toString(), '<none>');
});
