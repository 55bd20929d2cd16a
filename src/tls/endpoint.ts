/**
 * One side's TLS (client port or peer port), built from etcd's flags (transport.TLSInfo) and
 * re-read when its files change: `TlsEndpoint` hands out node:tls options for the listener and for
 * outbound connections, reloads a listener's secure context before a handshake when a certificate,
 * key or CA bundle changed (established connections keep theirs), and decides after each handshake
 * whether the peer is accepted, with etcd's reasons ("tls: client didn't provide a certificate",
 * "tls: failed to verify client certificate: x509: ...", "transport: certificate serial ... revoked").
 *
 * Files are checked with stat (mtime, size, inode) on each new connection — etcd re-reads its key
 * pair on every handshake; a stat is far cheaper and sees the same changes.
 */
import dns from 'node:dns/promises';
import { readFileSync, statSync } from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { type CipherChoice, mapCipherSuites } from './ciphers.js';
import { revokedSerials, serialHex } from './crl.js';
import { TlsConfigError } from './errors.js';

/** etcd's TLSInfo for one side, as the flags give it. Empty strings mean "not set". */
export interface TlsInfo {
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  /** --client-cert-auth / --peer-client-cert-auth: require and verify a client certificate. */
  clientCertAuth: boolean;
  crlFile: string;
  /** --peer-cert-allowed-cn: the client certificate's CN must equal it. */
  allowedCn: string;
  /** --client-cert-allowed-hostname / --peer-cert-allowed-hostname: the certificate must be valid for it. */
  allowedHostname: string;
  /** --cipher-suites (Go names). */
  cipherSuites: readonly string[];
  /** Made by auto-TLS: outbound connections do not verify the other side (etcd's InsecureSkipVerify). */
  selfCert: boolean;
  /** --experimental-peer-skip-client-san-verification (peer side only). */
  skipClientSanVerify: boolean;
}

/** The narrow logger this folder writes to. */
export interface TlsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Identity of a file's current content, to notice replacement and rewrites. */
function fileStamp(path: string): string {
  if (path === '') return '';
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** etcd's text for an unreadable file: Go's os.Open error. */
function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file or directory'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String((err as Error).message);
    throw new TlsConfigError(`open ${path}: ${why}`);
  }
}

/** Go's RFC 3339 time without fractions, as x509 errors print it. */
function goTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

/** The material of one load: what both sides' options are made from. */
interface Loaded {
  stamp: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

/**
 * TLS for one side. Create with `TlsEndpoint.create` (reads and checks the files once, throwing
 * TlsConfigError with etcd's text); then `attach` a tls.Server, or take `clientOptions()` per dial.
 */
export class TlsEndpoint {
  private loaded: Loaded;
  private readonly ciphers: CipherChoice | undefined;
  private crlStamp = '';
  private crl = new Set<string>();

  private constructor(
    readonly info: TlsInfo,
    private readonly logger: TlsLogger | undefined,
    /** 'client' or 'peer': which listener this is, for log lines. */
    readonly side: 'client' | 'peer',
  ) {
    this.ciphers = mapCipherSuites(info.cipherSuites);
    this.loaded = this.load();
    // Fail at start-up on a pair node:tls refuses (mismatched key, not PEM), as etcd does.
    try {
      tls.createSecureContext(this.contextOptions());
    } catch (err) {
      const msg = (err as Error).message;
      // Go's crypto/tls text for the common case; OpenSSL's otherwise.
      throw new TlsConfigError(
        /key values mismatch/.test(msg) ? 'tls: private key does not match public key' : `tls: ${msg}`,
      );
    }
  }

  /** Reads and checks the files. Throws TlsConfigError (etcd's texts) when unusable. */
  static create(info: TlsInfo, side: 'client' | 'peer', logger?: TlsLogger): TlsEndpoint {
    if (info.certFile === '' || info.keyFile === '') {
      throw new TlsConfigError(
        `KeyFile and CertFile must both be present[key: ${info.keyFile}, cert: ${info.certFile}]`,
      );
    }
    if (info.allowedCn !== '' && info.allowedHostname !== '') {
      throw new TlsConfigError(
        `AllowedCN and AllowedHostname are mutually exclusive (cn="${info.allowedCn}", hostname="${info.allowedHostname}")`,
      );
    }
    return new TlsEndpoint(info, logger, side);
  }

  private stampNow(): string {
    const i = this.info;
    return [fileStamp(i.certFile), fileStamp(i.keyFile), fileStamp(i.trustedCaFile)].join('|');
  }

  private load(): Loaded {
    const i = this.info;
    const stamp = this.stampNow();
    return {
      stamp,
      cert: readFile(i.certFile),
      key: readFile(i.keyFile),
      ca: i.trustedCaFile === '' ? undefined : readFile(i.trustedCaFile),
    };
  }

