/**
 * Goal: `tsetcd certs` makes what cfssl makes for seed 002, readable and verifiable by OpenSSL.
 * Method: table tests of the cfssl-file parsing; then seed 002's own files (ca-csr.json,
 * ca-config.json with its "kubernetes" profile, etcd-csr.json) through the real CLI, with the output
 * read back by Debian's `openssl x509 -text` and checked by `openssl verify` per purpose; key
 * files must be mode 0600. Real etcd 3.4 serving with these files is test/e2e/certs-etcd.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initCa, loadCa, signCert } from './issue.js';
import {
  builtinProfile,
  CertsError,
  DEFAULT_EXPIRY_MS,
  parseCsrJson,
  parseNamesFlag,
  profileFromConfig,
  usageBits,
} from './profile.js';

const SEED_CA_CONFIG = `{
  "signing": {
    "default": { "expiry": "87600h" },
    "profiles": {
      "kubernetes": {
        "usages": ["signing", "key encipherment", "server auth", "client auth"],
        "expiry": "876000h"
      }
    }
  }
}`;
const SEED_CA_CSR = `{
  "CN": "kubernetes-ca",
  "key": { "algo": "rsa", "size": 2048 },
  "names": [{ "C": "KR", "ST": "Seoul", "L": "Seoul", "O": "k8s", "OU": "bare-k8s" }],
  "ca": { "expiry": "876000h" }
}`;
/** Seed 002's etcd-csr.json, verbatim. */
const SEED_ETCD_CSR = `{
  "CN": "etcd",
  "hosts": [
    "127.0.0.1",
    "172.31.39.151",
    "172.31.32.72"
  ],
  "key": {
    "algo": "rsa",
    "size": 2048
  },
  "names": [
    {
      "C": "KR",
      "ST": "Seoul",
      "L": "Seoul",
      "O": "k8s",
      "OU": "bare-k8s"
    }
  ]
}`;

/** The repo root: $TSETCD_ROOT, else three levels above dist/src/certs/. */
const ROOT = process.env.TSETCD_ROOT || resolve(fileURLToPath(import.meta.url), '../../../..');

function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

function openssl(args: string[]): { out: string; code: number } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { out: `${r.stdout}${r.stderr}`, code: r.status ?? -1 };
}

function tsetcd(args: string[], cwd: string): { out: string; code: number } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tsetcd.js'), ...args], { cwd, encoding: 'utf8' });
  return { out: `${r.stdout}${r.stderr}`, code: r.status ?? -1 };
}

