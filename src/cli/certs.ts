/**
 * `tsetcd certs`: what seed 002 does with `cfssl gencert ... | cfssljson -bare NAME`, without cfssl.
 * Flags are Go-style like cfssl's (`-ca=ca.pem`, `--ca ca.pem`), so the seed's command lines carry
 * over with `tsetcd certs` in place of cfssl and `-bare NAME` in place of the cfssljson pipe.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  builtinProfile,
  type CertRequest,
  CertsError,
  DEFAULT_CA_EXPIRY_MS,
  DEFAULT_EXPIRY_MS,
  DEFAULT_KEY,
  initCa,
  loadCa,
  parseCsrJson,
  parseNamesFlag,
  profileFromConfig,
  signCert,
  writeBare,
} from '../certs/index.js';
import { parseDurationMs } from '../pkg/duration.js';

const VALUE_FLAGS = [
  'ca',
  'ca-key',
  'config',
  'profile',
  'bare',
  'out-dir',
  'cn',
  'hosts',
  'hostname',
  'names',
  'key-algo',
  'key-size',
  'expiry',
] as const;
const BOOL_FLAGS = ['initca', 'help'] as const;

type ValueFlag = (typeof VALUE_FLAGS)[number];

export const CERTS_HELP = `Usage:
  tsetcd certs init-ca [CSR_JSON] [flags]
  tsetcd certs gencert -initca CSR_JSON [flags]          (the same, spelled as cfssl)
  tsetcd certs gencert -ca=ca.pem -ca-key=ca-key.pem [-config=ca-config.json] [-profile=NAME] [CSR_JSON] [flags]

Makes a certificate authority, then server, peer and client certificates for etcd, as
"cfssl gencert ... | cfssljson -bare NAME" does. CSR_JSON and -config are cfssl's own files
(etcd-csr.json, ca-csr.json, ca-config.json); flags override what CSR_JSON says.

Writes, in -out-dir: NAME.pem (certificate), NAME-key.pem (private key, mode 0600), NAME.csr.

Flags:
  -ca FILE           CA certificate to sign with (gencert)
  -ca-key FILE       the CA's private key (gencert)
  -config FILE       cfssl signing config with profiles (ca-config.json)
  -profile NAME      profile of -config; without -config one of:
                       server  (signing, key encipherment, server auth)
                       client  (signing, key encipherment, client auth)
                       peer    (signing, key encipherment, server auth, client auth)
                       default (as peer; cfssl's default profile)
  -bare NAME         output file prefix (default: "ca" for a CA, else CSR_JSON's name without
                     "-csr.json", else the CN)
  -out-dir DIR       where to write (default: .)
  -cn NAME           subject common name
  -hosts LIST        comma-separated IP addresses and DNS names (subject alternative names)
  -hostname LIST     the same, cfssl's spelling
  -names LIST        subject, e.g. C=KR,ST=Seoul,L=Seoul,O=k8s,OU=bare-k8s
  -key-algo ALGO     rsa or ecdsa (default: ecdsa, as cfssl)
  -key-size N        rsa: 2048..8192 (default 2048); ecdsa: 256, 384 or 521 (default 256)
  -expiry DURATION   validity, e.g. 87600h (default: the profile's, else 8760h; a CA 43800h)
  -help              this text

Example (seed 002, no cfssl):
  tsetcd certs init-ca ca-csr.json
  tsetcd certs gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=kubernetes etcd-csr.json
  tsetcd certs gencert -ca=ca.pem -ca-key=ca-key.pem -profile=peer -cn=etcd \\
    -hosts=127.0.0.1,172.31.39.151,172.31.32.72 -key-algo=rsa -bare=etcd
`;

interface CertsArgs {
  command: string;
  values: Map<ValueFlag, string>;
  initca: boolean;
  help: boolean;
  positional: string[];
}

/** Parses Go-style flags (one or two dashes, `=value` or the next argument), anywhere on the line. */
export function parseCertsArgs(argv: readonly string[]): CertsArgs {
  const out: CertsArgs = { command: '', values: new Map(), initca: false, help: false, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('-') || a === '-') {
      if (out.command === '') out.command = a;
      else out.positional.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if ((BOOL_FLAGS as readonly string[]).includes(name) || name === 'h') {
      const v = eq < 0 ? 'true' : body.slice(eq + 1);
      if (name === 'initca') out.initca = v === 'true';
      else out.help = v === 'true';
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) {
      throw new CertsError(`flag provided but not defined: -${name}`);
    }
    let v: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined) throw new CertsError(`flag needs an argument: -${name}`);
    }
    out.values.set(name as ValueFlag, v);
  }
  return out;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CertsError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

