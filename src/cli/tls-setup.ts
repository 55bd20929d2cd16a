/**
 * Turns the TLS flags into TLS endpoints, in etcd 3.4's order and words: --cipher-suites names
 * first ("unexpected TLS cipher suite"), auto-TLS certificates under <data-dir>/fixtures/{client,peer}
 * (ignored, with etcd's warning, when certificate files are given), then the peer listener ("cannot
 * listen on TLS for <addr>: KeyFile and CertFile are not presented") and the client listeners ("TLS
 * key/cert (--cert-file, --key-file) must be provided for client url <url> with HTTPS scheme").
 */
import { join } from 'node:path';
import type { Logger } from '../server/logger.js';
import { ensureSelfCert, mapCipherSuites, TlsConfigError, TlsEndpoint, type TlsInfo } from '../tls/index.js';
import type { ServerConfig, TlsFlags } from './config.js';

/** The endpoints a member serves with; undefined = that side has no TLS configured. */
export interface TlsSetup {
  client: TlsEndpoint | undefined;
  peer: TlsEndpoint | undefined;
}

function hostPort(url: string): string {
  const u = new URL(url);
  return u.host;
}

function infoOf(f: TlsFlags, cipherSuites: string[], selfCert: boolean): TlsInfo {
  return {
    certFile: f.certFile,
    keyFile: f.keyFile,
    trustedCaFile: f.trustedCaFile,
    clientCertAuth: f.clientCertAuth,
    crlFile: f.crlFile,
    allowedCn: f.allowedCn,
    allowedHostname: f.allowedHostname,
    cipherSuites,
    selfCert,
    skipClientSanVerify: f.skipClientSanVerify,
  };
}

/** etcd's TLSInfo.Empty(): neither certificate nor key given. */
const empty = (f: TlsFlags) => f.certFile === '' && f.keyFile === '';

/**
 * Builds the client and peer endpoints. Throws TlsConfigError with etcd's text when the flags or
 * files cannot work (the caller prints it and exits 1, as etcdmain does).
 */
export function setupTls(cfg: ServerConfig, logger: Logger): TlsSetup {
  const { client, peer, cipherSuites, listenPeerUrls: peerListenUrls } = cfg.tls;
  mapCipherSuites(cipherSuites); // etcd checks the names before anything else
  const dataDir = cfg.member.dataDir;

  const side = (f: TlsFlags, name: 'client' | 'peer', hosts: string[]): TlsEndpoint | undefined => {
    let info = infoOf(f, cipherSuites, false);
    if (f.autoTls) {
      if (!empty(f)) logger.warn({}, `ignoring ${name} auto TLS since certs given`);
      else {
        const files = ensureSelfCert(join(dataDir, 'fixtures', name), hosts);
        info = { ...infoOf(f, cipherSuites, true), ...files };
        logger.info(
          { 'cert-file': files.certFile, 'key-file': files.keyFile },
          `${name} auto TLS: using a self-signed certificate`,
        );
      }
    }
    if (info.certFile === '' && info.keyFile === '') return undefined;
    const ep = TlsEndpoint.create(info, name, logger);
    logger.info(
      {
        'cert-file': info.certFile,
        'key-file': info.keyFile,
        'trusted-ca-file': info.trustedCaFile,
        'client-cert-auth': info.clientCertAuth,
        'crl-file': info.crlFile,
      },
      name === 'client' ? 'starting with client TLS' : 'starting with peer TLS',
    );
    return ep;
  };

  const peerEp = side(peer, 'peer', peerListenUrls.map(hostPort));
  for (const u of peerListenUrls) {
    if (u.startsWith('https:') && !peerEp) {
      throw new TlsConfigError(
        `cannot listen on TLS for ${hostPort(u)}: KeyFile and CertFile are not presented`,
      );
    }
    if (u.startsWith('http:') && peerEp) {
      logger.warn(
        { 'peer-url': u },
        'scheme is HTTP while key and cert files are present; ignoring key and cert files',
      );
    }
  }
  const clientEp = side(
    client,
    'client',
    cfg.listenClient.map((l) => hostPort(l.url)),
  );
  for (const l of cfg.listenClient) {
    if (l.secure && !clientEp) {
      throw new TlsConfigError(
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${l.url.replace(/\/+$/, '')} with HTTPS scheme`,
      );
    }
    if (!l.secure && clientEp) {
      logger.warn(
        { 'client-url': l.url },
        'scheme is HTTP while key and cert files are present; ignoring key and cert files',
      );
    }
  }
  return { client: clientEp, peer: peerEp };
}
