// Goal: tsetcd re-reads its certificate, key and trusted CA bundle when the files change, without a
// restart and without dropping established connections: rotate the server certificate, then the CA
// (server and client certificates from a new CA, the trusted-CA file replaced), while one gRPC
// client keeps writing on its original connection.
// Method: one tsetcd process with client TLS and --client-cert-auth over files in a directory the
// test rewrites (write to a temp name, then rename, as tools do); a writer loop on one grpc-js
// channel whose connectivity state must stay READY throughout; new TLS connections (node:tls) are
// polled until they see the new certificate / CA. Waits poll with deadlines.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { connectivityState } from '@grpc/grpc-js';
import { b, connect, startMember, tempDir, waitFor } from '../helpers/index.js';
import { makeCa } from '../helpers/tls-certs.js';

function replace(dst: string, src: string): void {
  copyFileSync(src, `${dst}.tmp`);
  renameSync(`${dst}.tmp`, dst);
}

/** Opens a TLS connection with `cert`; resolves with the server certificate's serial or the error code. */
function probe(port: number, ca: Buffer, cert: { cert: string; key: string }): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ca,
      cert: readFileSync(cert.cert),
      key: readFileSync(cert.key),
      ALPNProtocols: ['http/1.1'],
    });
    s.once('secureConnect', () => {
      const serial = s.getPeerCertificate().serialNumber;
      // A refused client certificate shows as the server closing right after the handshake.
      s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.includes('"health"')) {
          s.destroy();
          resolve(serial);
        }
      });
      s.once('close', () => resolve(got.includes('"health"') ? serial : 'closed'));
    });
    s.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
  });
}

const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;

test('reload: server certificate, then CA, rotated under a writing client without dropping it', async (t) => {
  const dir = tempDir('tsetcd-tls-reload-');
  t.after(() => dir.remove());
  const ca1 = makeCa(dir.path, 'ca1');
  const ca2 = makeCa(dir.path, 'ca2');
  const server1 = ca1.issue('server1', { usage: 'server' });
  const server1b = ca1.issue('server1b', { usage: 'server' });
  const server2 = ca2.issue('server2', { usage: 'server' });
  const client1 = ca1.issue('client1', { usage: 'client' });
  const client2 = ca2.issue('client2', { usage: 'client' });
  const live = {
    cert: join(dir.path, 'server.pem'),
    key: join(dir.path, 'server-key.pem'),
    ca: join(dir.path, 'ca.pem'),
  };
  copyFileSync(server1.cert, live.cert);
  copyFileSync(server1.key, live.key);
  copyFileSync(ca1.cert, live.ca);
  // Clients trust both CAs, so only the server's choices matter.
  const bundle = Buffer.concat([readFileSync(ca1.cert), readFileSync(ca2.cert)]);
  const bundleFile = join(dir.path, 'bundle.pem');
  writeFileSync(bundleFile, bundle);

  const m = await startMember('tsetcd', {
    t,
    clientTls: { ca: bundleFile, cert: client1.cert, key: client1.key },
    extraFlags: [
      '--cert-file',
      live.cert,
      '--key-file',
      live.key,
      '--trusted-ca-file',
      live.ca,
      '--client-cert-auth',
    ],
  });
  const port = Number(new URL(m.clientURL).port);
  const c = connect(m.endpoint, {
    tls: { ca: bundle, cert: readFileSync(client1.cert), key: readFileSync(client1.key) },
  });
  t.after(() => c.close());
  await c.kv.put({ key: b('warm'), value: b('up') });
  const channel = c.raw.getChannel();
  assert.equal(channel.getConnectivityState(false), connectivityState.READY);
  const states: number[] = [];
  let watching = true;
  const watchState = (s: number) =>
    channel.watchConnectivityState(s, Infinity, () => {
      if (!watching) return;
      const now = channel.getConnectivityState(false);
      states.push(now);
      watchState(now);
    });
  watchState(connectivityState.READY);

  let writes = 0;
  const failures: string[] = [];
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      try {
        await c.kv.put({ key: b(`k${writes % 100}`), value: b(String(writes)) });
        writes++;
      } catch (e) {
        failures.push(String((e as Error).message));
      }
    }
  })();

  assert.equal(await probe(port, bundle, client1), serialOf(server1.cert));
  // 1. The server certificate (same CA): new handshakes get the new one.
  replace(live.key, server1b.key);
  replace(live.cert, server1b.cert);
  await waitFor(async () => (await probe(port, bundle, client1)) === serialOf(server1b.cert), {
    what: 'new connections to see the rotated server certificate',
  });
  const afterCert = writes;
  // 2. The CA: server certificate from CA 2, trusted CA file now CA 2 only.
  replace(live.key, server2.key);
  replace(live.cert, server2.cert);
  replace(live.ca, ca2.cert);
  await waitFor(async () => (await probe(port, bundle, client2)) === serialOf(server2.cert), {
    what: 'a CA-2 client to be accepted with the CA-2 server certificate',
  });
  assert.equal(await probe(port, bundle, client1), 'closed', 'a CA-1 client certificate is now refused');
  await waitFor(() => writes > afterCert + 20, { what: 'writes to go on after the CA rotation' });
  stop = true;
  await writer;
  watching = false;
  assert.deepEqual(failures, [], 'no write failed');
  assert.deepEqual(states, [], 'the writing channel never left READY (its connection was kept)');
  assert.ok(m.logs().includes('reloaded TLS certificate files'), 'the reload is logged');
});
