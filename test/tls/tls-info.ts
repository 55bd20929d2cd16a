/** The TlsInfo of the TLS tests: client-cert-auth on, everything optional off, over `ca`'s trust. */
import type { TlsInfo } from '../../src/tls/index.js';

export function tlsInfo(
  caCert: string,
  files: { cert: string; key: string },
  extra: Partial<TlsInfo> = {},
): TlsInfo {
  return {
    certFile: files.cert,
    keyFile: files.key,
    trustedCaFile: caCert,
    clientCertAuth: true,
    crlFile: '',
    allowedCn: '',
    allowedHostname: '',
    cipherSuites: [],
    selfCert: false,
    skipClientSanVerify: false,
    ...extra,
  };
}
