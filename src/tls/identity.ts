/**
 * Who is on the other end of a connection, for layers above (auth: etcd takes a verified client
 * certificate's CN as the user name when no token is given).
 */
import tls from 'node:tls';

/**
 * An HTTP/2 session has `socket`; the h2 layer may hand a wrapper (the authority repair) whose
 * `inner` is the real socket.
 */
interface MaybeWrapped {
  inner?: unknown;
  socket?: unknown;
}

/**
 * The CN of the client certificate verified on `socket` (a gRPC call's HTTP/2 session or its
 * `socket`, a TLS socket, or the authority-repair wrapper around one), or undefined when the connection is not TLS,
 * carried no certificate, or its certificate was not verified against the trusted CA (only
 * --client-cert-auth verifies). Never throws.
 */
export function verifiedCommonName(socket: unknown): string | undefined {
  try {
    let s: unknown = socket;
    for (let i = 0; i < 4 && s && typeof s === 'object' && !(s instanceof tls.TLSSocket); i++) {
      const w = s as MaybeWrapped;
      s = w.inner ?? w.socket;
    }
    if (!(s instanceof tls.TLSSocket) || !s.authorized) return undefined;
    const cn = s.getPeerCertificate()?.subject?.CN;
    return typeof cn === 'string' && cn !== '' ? cn : undefined;
  } catch {
    return undefined; // a session already destroyed
  }
}
