// Goal: under client TLS, etcdctl 3.4 sees the same thing from tsetcd as from real etcd 3.4 given
// the same certificate files — success, and every refusal (no client certificate under
// --client-cert-auth, a certificate from an untrusted CA, expired, not yet valid, revoked by
// --client-crl-file, a client that does not trust the server, plaintext to the TLS port, TLS to the
// plaintext port of a mixed http+https member, a cipher outside --cipher-suites) — and that tsetcd
// names each refusal in its log and keeps serving afterwards. Method: one etcd and one tsetcd with
// identical flags (https and http client listeners, ECDSA server certificate, one TLS 1.2 suite);
// each case runs etcdctl (or curl / node:tls) against both; normalized outputs and exit codes must
// be equal, and each case asserts etcd's behaviour so both failing alike cannot pass.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import {
  etcdctl,
  freePort,
  type Member,
  normalizeText,
  startMember,
  type TempDir,
  tempDir,
  waitFor,
} from '../helpers/index.js';
import { makeCa, type TestCa } from '../helpers/tls-certs.js';

const HOUR_MS = 3600_000;
/** The one TLS 1.2 suite both members allow (the server key is ECDSA). */
const ALLOWED_SUITE = 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256';

interface Files {
  ca: TestCa;
  other: TestCa;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  stranger: { cert: string; key: string };
  expired: { cert: string; key: string };
  future: { cert: string; key: string };
  revoked: { cert: string; key: string };
  crl: string;
}

let dir: TempDir;
let files: Files;
const members: Record<'etcd' | 'tsetcd', { m: Member; plain: string }> = {} as never;

async function start(kind: 'etcd' | 'tsetcd'): Promise<{ m: Member; plain: string }> {
  const plainPort = await freePort();
  const plain = `http://127.0.0.1:${plainPort}`;
  const m = await startMember(kind, {
    clientTls: { ca: files.ca.cert, cert: files.client.cert, key: files.client.key },
    extraFlags: [
      '--cert-file',
      files.server.cert,
      '--key-file',
      files.server.key,
      '--trusted-ca-file',
      files.ca.cert,
      '--client-cert-auth',
      '--client-crl-file',
      files.crl,
      '--cipher-suites',
      ALLOWED_SUITE,
    ],
    extraListenClientUrls: [plain],
  });
  return { m, plain };
}

before(async () => {
  dir = tempDir('tsetcd-tls-diff-');
  const ca = makeCa(dir.path, 'ca');
  const other = makeCa(dir.path, 'other');
  const now = Date.now();
  const revoked = ca.issue('revoked', { usage: 'client' });
  ca.revoke(revoked);
  files = {
    ca,
    other,
    server: ca.issue('server', { usage: 'server' }),
    client: ca.issue('client', { cn: 'root', usage: 'client' }),
    stranger: other.issue('stranger', { usage: 'client' }),
    expired: ca.issue('expired', {
      usage: 'client',
      notBefore: new Date(now - 48 * HOUR_MS),
      notAfter: new Date(now - 24 * HOUR_MS),
    }),
    future: ca.issue('future', {
      usage: 'client',
      notBefore: new Date(now + 24 * HOUR_MS),
      notAfter: new Date(now + 48 * HOUR_MS),
    }),
    revoked,
    crl: ca.crl(),
  };
});

after(async () => {
  await Promise.all(Object.values(members).map((x) => x.m.cleanup()));
  dir?.remove();
});

/** etcdctl flags that fail fast: a refused connection surfaces as "context deadline exceeded". */
const FAST = ['--dial-timeout', '1s', '--command-timeout', '2s'];

function tlsArgs(f: { cert: string; key: string } | undefined, ca: string | undefined): string[] {
  return [...(ca ? ['--cacert', ca] : []), ...(f ? ['--cert', f.cert, '--key', f.key] : [])];
}

/** Runs the same etcdctl command against both members; returns etcd's normalized result. */
async function both(
  endpointOf: (x: { m: Member; plain: string }) => string,
  args: string[],
): Promise<{ out: string; code: number }> {
  const [e, t] = await Promise.all(
    (['etcd', 'tsetcd'] as const).map(async (k) => {
      const endpoint = endpointOf(members[k]);
      const r = await etcdctl(endpoint, [...FAST, ...args]);
      const out = normalizeText(`${r.stdout}${r.stderr}`)
        .replaceAll(endpoint, '<endpoint>')
        .replace(/took = [\d.]+[µm]?s/g, 'took = <t>');
      return { out, code: r.code };
    }),
  );
  assert.deepEqual(t, e, `tsetcd differs from etcd for etcdctl ${args.join(' ')}`);
  return e!;
}

/** Both members' client-port refusal log lines must name `reason` (tsetcd: JSON "rejected connection"). */
async function tsetcdLogged(reason: string): Promise<void> {
  await waitFor(
    () =>
      members.tsetcd.m
        .logs()
        .split('\n')
        .some((l) => l.includes('"msg":"rejected connection"') && l.includes(reason)),
    { timeoutMs: 5000, what: `tsetcd log line "rejected connection" with ${reason}` },
  );
}

test('client TLS: etcd and tsetcd start with the same TLS flags (https + http listeners)', async () => {
  const [e, t] = await Promise.all([start('etcd'), start('tsetcd')]);
  members.etcd = e;
  members.tsetcd = t;
});

