/**
 * cfssl's input files, read as cfssl reads them: a certificate signing request description
 * (`ca-csr.json`, `etcd-csr.json`) and a signing configuration with named profiles
 * (`ca-config.json`). Pure: parsing, defaults and validation only, no keys and no I/O.
 *
 * Texts of the errors follow cfssl's where cfssl has one (e.g. "Invalid RSA key size").
 */
import { parseDurationMs } from '../pkg/duration.js';

/** A key request: cfssl's `"key": {"algo": "rsa", "size": 2048}`. */
export interface KeyRequest {
  /** "rsa" or "ecdsa". */
  algo: 'rsa' | 'ecdsa';
  /** RSA: modulus bits, 2048..8192. ECDSA: curve size, 256 (P-256), 384 (P-384) or 521 (P-521). */
  size: number;
}

/** One subject entry of cfssl's `"names"` list; every field optional. */
export interface SubjectName {
  C?: string;
  ST?: string;
  L?: string;
  O?: string;
  OU?: string;
}

/** A parsed certificate request: who the certificate is for and what key it gets. */
export interface CertRequest {
  /** Subject common name. */
  CN: string;
  /** Subject alternative names: IP addresses become IP SANs, everything else a DNS name. */
  hosts: string[];
  key: KeyRequest;
  names: SubjectName[];
  /** Only for a CA: validity in milliseconds from `"ca": {"expiry": "87600h"}`, else undefined. */
  caExpiryMs?: number;
  /** Only for a CA: `"ca": {"pathlen": N}`; undefined leaves the path length unconstrained. */
  caPathLen?: number;
}

/** A signing profile: what a certificate may be used for, and for how long. */
export interface SigningProfile {
  /** cfssl usage names ("signing", "key encipherment", "server auth", "client auth", ...). */
  usages: string[];
  /** Validity in milliseconds. */
  expiryMs: number;
}

/** cfssl's default key when a request names none: ECDSA on P-256 (csr.NewKeyRequest). */
export const DEFAULT_KEY: KeyRequest = { algo: 'ecdsa', size: 256 };
/** cfssl's default validity of a signed certificate, 1 year (config.DefaultConfig: "8760h"). */
export const DEFAULT_EXPIRY_MS = 8760 * 3_600_000;
/** cfssl's default validity of a CA made by `-initca`, 5 years ("43800h"). */
export const DEFAULT_CA_EXPIRY_MS = 43800 * 3_600_000;

/**
 * The profiles `tsetcd certs` knows without a `-config` file. "default" is cfssl's default
 * profile; "server", "client" and "peer" are the three roles an etcd cluster needs (the shape of
 * etcd's own hack/tls-setup config): a peer certificate is both a server and a client.
 */
export const BUILTIN_PROFILES: Readonly<Record<string, readonly string[]>> = {
  default: ['signing', 'key encipherment', 'server auth', 'client auth'],
  server: ['signing', 'key encipherment', 'server auth'],
  client: ['signing', 'key encipherment', 'client auth'],
  peer: ['signing', 'key encipherment', 'server auth', 'client auth'],
};

/** cfssl's key-usage names (config.KeyUsage) and the X.509 KeyUsage bits they set. */
export const KEY_USAGE_BITS: Readonly<Record<string, number>> = {
  signing: 1 << 0, // digitalSignature
  'digital signature': 1 << 0,
  'content commitment': 1 << 1,
  'key encipherment': 1 << 2,
  'key agreement': 1 << 4,
  'data encipherment': 1 << 3,
  'cert sign': 1 << 5,
  'crl sign': 1 << 6,
  'encipher only': 1 << 7,
  'decipher only': 1 << 8,
};

/** cfssl's extended-key-usage names (config.ExtKeyUsage) and their OIDs. */
export const EXT_KEY_USAGE_OIDS: Readonly<Record<string, string>> = {
  any: '2.5.29.37.0',
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
  'code signing': '1.3.6.1.5.5.7.3.3',
  'email protection': '1.3.6.1.5.5.7.3.4',
  's/mime': '1.3.6.1.5.5.7.3.4',
  'ipsec end system': '1.3.6.1.5.5.7.3.5',
  'ipsec tunnel': '1.3.6.1.5.5.7.3.6',
  'ipsec user': '1.3.6.1.5.5.7.3.7',
  timestamping: '1.3.6.1.5.5.7.3.8',
  'ocsp signing': '1.3.6.1.5.5.7.3.9',
  'microsoft sgc': '1.3.6.1.4.1.311.10.3.3',
  'netscape sgc': '2.16.840.1.113730.4.1',
};

/** A problem in a request, a config or a flag; the CLI prints its message and exits 1. */
export class CertsError extends Error {}

/** Splits cfssl usage names into KeyUsage bits and EKU OIDs; an unknown name is an error. */
export function usageBits(usages: readonly string[]): { keyUsage: number; extKeyUsage: string[] } {
  let keyUsage = 0;
  const extKeyUsage: string[] = [];
  for (const u of usages) {
    const bit = KEY_USAGE_BITS[u];
    const oid = EXT_KEY_USAGE_OIDS[u];
    if (bit !== undefined) keyUsage |= bit;
    else if (oid !== undefined) {
      if (!extKeyUsage.includes(oid)) extKeyUsage.push(oid);
    } else throw new CertsError(`invalid usage "${u}"`);
  }
  return { keyUsage, extKeyUsage };
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new CertsError(`${what} must be a string`);
  return v;
}

