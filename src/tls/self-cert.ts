/**
 * --auto-tls / --peer-auto-tls: a self-signed certificate made as etcd 3.4's transport.SelfCert
 * makes it: ECDSA P-256, subject O=etcd, valid for a year from now, key usages digitalSignature and
 * keyEncipherment, extended usages serverAuth and clientAuth, the listen URLs' hosts as SANs (IPs
 * as IP SANs, names as DNS SANs). Written as `cert.pem` and `key.pem` (0600) in `dir`; existing
 * files are reused, as etcd reuses them across restarts.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { bool, octetString, oid, seq, set, time, tlv, uint, utf8 } from './der.js';

/** etcd 3.4's self-signed validity: one year. */
export const SELF_CERT_VALIDITY_MS = 365 * 24 * 3600 * 1000;

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const ORGANIZATION = '2.5.4.10';

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" then 8 groups of 16 bits.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

/** The DER of a self-signed certificate for `hosts` (host or host:port strings). Pure but for the key. */
export function selfSignedCertificate(
  hosts: readonly string[],
  now: Date,
): { certDer: Buffer; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const algId = seq(oid(ECDSA_SHA256));
  const name = seq(set(seq(oid(ORGANIZATION), utf8('etcd'))));
  const sans: Buffer[] = [];
  for (const raw of hosts) {
    const host = raw.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]+):\d+$/, '$1');
    if (isIP(host)) sans.push(tlv(0x87, ipBytes(host)));
    else if (host !== '') sans.push(tlv(0x82, Buffer.from(host)));
  }
  const ext = (id: string, critical: boolean, value: Buffer) =>
    seq(oid(id), ...(critical ? [bool(true)] : []), octetString(value));
  const extensions = [
    // keyUsage: digitalSignature (bit 0) | keyEncipherment (bit 2); 5 unused bits.
    ext('2.5.29.15', true, tlv(0x03, Buffer.from([0x05, 0xa0]))),
    ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    ext('2.5.29.19', true, seq()),
    ...(sans.length > 0 ? [ext('2.5.29.17', false, seq(...sans))] : []),
  ];
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    tlv(0xa0, uint(Buffer.from([2]))),
    uint(serial),
    algId,
    name,
    seq(time(now), time(new Date(now.getTime() + SELF_CERT_VALIDITY_MS))),
    name,
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certDer = seq(tbs, algId, tlv(0x03, Buffer.from([0]), signature));
  return { certDer, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** PEM armour for a DER certificate. */
export function certPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Makes (or reuses) `dir/cert.pem` and `dir/key.pem` for `hosts`; returns their paths.
 * Throws the file system's error when `dir` cannot be written.
 */
export function ensureSelfCert(
  dir: string,
  hosts: readonly string[],
  now = new Date(),
): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { certDer, keyPem } = selfSignedCertificate(hosts, now);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, certPem(certDer), { mode: 0o600 });
  return { certFile, keyFile };
}
