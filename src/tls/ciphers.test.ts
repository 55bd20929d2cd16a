/**
 * Goal: --cipher-suites maps etcd's (Go's) names to OpenSSL's, keeps their order, accepts TLS 1.3
 * names without configuring them (as Go), and refuses an unknown name with etcd's exact text.
 * Method: table tests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapCipherSuites } from './ciphers.js';

test('ciphers: Go names to OpenSSL names, in order; TLS 1.3 names accepted', () => {
  assert.equal(mapCipherSuites([]), undefined);
  assert.deepEqual(
    mapCipherSuites(['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']),
    { ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256', minVersion: 'TLSv1.2' },
  );
  assert.deepEqual(
    mapCipherSuites(['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256']),
    { ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', minVersion: 'TLSv1.2' },
  );
  assert.deepEqual(mapCipherSuites(['TLS_AES_128_GCM_SHA256']), { ciphers: '', minVersion: 'TLSv1.3' });
});

test("ciphers: an unknown name is etcd's error", () => {
  assert.throws(() => mapCipherSuites(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_FALLBACK_SCSV']), {
    name: 'TlsConfigError',
    message: 'unexpected TLS cipher suite "TLS_FALLBACK_SCSV"',
  });
});