describe('cfssl files', () => {
  it('reads the seed CSR with its defaults and subject', () => {
    const req = parseCsrJson(SEED_ETCD_CSR);
    assert.equal(req.CN, 'etcd');
    assert.deepEqual(req.hosts, ['127.0.0.1', '172.31.39.151', '172.31.32.72']);
    assert.deepEqual(req.key, { algo: 'rsa', size: 2048 });
    assert.deepEqual(req.names, [{ C: 'KR', ST: 'Seoul', L: 'Seoul', O: 'k8s', OU: 'bare-k8s' }]);
    assert.equal(req.caExpiryMs, undefined);
    assert.equal(parseCsrJson(SEED_CA_CSR).caExpiryMs, 876000 * 3_600_000);
    assert.deepEqual(parseCsrJson('{"CN":"x"}').key, { algo: 'ecdsa', size: 256 }); // cfssl's default
  });

  it('refuses what cfssl refuses', () => {
    const cases: [string, RegExp][] = [
      ['{"key":{"algo":"rsa","size":1024}}', /too weak/],
      ['{"key":{"algo":"ecdsa","size":255}}', /invalid curve/],
      ['{"key":{"algo":"dsa","size":2048}}', /invalid algorithm/],
      ['{"hosts":"127.0.0.1"}', /hosts must be a list/],
      ['[1]', /not a JSON object/],
      ['{', /failed to parse request/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseCsrJson(text), re, text);
  });

  it('picks a profile from ca-config.json, falling back to its default block', () => {
    assert.deepEqual(profileFromConfig(SEED_CA_CONFIG, 'kubernetes'), {
      usages: ['signing', 'key encipherment', 'server auth', 'client auth'],
      expiryMs: 876000 * 3_600_000,
    });
    const def = profileFromConfig(SEED_CA_CONFIG, undefined);
    assert.equal(def.expiryMs, 87600 * 3_600_000);
    assert.throws(() => profileFromConfig(SEED_CA_CONFIG, 'nope'), /unknown profile "nope"/);
    assert.throws(
      () => profileFromConfig('{"signing":{"default":{"usages":["flying"]}}}', undefined),
      /invalid usage "flying"/,
    );
  });

  it('maps usages to key usage bits and EKU OIDs per built-in profile', () => {
    const bits = (p: string) => usageBits(builtinProfile(p, DEFAULT_EXPIRY_MS).usages);
    assert.deepEqual(bits('server'), { keyUsage: 0b101, extKeyUsage: ['1.3.6.1.5.5.7.3.1'] });
    assert.deepEqual(bits('client'), { keyUsage: 0b101, extKeyUsage: ['1.3.6.1.5.5.7.3.2'] });
    assert.deepEqual(bits('peer'), {
      keyUsage: 0b101,
      extKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    });
    assert.throws(() => builtinProfile('kubernetes', 1), CertsError);
  });

  it('parses --names', () => {
    assert.deepEqual(parseNamesFlag('C=KR,ST=Seoul,L=Seoul,O=k8s,OU=bare-k8s'), {
      C: 'KR',
      ST: 'Seoul',
      L: 'Seoul',
      O: 'k8s',
      OU: 'bare-k8s',
    });
    assert.throws(() => parseNamesFlag('X=1'), /not one of/);
  });
});

describe('seed 002 through the CLI, checked by openssl', () => {
  it('makes ca.pem and etcd.pem from the seed files; openssl reads and verifies them', () => {
    const dir = tempDir('tsetcd-certs-');
    try {
      writeFileSync(join(dir.path, 'ca-config.json'), SEED_CA_CONFIG);
      writeFileSync(join(dir.path, 'ca-csr.json'), SEED_CA_CSR);
      writeFileSync(join(dir.path, 'etcd-csr.json'), SEED_ETCD_CSR);
      let r = tsetcd(['certs', 'gencert', '-initca', 'ca-csr.json'], dir.path);
      assert.equal(r.code, 0, r.out);
      r = tsetcd(
        [
          'certs',
          'gencert',
          '-ca=ca.pem',
          '-ca-key=ca-key.pem',
          '-config=ca-config.json',
          '-profile=kubernetes',
          'etcd-csr.json',
        ],
        dir.path,
      );
      assert.equal(r.code, 0, r.out);
      for (const f of ['ca-key.pem', 'etcd-key.pem']) {
        assert.equal(statSync(join(dir.path, f)).mode & 0o777, 0o600, f);
      }
      assert.equal(statSync(join(dir.path, 'etcd.pem')).mode & 0o777, 0o644);

      const ca = openssl(['x509', '-in', join(dir.path, 'ca.pem'), '-noout', '-text']);
      assert.equal(ca.code, 0, ca.out);
      assert.match(
        ca.out,
        /Subject: C = KR, ST = Seoul, L = Seoul, O = k8s, OU = bare-k8s, CN = kubernetes-ca/,
      );
      assert.match(ca.out, /Basic Constraints: critical\s+CA:TRUE/);
      assert.match(ca.out, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
      assert.match(ca.out, /Not After : .* 2126 GMT/); // 876000h

      const leaf = openssl(['x509', '-in', join(dir.path, 'etcd.pem'), '-noout', '-text']);
      assert.equal(leaf.code, 0, leaf.out);
      assert.match(leaf.out, /Issuer: C = KR, .* CN = kubernetes-ca/);
      assert.match(leaf.out, /Subject: C = KR, ST = Seoul, L = Seoul, O = k8s, OU = bare-k8s, CN = etcd/);
      assert.match(leaf.out, /Public-Key: \(2048 bit\)/);
      assert.match(leaf.out, /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(leaf.out, /Basic Constraints: critical\s+CA:FALSE/);
      assert.match(leaf.out, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
      assert.match(
        leaf.out,
        /Extended Key Usage: ?\s+TLS Web Server Authentication, TLS Web Client Authentication/,
      );
      assert.match(leaf.out, /IP Address:127.0.0.1, IP Address:172.31.39.151, IP Address:172.31.32.72/);

      for (const purpose of ['sslserver', 'sslclient']) {
        const v = openssl([
          'verify',
          '-purpose',
          purpose,
          '-CAfile',
          join(dir.path, 'ca.pem'),
          join(dir.path, 'etcd.pem'),
        ]);
        assert.equal(v.code, 0, v.out);
        assert.match(v.out, /etcd.pem: OK/);
      }
      const key = openssl(['rsa', '-in', join(dir.path, 'etcd-key.pem'), '-check', '-noout']);
      assert.equal(key.code, 0, key.out);
      assert.match(key.out, /RSA key ok/);
      // The key is the certificate's: same public key.
      const pubCert = openssl(['x509', '-in', join(dir.path, 'etcd.pem'), '-noout', '-pubkey']).out;
      const pubKey = openssl(['pkey', '-in', join(dir.path, 'etcd-key.pem'), '-pubout']).out;
      assert.equal(pubCert, pubKey);
    } finally {
      dir.remove();
    }
  });

  it('makes ECDSA P-256 server/client certificates whose EKU limits their purpose', async () => {
    const dir = tempDir('tsetcd-certs-');
    try {
      const ca = await initCa(
        { CN: 'test-ca', hosts: [], key: { algo: 'ecdsa', size: 256 }, names: [] },
        3_600_000,
      );
      const signer = await loadCa(ca.certPem, ca.keyPem);
      const req = {
        CN: 'srv',
        hosts: ['localhost', '::1'],
        key: { algo: 'ecdsa' as const, size: 256 },
        names: [],
      };
      const srv = await signCert(signer, req, builtinProfile('server', 3_600_000));
      const cli = await signCert(
        signer,
        { ...req, CN: 'cli', hosts: [] },
        builtinProfile('client', 3_600_000),
      );
      mkdirSync(dir.path, { recursive: true });
      writeFileSync(join(dir.path, 'ca.pem'), ca.certPem);
      writeFileSync(join(dir.path, 'srv.pem'), srv.certPem);
      writeFileSync(join(dir.path, 'cli.pem'), cli.certPem);
      const text = openssl(['x509', '-in', join(dir.path, 'srv.pem'), '-noout', '-text']).out;
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /NIST CURVE: P-256/);
      assert.match(text, /DNS:localhost, IP Address:0:0:0:0:0:0:0:1/);
      assert.match(text, /Extended Key Usage: ?\s+TLS Web Server Authentication\n/);
      assert.match(srv.keyPem, /^-----BEGIN EC PRIVATE KEY-----/);
      const verify = (cert: string, purpose: string) =>
        openssl(['verify', '-purpose', purpose, '-CAfile', join(dir.path, 'ca.pem'), join(dir.path, cert)])
          .code;
      assert.equal(verify('srv.pem', 'sslserver'), 0);
      assert.notEqual(
        verify('srv.pem', 'sslclient'),
        0,
        'a server profile must not make a client certificate',
      );
      assert.equal(verify('cli.pem', 'sslclient'), 0);
      assert.notEqual(
        verify('cli.pem', 'sslserver'),
        0,
        'a client profile must not make a server certificate',
      );
    } finally {
      dir.remove();
    }
  });

  it('refuses a CA key that is not the CA certificate’s', async () => {
    const a = await initCa({ CN: 'a', hosts: [], key: { algo: 'ecdsa', size: 256 }, names: [] }, 3_600_000);
    const b = await initCa({ CN: 'b', hosts: [], key: { algo: 'ecdsa', size: 256 }, names: [] }, 3_600_000);
    await assert.rejects(loadCa(a.certPem, b.keyPem), /does not match/);
  });

  it('answers --help and refuses unknown flags', () => {
    const dir = tempDir('tsetcd-certs-');
    try {
      const h = tsetcd(['certs', '--help'], dir.path);
      assert.equal(h.code, 0);
      assert.match(h.out, /tsetcd certs gencert -ca=ca.pem/);
      const bad = tsetcd(['certs', 'gencert', '-bogus'], dir.path);
      assert.equal(bad.code, 2);
      assert.match(bad.out, /flag provided but not defined: -bogus/);
    } finally {
      dir.remove();
    }
  });
});