  /** Re-reads the files when they changed; true when the material is new. Keeps the old on failure. */
  private refresh(): boolean {
    const stamp = this.stampNow();
    if (stamp === this.loaded.stamp) return false;
    try {
      const next = this.load();
      tls.createSecureContext(this.contextOptionsOf(next)); // refuses a half-written pair
      this.loaded = next;
      this.logger?.info(
        { side: this.side, cert: this.info.certFile, 'trusted-ca': this.info.trustedCaFile },
        'reloaded TLS certificate files',
      );
      return true;
    } catch (err) {
      // Mid-rotation (cert written, key not yet): keep serving with the previous pair.
      this.logger?.warn(
        { side: this.side, error: String((err as Error).message) },
        'failed to reload TLS files; keeping the previous ones',
      );
      return false;
    }
  }

  private contextOptionsOf(l: Loaded): tls.SecureContextOptions {
    return {
      cert: l.cert,
      key: l.key,
      ca: l.ca,
      minVersion: this.ciphers?.minVersion ?? 'TLSv1.2',
      ...(this.ciphers && this.ciphers.ciphers !== '' ? { ciphers: this.ciphers.ciphers } : {}),
    };
  }

  private contextOptions(): tls.SecureContextOptions {
    return this.contextOptionsOf(this.loaded);
  }

  /**
   * Options for tls.createServer: the current material, ALPN h2 and http/1.1 (gRPC and HTTP share
   * the port), a client certificate requested under client-cert-auth. Verification is left to
   * `refusal` (rejectUnauthorized false) so that every refusal is logged with its reason.
   */
  serverOptions(): tls.TlsOptions {
    return {
      ...this.contextOptions(),
      ALPNProtocols: ['h2', 'http/1.1'],
      requestCert: this.info.clientCertAuth,
      rejectUnauthorized: false,
    };
  }

  /**
   * Serves `server` with this endpoint: its secure context is replaced before a new connection's
   * handshake whenever the files changed (connections already open keep theirs), and every failed
   * handshake is logged as etcd logs it ("rejected connection").
   */
  attach(server: tls.Server): void {
    server.prependListener('connection', () => {
      if (this.refresh()) server.setSecureContext(this.serverOptions());
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      this.logRefusal(socket, handshakeErrorText(err));
    });
  }

  /** Logs a refused connection in etcd's words. */
  logRefusal(socket: net.Socket | tls.TLSSocket, error: string): void {
    const servername = (socket as tls.TLSSocket).servername;
    this.logger?.warn(
      {
        side: this.side,
        'remote-addr': `${socket.remoteAddress}:${socket.remotePort}`,
        'server-name': typeof servername === 'string' ? servername : '',
        error,
      },
      'rejected connection',
    );
  }

  /**
   * Why a connection that completed its handshake must be refused, or undefined to accept it, in
   * etcd's order: client certificate required and verified (CA, validity, key usage), allowed CN or
   * hostname (Go's VerifyPeerCertificate), then the listener's checks: CRL, and the certificate's
   * SANs against the remote address (etcd's checkSAN; skipped by `skipClientSanVerify`).
   */
  async refusal(socket: tls.TLSSocket): Promise<string | undefined> {
    const i = this.info;
    // The chain is only needed for the CRL (every certificate presented is checked, as etcd).
    const cert = socket.getPeerCertificate(i.crlFile !== '') as tls.DetailedPeerCertificate;
    const hasCert = cert !== null && Object.keys(cert).length > 0;
    if (i.clientCertAuth) {
      if (!hasCert) return "tls: client didn't provide a certificate";
      if (!socket.authorized) return verifyErrorText(String(socket.authorizationError ?? ''), cert);
      const eku = cert.ext_key_usage;
      if (eku && eku.length > 0 && !eku.includes(CLIENT_AUTH_EKU) && !eku.includes(ANY_EKU)) {
        return 'tls: failed to verify client certificate: x509: certificate specifies an incompatible key usage';
      }
    }
    if (!hasCert) return undefined;
    // Go runs VerifyPeerCertificate only on verified chains, i.e. under client-cert-auth.
    if (i.clientCertAuth) {
      const cnBad = i.allowedCn !== '' && cert.subject?.CN !== i.allowedCn;
      const hostBad =
        i.allowedHostname !== '' && tls.checkServerIdentity(i.allowedHostname, cert) !== undefined;
      if (cnBad || hostBad) return 'client certificate authentication failed';
    }
    if (i.crlFile !== '') {
      const why = this.crlRefusal(cert);
      if (why) return why;
    }
    if (!i.skipClientSanVerify) return checkCertSan(cert, socket.remoteAddress ?? '');
    return undefined;
  }

