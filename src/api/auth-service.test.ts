// Goal: a call acts as the user its token names, and with --client-cert-auth and no token as the CN
// of its verified client certificate (etcd's AuthInfoFromCtx / AuthInfoFromTLS). Method: authInfoOf
// on a stub member holding a real AuthStore, and call contexts with fake (TLS) sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newStore } from '../server/auth/store-testing.js';
import type { Member } from '../server/member.js';
import { authInfoOf } from './auth-service.js';
import type { CallContext } from './grpc-server.js';

/** A call context; `socket` stands for the TLS connection whose verified CN src/tls would report. */
function ctx(
  metadata: Record<string, string>,
  socket?: { authorized: boolean; getPeerCertificate(): { subject: { CN: string } } },
): CallContext {
  return {
    metadata,
    signal: new AbortController().signal,
    method: '/etcdserverpb.KV/Range',
    peer: 'test',
    commonName: socket?.authorized ? socket.getPeerCertificate().subject.CN : undefined,
  };
}

const tlsSocket = (authorized: boolean, cn: string) => ({
  authorized,
  getPeerCertificate: () => ({ subject: { CN: cn } }),
});

test('identity: token first, then a verified certificate CN when --client-cert-auth is on', async () => {
  const auth = newStore();
  const member = (clientCertAuth: boolean) => ({ auth, cfg: { clientCertAuth } }) as unknown as Member;
  assert.equal(await authInfoOf(member(false), ctx({})), undefined);
  assert.equal(await authInfoOf(member(false), ctx({}, tlsSocket(true, 'alice'))), undefined, 'flag off');
  assert.deepEqual(await authInfoOf(member(true), ctx({}, tlsSocket(true, 'alice'))), {
    username: 'alice',
    revision: auth.revision,
  });
  assert.equal(await authInfoOf(member(true), ctx({}, tlsSocket(false, 'alice'))), undefined, 'unverified');
  assert.equal(await authInfoOf(member(true), ctx({})), undefined, 'plain TCP');
  assert.equal(
    await authInfoOf(member(true), ctx({ 'grpcgateway-accept': 'x' }, tlsSocket(true, 'gw'))),
    undefined,
    "etcd ignores its gateway's certificate",
  );
  await assert.rejects(authInfoOf(member(true), ctx({ token: 'bad' }, tlsSocket(true, 'alice'))), {
    message: 'etcdserver: invalid auth token',
  });
});