function expiry(v: unknown, what: string): number {
  const s = str(v, what);
  const ms = parseDurationMs(s);
  if (ms === undefined || ms <= 0) throw new CertsError(`${what}: invalid duration "${s}"`);
  return ms;
}

/** Checks a key request as cfssl's csr.KeyRequest.Generate does. */
export function checkKey(key: KeyRequest): KeyRequest {
  if (key.algo === 'rsa') {
    if (key.size < 2048) throw new CertsError('RSA key is too weak');
    if (key.size > 8192) throw new CertsError('RSA key size too large');
    return key;
  }
  if (key.algo === 'ecdsa') {
    if (key.size !== 256 && key.size !== 384 && key.size !== 521) throw new CertsError('invalid curve');
    return key;
  }
  throw new CertsError(`invalid algorithm "${(key as { algo: string }).algo}"`);
}

/**
 * Reads a cfssl CSR JSON document (`{"CN": ..., "hosts": [...], "key": {...}, "names": [...],
 * "ca": {...}}`). Missing fields take cfssl's defaults; fields of the wrong type are errors.
 */
export function parseCsrJson(text: string): CertRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CertsError(`failed to parse request: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CertsError('failed to parse request: not a JSON object');
  }
  const o = doc as Record<string, unknown>;
  const req: CertRequest = {
    CN: o.CN === undefined ? '' : str(o.CN, 'CN'),
    hosts: [],
    key: DEFAULT_KEY,
    names: [],
  };
  if (o.hosts !== undefined) {
    if (!Array.isArray(o.hosts)) throw new CertsError('hosts must be a list');
    req.hosts = o.hosts.map((h, i) => str(h, `hosts[${i}]`));
  }
  if (o.key !== undefined) {
    const k = o.key as Record<string, unknown>;
    const algo = k.algo === undefined ? DEFAULT_KEY.algo : str(k.algo, 'key.algo');
    const size = k.size === undefined ? (algo === 'rsa' ? 2048 : 256) : Number(k.size);
    req.key = checkKey({ algo: algo as KeyRequest['algo'], size });
  }
  if (o.names !== undefined) {
    if (!Array.isArray(o.names)) throw new CertsError('names must be a list');
    req.names = o.names.map((n, i) => {
      const out: SubjectName = {};
      for (const f of ['C', 'ST', 'L', 'O', 'OU'] as const) {
        const v = (n as Record<string, unknown>)[f];
        if (v !== undefined) out[f] = str(v, `names[${i}].${f}`);
      }
      return out;
    });
  }
  if (o.ca !== undefined) {
    const ca = o.ca as Record<string, unknown>;
    if (ca.expiry !== undefined) req.caExpiryMs = expiry(ca.expiry, 'ca.expiry');
    if (ca.pathlen !== undefined) req.caPathLen = Number(ca.pathlen);
    if (ca.pathlenzero === true) req.caPathLen = 0;
  }
  return req;
}

/**
 * Reads cfssl's signing configuration (`{"signing": {"default": {...}, "profiles": {...}}}`) and
 * returns the named profile; without a name, the default one. A profile's missing expiry or usages
 * come from the config's default block, then from cfssl's defaults.
 */
export function profileFromConfig(text: string, name: string | undefined): SigningProfile {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new CertsError(`failed to parse config: ${(err as Error).message}`);
  }
  const signing = doc?.signing as Record<string, unknown> | undefined;
  if (typeof signing !== 'object' || signing === null) throw new CertsError('config: no "signing" section');
  const def = (signing.default ?? {}) as Record<string, unknown>;
  const profiles = (signing.profiles ?? {}) as Record<string, Record<string, unknown>>;
  let p: Record<string, unknown> = def;
  if (name !== undefined && name !== '') {
    const found = profiles[name];
    if (found === undefined) throw new CertsError(`unknown profile "${name}"`);
    p = found;
  }
  const usages = (p.usages ?? def.usages ?? BUILTIN_PROFILES.default) as unknown;
  if (!Array.isArray(usages)) throw new CertsError('config: usages must be a list');
  const exp = p.expiry ?? def.expiry;
  const profile = {
    usages: usages.map((u, i) => str(u, `usages[${i}]`)),
    expiryMs: exp === undefined ? DEFAULT_EXPIRY_MS : expiry(exp, 'expiry'),
  };
  usageBits(profile.usages);
  return profile;
}

/** A built-in profile by name ("server", "client", "peer", "default") with the given validity. */
export function builtinProfile(name: string, expiryMs: number): SigningProfile {
  const usages = BUILTIN_PROFILES[name];
  if (usages === undefined) {
    throw new CertsError(
      `unknown profile "${name}" (without -config: ${Object.keys(BUILTIN_PROFILES).join(', ')})`,
    );
  }
  return { usages: [...usages], expiryMs };
}

/** Parses `C=KR,ST=Seoul,L=Seoul,O=k8s,OU=bare-k8s` (the --names flag) into one subject entry. */
export function parseNamesFlag(s: string): SubjectName {
  const out: SubjectName = {};
  for (const part of s.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    if (eq <= 0 || !['C', 'ST', 'L', 'O', 'OU'].includes(k)) {
      throw new CertsError(`--names: "${part}" is not one of C=, ST=, L=, O=, OU=`);
    }
    out[k as keyof SubjectName] = part.slice(eq + 1).trim();
  }
  return out;
}
