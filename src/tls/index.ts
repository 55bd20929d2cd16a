/** The TLS layer's public face (see README.md). */
export { type CipherChoice, mapCipherSuites } from './ciphers.js';
export { revokedSerials, serialHex } from './crl.js';
export {
  checkCertSan,
  handshakeErrorText,
  TlsEndpoint,
  type TlsInfo,
  type TlsLogger,
  verifyErrorText,
} from './endpoint.js';
export { TlsConfigError } from './errors.js';
export { verifiedCommonName } from './identity.js';
export { makePeerFetch, type PeerFetch } from './peer-fetch.js';
export { ensureSelfCert, selfSignedCertificate } from './self-cert.js';
