/**
 * The TLS layer's domain errors. Texts are etcd 3.4's where etcd has one (etcdmain prints them as
 * its fatal start-up line).
 */

/** A TLS configuration that cannot be used: bad flag value, unreadable file, missing key pair. */
export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}
