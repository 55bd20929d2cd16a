/**
 * Makes keys and certificates the way `cfssl gencert` does: a self-signed CA (`-initca`), and
 * certificates signed by that CA under a profile's usages and validity. Keys come from Node's
 * WebCrypto; the X.509 encoding is @peculiar/x509's (a maintained, typed ASN.1 implementation), so
 * no external binary is involved.
 *
 * What cfssl puts in a certificate, and so what these do:
 * - a random positive 20-byte serial number;
 * - notBefore five minutes in the past (cfssl's backdate, against clock skew), notAfter = notBefore
 *   plus the profile's expiry;
 * - the subject in Go's pkix order: C, ST, L, O, OU, then CN;
 * - SANs from `hosts`: an IP address is an IP SAN, anything else a DNS name;
 * - a CA: basicConstraints CA:TRUE (critical), keyUsage certSign + cRLSign (critical), a subject
 *   key identifier; a signed certificate: basicConstraints CA:FALSE (critical), the profile's
 *   keyUsage (critical) and extKeyUsage, subject and authority key identifiers;
 * - signatures SHA-256 with RSA, or ECDSA with the hash matching the curve;
 * - private keys as cfssl writes them: PKCS#1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY" PEM.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs the Reflect polyfill
import { createPrivateKey, type KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { assert } from '../pkg/assert.js';
import {
  type CertRequest,
  CertsError,
  checkKey,
  type KeyRequest,
  type SigningProfile,
  usageBits,
} from './profile.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

x509.cryptoProvider.set(webcrypto as never);
const subtle = webcrypto.subtle;

/** cfssl's backdate of notBefore. */
export const BACKDATE_MS = 5 * 60_000;
/** Bytes of a serial number (RFC 5280 allows up to 20 octets). */
export const SERIAL_BYTES = 20;

/** A certificate with its private key and signing request, all PEM. */
export interface Issued {
  certPem: string;
  keyPem: string;
  csrPem: string;
}

/** A CA loaded for signing: its certificate and private key. */
export interface SigningCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

const CURVES: Record<number, { namedCurve: string; hash: string }> = {
  256: { namedCurve: 'P-256', hash: 'SHA-256' },
  384: { namedCurve: 'P-384', hash: 'SHA-384' },
  521: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** The WebCrypto algorithm for a key request, with the signature hash cfssl uses for it. */
function algorithmFor(
  key: KeyRequest,
): webcrypto.RsaHashedKeyGenParams | (webcrypto.EcKeyGenParams & EcdsaParams) {
  if (key.algo === 'rsa') {
    return {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: key.size,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    };
  }
  const c = CURVES[key.size];
  assert(c !== undefined, 'checkKey admits only 256, 384 and 521');
  return { name: 'ECDSA', namedCurve: c.namedCurve, hash: c.hash };
}

async function generateKeys(key: KeyRequest): Promise<{ keys: CryptoKeyPair; alg: Algorithm }> {
  const alg = algorithmFor(checkKey(key));
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { keys, alg };
}

/** PEM of a private key in cfssl's encoding (PKCS#1 for RSA, SEC 1 for EC). */
async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  const ko = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const type = ko.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1';
  return ko.export({ type, format: 'pem' }).toString();
}

function subjectOf(req: CertRequest): x509.JsonName {
  const name: x509.JsonName = [];
  for (const n of req.names) {
    for (const f of ['C', 'ST', 'L', 'O', 'OU'] as const) {
      const v = n[f];
      if (v !== undefined && v !== '') name.push({ [f]: [v] });
    }
  }
  if (req.CN !== '') name.push({ CN: [req.CN] });
  return name;
}

function sanExtension(hosts: readonly string[]): x509.Extension[] {
  if (hosts.length === 0) return [];
  const names: x509.JsonGeneralName[] = hosts.map((h) =>
    isIP(h) !== 0 ? { type: 'ip', value: h } : { type: 'dns', value: h },
  );
  return [new x509.SubjectAlternativeNameExtension(names, false)];
}

function serial(): string {
  const b = randomBytes(SERIAL_BYTES);
  b[0] = (b[0] ?? 0) & 0x7f; // positive
  if (b[0] === 0) b[0] = 1; // and a full 20 octets, no leading zero to strip
  return b.toString('hex');
}

function validity(expiryMs: number, now: Date): { notBefore: Date; notAfter: Date } {
  // cfssl: notBefore = now rounded to the minute, minus the backdate.
  const rounded = Math.round(now.getTime() / 60_000) * 60_000;
  const notBefore = new Date(rounded - BACKDATE_MS);
  return { notBefore, notAfter: new Date(notBefore.getTime() + expiryMs) };
}