  private crlRefusal(leaf: tls.DetailedPeerCertificate): string | undefined {
    const stamp = fileStamp(this.info.crlFile);
    if (stamp !== this.crlStamp) {
      try {
        this.crl = revokedSerials(readFile(this.info.crlFile));
        this.crlStamp = stamp;
      } catch (err) {
        // etcd refuses the connection when the CRL cannot be read.
        return `transport: ${(err as Error).message}`;
      }
    }
    const seen = new Set<string>();
    for (
      let c: tls.DetailedPeerCertificate | undefined = leaf;
      c && !seen.has(c.fingerprint256);
      c = c.issuerCertificate
    ) {
      seen.add(c.fingerprint256);
      const serial = serialHex(c.serialNumber);
      if (this.crl.has(serial)) return `transport: certificate serial ${serial} revoked`;
    }
    return undefined;
  }

  /**
   * Options for an outbound connection (peer dials, peer requests): the current key pair as client
   * certificate, the trusted CA (system roots when none), no verification for auto-TLS.
   */
  clientOptions(): tls.ConnectionOptions {
    this.refresh();
    return {
      ...this.contextOptions(),
      ALPNProtocols: ['h2'],
      rejectUnauthorized: !this.info.selfCert,
    };
  }
}

/**
 * etcd's checkCertSAN: a client certificate with SANs must name the address it connects from, as
 * an IP SAN, or as a DNS SAN that the address reverse-resolves to or that resolves to the address.
 */
export async function checkCertSan(
  cert: tls.PeerCertificate,
  remoteAddress: string,
): Promise<string | undefined> {
  const sans = (cert.subjectaltname ?? '').split(', ').filter((x) => x !== '');
  const ips = sans.filter((x) => x.startsWith('IP Address:')).map((x) => x.slice(11));
  const names = sans.filter((x) => x.startsWith('DNS:')).map((x) => x.slice(4));
  if (ips.length === 0 && names.length === 0) return undefined;
  const host = remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  if (ips.length > 0) {
    if (ips.some((ip) => normalizeIp(ip) === normalizeIp(host))) return undefined;
    if (names.length === 0) return `x509: certificate is valid for ${ips.join(', ')}, not ${host}`;
  }
  let lastErr = '';
  try {
    const ptr = await dns.reverse(host);
    for (const n of ptr.map((x) => x.replace(/\.$/, ''))) {
      if (names.some((d) => (d.startsWith('*.') ? n.endsWith(d.slice(1)) : d === n))) return undefined;
    }
  } catch (err) {
    lastErr = String((err as Error).message);
  }
  for (const d of names.filter((x) => !x.startsWith('*.'))) {
    try {
      const addrs = await dns.lookup(d, { all: true });
      if (addrs.some((a) => normalizeIp(a.address) === normalizeIp(host))) return undefined;
    } catch (err) {
      lastErr = String((err as Error).message);
    }
  }
  const q = names.map((n) => `"${n}"`).join(' ');
  return `tls: "${host}" does not match any of DNSNames [${q}]${lastErr ? ` (${lastErr})` : ''}`;
}

function normalizeIp(ip: string): string {
  return ip.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

/** Go's x509 error text for an OpenSSL verification code (node's authorizationError). */
export function verifyErrorText(code: string, cert: tls.PeerCertificate): string {
  const prefix = 'tls: failed to verify client certificate: x509: ';
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `${prefix}certificate has expired or is not yet valid: current time ${goTime(new Date())} is after ${goTime(new Date(cert.valid_to))}`;
    case 'CERT_NOT_YET_VALID':
      return `${prefix}certificate has expired or is not yet valid: current time ${goTime(new Date())} is before ${goTime(new Date(cert.valid_from))}`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return `${prefix}certificate signed by unknown authority`;
    default:
      return `${prefix}${code.toLowerCase().replaceAll('_', ' ')}`;
  }
}

/** Go's text for a handshake that failed on the server (node's tlsClientError). */
export function handshakeErrorText(err: Error & { code?: string; reason?: string }): string {
  const code = err.code ?? '';
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_HTTP_REQUEST' ||
    code === 'ERR_SSL_UNKNOWN_PROTOCOL'
  ) {
    return 'tls: first record does not look like a TLS handshake';
  }
  if (code === 'ERR_SSL_NO_SHARED_CIPHER') return 'tls: no cipher suite supported by both client and server';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return "tls: client didn't provide a certificate";
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code);
  if (alert) return `remote error: tls: ${alert[1]!.toLowerCase().replaceAll('_', ' ')}`;
  if (code === 'ECONNRESET') return 'EOF';
  return err.reason ?? err.message;
}
