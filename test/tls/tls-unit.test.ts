// Goal: the pieces of src/tls that need real certificates: CRL parsing against OpenSSL's CRLs,
// etcd's serial format, the client-certificate SAN check, Go's texts for verification and
// handshake errors, start-up refusals with etcd's texts, and verifiedCommonName (what auth takes
// as the user name). Method: openssl-made certificates; node:tls sockets on 127.0.0.1 port 0.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import {
  checkCertSan,
  handshakeErrorText,
  revokedSerials,
  serialHex,
  TlsEndpoint,
  type TlsInfo,
  verifiedCommonName,
} from '../../src/tls/index.js';
import { type TempDir, tempDir } from '../helpers/index.js';
import { makeCa, type TestCa } from '../helpers/tls-certs.js';
import { tlsInfo } from './tls-info.js';

let dir: TempDir;
let ca: TestCa;
before(() => {
  dir = tempDir('tsetcd-tls-unit-');
  ca = makeCa(dir.path, 'ca');
});
after(() => dir?.remove());

test("crl: revoked serials from an OpenSSL CRL, in etcd's %x form", () => {
  const a = ca.issue('a');
  const r1 = ca.issue('r1');
  const r2 = ca.issue('r2');
  assert.equal(revokedSerials(readFileSync(ca.crl())).size, 0, 'an empty CRL');
  ca.revoke(r1);
  ca.revoke(r2);
  const serials = revokedSerials(readFileSync(ca.crl()));
  const of = (f: { cert: string }) => serialHex(new X509Certificate(readFileSync(f.cert)).serialNumber);
  assert.deepEqual([...serials].sort(), [of(r1), of(r2)].sort());
  assert.ok(!serials.has(of(a)));
  assert.equal(serialHex('1A23C2E5D53'), '01a23c2e5d53');
  assert.equal(serialHex('00FF'), 'ff');
  assert.throws(() => revokedSerials(Buffer.from('not a crl')), { name: 'DerError' });
});

test('san: IP SANs must name the remote address; no SANs pass; DNS SANs resolve', async () => {
  const withIp = { subjectaltname: 'IP Address:10.0.0.1, IP Address:127.0.0.1' } as tls.PeerCertificate;
  assert.equal(await checkCertSan(withIp, '127.0.0.1'), undefined);
  assert.equal(await checkCertSan(withIp, '::ffff:127.0.0.1'), undefined);
  assert.equal(
    await checkCertSan({ subjectaltname: 'IP Address:10.0.0.1' } as tls.PeerCertificate, '127.0.0.1'),
    'x509: certificate is valid for 10.0.0.1, not 127.0.0.1',
  );
  assert.equal(await checkCertSan({} as tls.PeerCertificate, '127.0.0.1'), undefined);
  assert.equal(
    await checkCertSan({ subjectaltname: 'DNS:localhost' } as tls.PeerCertificate, '127.0.0.1'),
    undefined,
  );
  assert.match(
    (await checkCertSan({ subjectaltname: 'DNS:nothing.invalid' } as tls.PeerCertificate, '127.0.0.1')) ?? '',
    /^tls: "127\.0\.0\.1" does not match any of DNSNames \["nothing\.invalid"\]/,
  );
});