function requestFrom(args: CertsArgs): { req: CertRequest; csrFile?: string } {
  const csrFile = args.positional[0];
  if (args.positional.length > 1) throw new CertsError(`unexpected argument "${args.positional[1]}"`);
  const req: CertRequest = csrFile
    ? parseCsrJson(readText(csrFile, 'CSR JSON'))
    : { CN: '', hosts: [], key: DEFAULT_KEY, names: [] };
  const v = args.values;
  if (v.has('cn')) req.CN = v.get('cn') ?? '';
  const hosts = v.get('hosts') ?? v.get('hostname');
  if (hosts !== undefined) req.hosts = hosts.split(',').filter((h) => h.trim() !== '');
  if (v.has('names')) req.names = [parseNamesFlag(v.get('names') ?? '')];
  if (v.has('key-algo') || v.has('key-size')) {
    const algo = (v.get('key-algo') ?? req.key.algo) as CertRequest['key']['algo'];
    const sizeText = v.get('key-size');
    const size =
      sizeText !== undefined
        ? Number(sizeText)
        : algo === req.key.algo
          ? req.key.size
          : algo === 'rsa'
            ? 2048
            : 256;
    if (!Number.isInteger(size)) throw new CertsError(`-key-size: not a number: ${sizeText}`);
    req.key = { algo, size };
  }
  if (req.CN === '' && !csrFile)
    throw new CertsError('no CSR_JSON and no -cn: nothing to make a certificate for');
  return { req, csrFile };
}

function expiryFlag(args: CertsArgs): number | undefined {
  const s = args.values.get('expiry');
  if (s === undefined) return undefined;
  const ms = parseDurationMs(s);
  if (ms === undefined || ms <= 0) throw new CertsError(`-expiry: invalid duration "${s}"`);
  return ms;
}

function bareName(args: CertsArgs, csrFile: string | undefined, req: CertRequest, isCa: boolean): string {
  const given = args.values.get('bare');
  if (given !== undefined && given !== '') return given;
  if (isCa) return 'ca';
  if (csrFile) return basename(csrFile).replace(/(-csr)?\.json$/, '');
  return req.CN.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Runs `tsetcd certs ...`; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function runCertsCommand(argv: readonly string[]): Promise<number> {
  let args: CertsArgs;
  try {
    args = parseCertsArgs(argv);
  } catch (err) {
    process.stderr.write(`tsetcd certs: ${(err as Error).message}\n${CERTS_HELP}`);
    return 2;
  }
  if (args.help || args.command === '' || args.command === 'help') {
    process.stdout.write(CERTS_HELP);
    return args.help || args.command === 'help' ? 0 : 2;
  }
  try {
    const outDir = args.values.get('out-dir') ?? '.';
    if (args.command === 'init-ca' || (args.command === 'gencert' && args.initca)) {
      const { req, csrFile } = requestFrom(args);
      const expiry = expiryFlag(args);
      if (expiry !== undefined) req.caExpiryMs = expiry;
      const issued = await initCa(req, DEFAULT_CA_EXPIRY_MS);
      const p = writeBare(outDir, bareName(args, csrFile, req, true), issued);
      process.stdout.write(`wrote ${p.cert} ${p.key} ${p.csr}\n`);
      return 0;
    }
    if (args.command === 'gencert') {
      const caPath = args.values.get('ca');
      const caKeyPath = args.values.get('ca-key');
      if (!caPath || !caKeyPath) throw new CertsError('gencert needs -ca and -ca-key (or -initca)');
      const ca = await loadCa(readText(caPath, 'CA certificate'), readText(caKeyPath, 'CA key'));
      const { req, csrFile } = requestFrom(args);
      const configPath = args.values.get('config');
      const profileName = args.values.get('profile');
      const profile = configPath
        ? profileFromConfig(readText(configPath, 'config'), profileName)
        : builtinProfile(profileName ?? 'default', DEFAULT_EXPIRY_MS);
      const expiry = expiryFlag(args);
      if (expiry !== undefined) profile.expiryMs = expiry;
      const issued = await signCert(ca, req, profile);
      const p = writeBare(outDir, bareName(args, csrFile, req, false), issued);
      process.stdout.write(`wrote ${p.cert} ${p.key} ${p.csr}\n`);
      return 0;
    }
    throw new CertsError(`unknown command "${args.command}" (init-ca, gencert)`);
  } catch (err) {
    if (err instanceof CertsError) {
      process.stderr.write(`tsetcd certs: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
