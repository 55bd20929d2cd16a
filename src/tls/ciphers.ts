/**
 * --cipher-suites: etcd's (Go's crypto/tls) cipher suite names mapped to OpenSSL's names.
 *
 * etcd 3.4.23 (Go 1.19) accepts every name of Go's tls.CipherSuites() and InsecureCipherSuites()
 * plus the older CHACHA20 spellings without _SHA256. In Go, the list restricts TLS 1.2 only: TLS 1.3
 * suites are not configurable, so naming one has no effect. tsetcd does the same: TLS 1.3 names are
 * accepted and left out of the OpenSSL list (TLS 1.3 keeps OpenSSL's defaults).
 */
import { TlsConfigError } from './errors.js';

/** Go name -> OpenSSL name; null for TLS 1.3 suites (accepted, not configurable). */
const GO_TO_OPENSSL: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};

/** What --cipher-suites turns into for node:tls. */
export interface CipherChoice {
  /** OpenSSL cipher list for TLS 1.2 ("" when only TLS 1.3 names were given). */
  ciphers: string;
  /** 'TLSv1.3' when no TLS 1.2 suite is left (Go then cannot negotiate TLS 1.2 either). */
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/**
 * Maps etcd's names (in the given order, which OpenSSL honours as preference) to OpenSSL's.
 * Throws TlsConfigError with etcd's text `unexpected TLS cipher suite "<name>"` for an unknown name.
 * An empty list means "Go's defaults": undefined.
 */
export function mapCipherSuites(names: readonly string[]): CipherChoice | undefined {
  if (names.length === 0) return undefined;
  const out: string[] = [];
  for (const name of names) {
    if (!Object.hasOwn(GO_TO_OPENSSL, name))
      throw new TlsConfigError(`unexpected TLS cipher suite "${name}"`);
    const o = GO_TO_OPENSSL[name];
    if (o && !out.includes(o)) out.push(o);
  }
  return out.length === 0
    ? { ciphers: '', minVersion: 'TLSv1.3' }
    : { ciphers: out.join(':'), minVersion: 'TLSv1.2' };
}