async function csrPem(req: CertRequest, keys: CryptoKeyPair, alg: Algorithm): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectOf(req),
    keys,
    signingAlgorithm: alg,
    extensions: sanExtension(req.hosts),
  });
  return csr.toString('pem');
}

/**
 * `cfssl gencert -initca`: a new key and a self-signed CA certificate for `req`, valid for
 * `req.caExpiryMs` (default: `defaultExpiryMs`). `now` is injectable for tests.
 */
export async function initCa(req: CertRequest, defaultExpiryMs: number, now = new Date()): Promise<Issued> {
  const { keys, alg } = await generateKeys(req.key);
  const { notBefore, notAfter } = validity(req.caExpiryMs ?? defaultExpiryMs, now);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subjectOf(req),
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, req.caPathLen, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...sanExtension(req.hosts),
    ],
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    csrPem: await csrPem(req, keys, alg),
  };
}

/** The WebCrypto algorithm to import a CA's private key with, from the key itself. */
function importAlgorithm(
  ko: KeyObject,
): webcrypto.RsaHashedImportParams | (webcrypto.EcKeyImportParams & EcdsaParams) {
  if (ko.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (ko.asymmetricKeyType === 'ec') {
    const curve = ko.asymmetricKeyDetails?.namedCurve;
    const byOpenssl: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };
    const c = CURVES[byOpenssl[curve ?? ''] ?? 0];
    if (c !== undefined) return { name: 'ECDSA', namedCurve: c.namedCurve, hash: c.hash };
    throw new CertsError(`unsupported CA key curve ${curve}`);
  }
  throw new CertsError(`unsupported CA key type ${ko.asymmetricKeyType}`);
}

/**
 * Loads a CA certificate and its private key (PEM; the key as PKCS#1, SEC 1 or PKCS#8, as cfssl
 * and openssl write them). Throws CertsError when either does not parse or they do not match.
 */
export async function loadCa(certPem: string, keyPem: string): Promise<SigningCa> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new CertsError(`failed to parse CA certificate: ${(err as Error).message}`);
  }
  let ko: KeyObject;
  try {
    ko = createPrivateKey(keyPem);
  } catch (err) {
    throw new CertsError(`failed to parse CA private key: ${(err as Error).message}`);
  }
  const alg = importAlgorithm(ko);
  const der = ko.export({ type: 'pkcs8', format: 'der' });
  const key = await subtle.importKey('pkcs8', der, alg, false, ['sign']);
  // The key must be the certificate's: sign a probe and verify it with the certificate's key.
  const probe = new Uint8Array([1, 2, 3]);
  const sig = await subtle.sign({ ...alg, hash: (alg as EcdsaParams).hash }, key, probe);
  const pub = await cert.publicKey.export(alg, ['verify']);
  if (!(await subtle.verify({ ...alg, hash: (alg as EcdsaParams).hash }, pub, sig, probe))) {
    throw new CertsError('CA private key does not match the CA certificate');
  }
  return { cert, key };
}

/** The issuer's subject key identifier as our authority key identifier (computed when it has none). */
async function authorityKeyId(caCert: x509.X509Certificate): Promise<x509.Extension> {
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId, false);
  return x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false);
}

/**
 * `cfssl gencert -ca -ca-key -profile`: a new key and a certificate for `req`, signed by `ca`
 * under `profile`. A profile that asks for "cert sign" makes an intermediate CA.
 */
export async function signCert(
  ca: SigningCa,
  req: CertRequest,
  profile: SigningProfile,
  now = new Date(),
): Promise<Issued> {
  const { keyUsage, extKeyUsage } = usageBits(profile.usages);
  const { keys, alg } = await generateKeys(req.key);
  const { notBefore, notAfter } = validity(profile.expiryMs, now);
  const isCa = (keyUsage & x509.KeyUsageFlags.keyCertSign) !== 0;
  const caAlg = ca.key.algorithm as webcrypto.RsaHashedKeyAlgorithm | webcrypto.EcKeyAlgorithm;
  const signingAlgorithm =
    caAlg.name === 'ECDSA'
      ? {
          name: 'ECDSA',
          hash: CURVES[Number((caAlg as webcrypto.EcKeyAlgorithm).namedCurve.slice(2))]?.hash ?? 'SHA-256',
        }
      : { name: caAlg.name, hash: 'SHA-256' };
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, undefined, true),
    ...(keyUsage !== 0 ? [new x509.KeyUsagesExtension(keyUsage, true)] : []),
    ...(extKeyUsage.length > 0 ? [new x509.ExtendedKeyUsageExtension(extKeyUsage, false)] : []),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await authorityKeyId(ca.cert),
    ...sanExtension(req.hosts),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: subjectOf(req),
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    csrPem: await csrPem(req, keys, alg),
  };
}
