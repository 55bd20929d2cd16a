/**
 * Goal: TLS flags become endpoints in etcd 3.4's order and with its texts: an unknown cipher
 * suite, an https:// client or peer URL without certificates, auto-TLS writing its certificates
 * under <data-dir>/fixtures, and http:// listeners staying plaintext. Method: parse flags,
 * buildConfig, setupTls with a silent logger, in a temporary data dir.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../server/logger.js';
import { buildConfig } from './config.js';
import { parseFlags } from './flags.js';
import { setupTls } from './tls-setup.js';

const setup = (argv: string[]) => setupTls(buildConfig(parseFlags(argv, {})), silentLogger);

test("tls-setup: etcd's refusals", () => {
  const cases: [string[], string][] = [
    [['--cipher-suites', 'TLS_FOO'], 'unexpected TLS cipher suite "TLS_FOO"'],
    [
      ['--listen-client-urls', 'https://127.0.0.1:1', '--advertise-client-urls', 'https://127.0.0.1:1'],
      'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:1 with HTTPS scheme',
    ],
    [
      [
        '--listen-peer-urls',
        'https://127.0.0.1:2',
        '--initial-advertise-peer-urls',
        'https://127.0.0.1:2',
        '--initial-cluster',
        'default=https://127.0.0.1:2',
      ],
      'cannot listen on TLS for 127.0.0.1:2: KeyFile and CertFile are not presented',
    ],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => setup(argv), { name: 'TlsConfigError', message }, argv.join(' '));
  }
});

test('tls-setup: --auto-tls and --peer-auto-tls make certificates under the data dir; http stays plain', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-tls-setup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup([
    '--data-dir',
    dir,
    '--auto-tls',
    '--peer-auto-tls',
    '--listen-client-urls',
    'https://127.0.0.1:1',
    '--advertise-client-urls',
    'https://127.0.0.1:1',
  ]);
  assert.ok(s.client && s.peer);
  assert.equal(s.client.info.selfCert, true);
  assert.ok(existsSync(join(dir, 'fixtures', 'client', 'cert.pem')));
  assert.ok(existsSync(join(dir, 'fixtures', 'peer', 'key.pem')));
  const plain = setup(['--data-dir', join(dir, 'plain')]);
  assert.deepEqual(plain, { client: undefined, peer: undefined });
});
