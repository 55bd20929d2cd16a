// Goal: --auto-tls behaves as etcd 3.4's: the member serves https:// with a self-signed certificate
// it writes under <data-dir>/fixtures/client (O=etcd, the listen host as SAN), etcdctl with
// --insecure-skip-tls-verify works against it, and etcdctl verifying the server fails the same way
// as against etcd. Method: one etcd and one tsetcd with the same flags; etcdctl against both;
// normalized outputs must be equal and match etcd's behaviour.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { etcdctl, type Member, normalizeText, startMember } from '../helpers/index.js';

test('--auto-tls: self-signed client certificate; etcdctl --insecure-skip-tls-verify; same as etcd', async (t) => {
  const members: Record<string, Member> = {};
  for (const kind of ['etcd', 'tsetcd'] as const) {
    members[kind] = await startMember(kind, { t, clientTls: { insecure: true }, extraFlags: ['--auto-tls'] });
  }
  const run = async (args: string[]) => {
    const [e, s] = await Promise.all(
      (['etcd', 'tsetcd'] as const).map(async (k) => {
        const ep = members[k]!.clientURL;
        const r = await etcdctl(ep, ['--dial-timeout', '1s', '--command-timeout', '2s', ...args]);
        return { out: normalizeText(`${r.stdout}${r.stderr}`).replaceAll(ep, '<endpoint>'), code: r.code };
      }),
    );
    assert.deepEqual(s, e, `etcdctl ${args.join(' ')}`);
    return e!;
  };
  assert.equal(
    (await run(['--insecure-transport=false', '--insecure-skip-tls-verify', 'put', 'a', '1'])).out.trim(),
    'OK',
  );
  assert.equal(
    (
      await run([
        '--insecure-transport=false',
        '--insecure-skip-tls-verify',
        'get',
        'a',
        '--print-value-only',
      ])
    ).out.trim(),
    '1',
  );
  const verifying = await run(['get', 'a']);
  assert.equal(verifying.code, 1);
  assert.match(verifying.out, /Error: context deadline exceeded/);

  for (const kind of ['etcd', 'tsetcd'] as const) {
    const pem = readFileSync(join(members[kind]!.dataDir, 'fixtures', 'client', 'cert.pem'));
    const x = new X509Certificate(pem);
    assert.equal(x.subject, 'O=etcd', `${kind} subject`);
    assert.equal(x.subjectAltName, 'IP Address:127.0.0.1', `${kind} SANs`);
    assert.ok(x.verify(x.publicKey), `${kind} self-signed`);
    assert.match(x.publicKey.asymmetricKeyType ?? '', /^ec$/, `${kind} ECDSA`);
  }
});
