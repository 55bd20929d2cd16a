/**
 * --client-crl-file / --peer-crl-file, as etcd 3.4 checks them (transport.checkCRL): the CRL's
 * revoked serial numbers are compared with the serial of every certificate the peer presented; the
 * CRL's issuer and signature are not checked (etcd does not either). The file is re-read when it
 * changes.
 */
import { children, DerError, readTlv } from './der.js';

/** A serial number as etcd prints it (`%x` of its big-endian bytes): lower-case hex, even length. */
export function serialHex(raw: string | Buffer): string {
  let h = (typeof raw === 'string' ? raw : raw.toString('hex')).toLowerCase().replace(/^0+/, '');
  if (h === '') h = '0';
  return h.length % 2 === 1 ? `0${h}` : h;
}

function pemToDer(text: Buffer): Buffer {
  const s = text.toString('latin1');
  const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(s);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : text;
}

/**
 * The revoked serial numbers (serialHex form) of a CRL in PEM or DER. Throws DerError for
 * something that is not a CRL.
 */
export function revokedSerials(file: Buffer): Set<string> {
  const der = pemToDer(file);
  const list = readTlv(der, 0);
  if (list.tag !== 0x30) throw new DerError('CRL: not a SEQUENCE');
  const tbs = children(list.value)[0];
  if (tbs?.tag !== 0x30) throw new DerError('CRL: no tbsCertList');
  const f = children(tbs!.value);
  let i = 0;
  if (f[i]?.tag === 0x02) i++; // version
  i += 2; // signature algorithm, issuer
  if (f[i]?.tag !== 0x17 && f[i]?.tag !== 0x18) throw new DerError('CRL: no thisUpdate');
  i++;
  if (f[i]?.tag === 0x17 || f[i]?.tag === 0x18) i++; // nextUpdate
  const out = new Set<string>();
  const revoked = f[i];
  if (revoked?.tag !== 0x30) return out;
  for (const entry of children(revoked.value)) {
    const serial = children(entry.value)[0];
    if (serial?.tag !== 0x02) throw new DerError('CRL: revoked entry without a serial');
    out.add(serialHex(serial.value));
  }
  return out;
}