test('client TLS: a trusted client certificate writes and reads; endpoint health', async () => {
  const ok = tlsArgs(files.client, files.ca.cert);
  const put = await both((x) => x.m.clientURL, [...ok, 'put', 'k', 'v']);
  assert.equal(put.out.trim(), 'OK');
  const get = await both((x) => x.m.clientURL, [...ok, 'get', 'k']);
  assert.equal(get.out.trim(), 'k\nv');
  const health = await both((x) => x.m.clientURL, [...ok, 'endpoint', 'health']);
  assert.match(health.out, /is healthy: successfully committed proposal: took = <t>/);
});

const refusals: { name: string; args: () => string[]; reason: string }[] = [
  {
    name: 'no client certificate',
    args: () => tlsArgs(undefined, files.ca.cert),
    reason: "client didn't provide a certificate",
  },
  {
    name: 'certificate from an untrusted CA',
    args: () => tlsArgs(files.stranger, files.ca.cert),
    reason: 'certificate signed by unknown authority',
  },
  {
    name: 'expired certificate',
    args: () => tlsArgs(files.expired, files.ca.cert),
    reason: 'certificate has expired or is not yet valid: current time',
  },
  {
    name: 'not yet valid certificate',
    args: () => tlsArgs(files.future, files.ca.cert),
    reason: 'is before',
  },
  {
    name: 'revoked certificate (CRL)',
    args: () => tlsArgs(files.revoked, files.ca.cert),
    reason: 'transport: certificate serial',
  },
  {
    name: 'client does not trust the server (wrong --cacert)',
    args: () => tlsArgs(files.client, files.other.cert),
    reason: 'remote error: tls: bad certificate',
  },
];

test("client TLS refused: no certificate, untrusted CA, expired, not yet valid, revoked, untrusted server — same etcdctl output, each named in tsetcd's log", async () => {
  // The cases are independent connections: run them at once to keep the file short.
  await Promise.all(
    refusals.map(async (r) => {
      const res = await both((x) => x.m.clientURL, [...r.args(), 'get', 'k']);
      assert.equal(res.code, 1, r.name);
      assert.match(res.out, /Error: context deadline exceeded/, r.name);
      await tsetcdLogged(r.reason);
    }),
  );
});

test('client TLS refused: plaintext to the https port; TLS to the http port', async () => {
  const plainToTls = await both((x) => x.m.clientURL.replace('https:', 'http:'), ['get', 'k']);
  assert.equal(plainToTls.code, 1);
  await tsetcdLogged('first record does not look like a TLS handshake');
  const tlsToPlain = await both(
    (x) => x.plain.replace('http:', 'https:'),
    [...tlsArgs(files.client, files.ca.cert), 'get', 'k'],
  );
  assert.equal(tlsToPlain.code, 1);
  // The http listener of the same member keeps serving plaintext clients.
  const plain = await both((x) => x.plain, ['get', 'k']);
  assert.equal(plain.out.trim(), 'k\nv');
});

function curl(args: string[]): Promise<{ out: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-m', '5', ...args], (err, stdout) => {
      resolve({ out: stdout, code: err ? Number((err as { code?: number }).code ?? -1) : 0 });
    });
  });
}

test('client TLS: HTTP/1.1 and HTTP/2 endpoints on the TLS port (ALPN), same answers', async () => {
  const cert = ['--cacert', files.ca.cert, '--cert', files.client.cert, '--key', files.client.key];
  for (const proto of ['--http1.1', '--http2']) {
    const [e, t] = await Promise.all(
      (['etcd', 'tsetcd'] as const).map((k) => curl([proto, ...cert, `${members[k].m.clientURL}/health`])),
    );
    assert.deepEqual(t, e, `curl ${proto} /health`);
    assert.equal(e!.out, '{"health":"true"}');
  }
  const [e, t] = await Promise.all(
    (['etcd', 'tsetcd'] as const).map((k) => curl([...cert.slice(0, 2), `${members[k].m.clientURL}/health`])),
  );
  assert.notEqual(e!.code, 0, 'etcd refuses curl without a client certificate');
  assert.equal(t!.code === 0, false);
});

/** A TLS 1.2 handshake offering only `cipher` (OpenSSL name); resolves with the error code or 'ok'. */
function handshake(url: string, cipher: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = tls.connect({
      host: u.hostname,
      port: Number(u.port),
      ca: readFileSync(files.ca.cert),
      cert: readFileSync(files.client.cert),
      key: readFileSync(files.client.key),
      maxVersion: 'TLSv1.2',
      ciphers: cipher,
    });
    s.once('secureConnect', () => {
      s.destroy();
      resolve('ok');
    });
    s.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
  });
}

test('client TLS: --cipher-suites admits its suite and refuses another (TLS 1.2)', async () => {
  for (const [cipher, want] of [
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ok'],
    ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'],
  ] as const) {
    const [e, t] = await Promise.all(
      (['etcd', 'tsetcd'] as const).map((k) => handshake(members[k].m.clientURL, cipher)),
    );
    assert.equal(e, want, `etcd with ${cipher}`);
    assert.equal(t, e, `tsetcd with ${cipher}`);
  }
  await tsetcdLogged('no cipher suite supported by both client and server');
});

test('client TLS: after every refusal both still serve the trusted client', async () => {
  const r = await both(
    (x) => x.m.clientURL,
    [...tlsArgs(files.client, files.ca.cert), 'get', 'k', '--print-value-only'],
  );
  assert.equal(r.out.trim(), 'v');
});