test("handshake errors: Go's texts", () => {
  const e = (code: string) => handshakeErrorText(Object.assign(new Error('x'), { code }));
  assert.equal(e('ERR_SSL_WRONG_VERSION_NUMBER'), 'tls: first record does not look like a TLS handshake');
  assert.equal(e('ERR_SSL_HTTP_REQUEST'), 'tls: first record does not look like a TLS handshake');
  assert.equal(e('ERR_SSL_NO_SHARED_CIPHER'), 'tls: no cipher suite supported by both client and server');
  assert.equal(e('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), 'remote error: tls: bad certificate');
});

function info(files: { cert: string; key: string }, extra: Partial<TlsInfo> = {}): TlsInfo {
  return tlsInfo(ca.cert, files, extra);
}

test("endpoint: start-up refusals in etcd's words", () => {
  const s = ca.issue('s1');
  assert.throws(() => TlsEndpoint.create(info({ cert: s.cert, key: '' }), 'client'), {
    message: `KeyFile and CertFile must both be present[key: , cert: ${s.cert}]`,
  });
  assert.throws(() => TlsEndpoint.create(info({ cert: '/nonexistent.pem', key: s.key }), 'client'), {
    message: 'open /nonexistent.pem: no such file or directory',
  });
  assert.throws(() => TlsEndpoint.create(info(s, { allowedCn: 'a', allowedHostname: 'b' }), 'peer'), {
    message: 'AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b")',
  });
  const other = ca.issue('s2');
  assert.throws(() => TlsEndpoint.create(info({ cert: s.cert, key: other.key }), 'client'), {
    message: 'tls: private key does not match public key',
  });
});

test('verifiedCommonName: the CN of a verified client certificate, else undefined', async (t) => {
  const ep = TlsEndpoint.create(info(ca.issue('srv', { usage: 'server' })), 'client');
  const server = tls.createServer(ep.serverOptions());
  const seen: (string | undefined)[] = [];
  server.on('secureConnection', (s) => {
    seen.push(verifiedCommonName({ socket: { inner: s } }));
    s.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const dial = (cert?: { cert: string; key: string }) =>
    new Promise<void>((resolve) => {
      const c = tls.connect({
        port,
        host: '127.0.0.1',
        ca: readFileSync(ca.cert),
        ...(cert ? { cert: readFileSync(cert.cert), key: readFileSync(cert.key) } : {}),
      });
      c.on('close', () => resolve());
      c.on('error', () => resolve());
      c.resume();
    });
  await dial(ca.issue('alice', { cn: 'alice', usage: 'client' }));
  await dial(makeCa(dir.path, 'stranger-ca').issue('mallory', { cn: 'mallory', usage: 'client' }));
  assert.deepEqual(seen, ['alice', undefined]);
  assert.equal(verifiedCommonName(undefined), undefined);
  assert.equal(verifiedCommonName({ inner: {} }), undefined);
});

test('refusal: --client-cert-allowed-hostname and --peer-cert-allowed-cn (etcd: "client certificate authentication failed")', async (t) => {
  const srv = ca.issue('srv2', { usage: 'server' });
  const cases: [Partial<TlsInfo>, { cert: string; key: string }, string | undefined][] = [
    [
      { allowedHostname: 'node-a.example' },
      ca.issue('host-a', { hosts: ['node-a.example', '127.0.0.1'] }),
      undefined,
    ],
    [
      { allowedHostname: 'node-a.example' },
      ca.issue('host-b', { hosts: ['node-b.example', '127.0.0.1'] }),
      'client certificate authentication failed',
    ],
    [{ allowedCn: 'etcd-peer' }, ca.issue('cn-ok', { cn: 'etcd-peer' }), undefined],
    [
      { allowedCn: 'etcd-peer' },
      ca.issue('cn-bad', { cn: 'someone' }),
      'client certificate authentication failed',
    ],
  ];
  for (const [extra, clientCert, want] of cases) {
    const ep = TlsEndpoint.create(info(srv, extra), 'peer');
    const server = tls.createServer(ep.serverOptions());
    const verdict = new Promise<string | undefined>((resolve) => {
      server.on('secureConnection', (s) => {
        void ep.refusal(s).then((why) => {
          resolve(why);
          s.destroy();
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const c = tls.connect({
      port: (server.address() as { port: number }).port,
      host: '127.0.0.1',
      ca: readFileSync(ca.cert),
      cert: readFileSync(clientCert.cert),
      key: readFileSync(clientCert.key),
    });
    c.on('error', () => {});
    assert.equal(await verdict, want, JSON.stringify(extra));
    c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
  void t;
});
