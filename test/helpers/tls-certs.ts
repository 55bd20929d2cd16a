/**
 * Test certificates made with the openssl CLI (Debian's OpenSSL 3), in the roles etcd's own
 * integration/fixtures cover: a CA, server/peer/client certificates with SANs, a second CA nobody
 * trusts, expired and not-yet-valid certificates, a revoked certificate and its CA's CRL.
 *
 * Every certificate is issued through `openssl ca` (it takes explicit start and end dates, which
 * `openssl x509 -req` in OpenSSL 3.0 does not) from a throw-away CA directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files of one issued certificate. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A certificate authority on disk that can issue certificates and CRLs. */
export interface TestCa {
  /** The CA certificate (PEM). */
  cert: string;
  key: string;
  /**
   * Issues a certificate. `hosts`: IPs and DNS names put in subjectAltName; `usage`: extended key
   * usages (server, client or both); `days` from `notBefore` (a Date, default now - 1 h).
   */
  issue(name: string, opts?: IssueOptions): CertFiles;
  /** Revokes a certificate issued by this CA. */
  revoke(files: CertFiles): void;
  /** Writes this CA's current CRL (PEM) and returns its path. */
  crl(): string;
}

export interface IssueOptions {
  cn?: string;
  hosts?: string[];
  usage?: 'server' | 'client' | 'both';
  notBefore?: Date;
  notAfter?: Date;
  /** 'rsa' (2048) or 'ec' (P-256, the default: fast to make). */
  keyType?: 'rsa' | 'ec';
}

function run(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** openssl ca's date format: YYYYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function genKey(path: string, type: 'rsa' | 'ec', cwd: string): void {
  if (type === 'rsa')
    run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path], cwd);
  else run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], cwd);
}

const HOUR_MS = 3600_000;

/** Makes a CA in `dir/<name>/` (self-signed, valid from an hour ago for ten years). */
export function makeCa(dir: string, name = 'ca'): TestCa {
  const root = join(dir, name);
  mkdirSync(join(root, 'issued'), { recursive: true });
  writeFileSync(join(root, 'index.txt'), '');
  writeFileSync(join(root, 'serial'), `${Date.now().toString(16).padStart(16, '0')}\n`);
  writeFileSync(join(root, 'crlnumber'), '01\n');
  const conf = join(root, 'openssl.cnf');
  writeFileSync(
    conf,
    [
      '[ca]',
      'default_ca = testca',
      '[testca]',
      `dir = ${root}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'crlnumber = $dir/crlnumber',
      'new_certs_dir = $dir/issued',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca-key.pem',
      'default_md = sha256',
      'default_crl_days = 30',
      'policy = anything',
      'unique_subject = no',
      'copy_extensions = none',
      '[anything]',
      'commonName = supplied',
      'organizationName = optional',
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      `CN = ${name}`,
      '[v3_ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  const caKey = join(root, 'ca-key.pem');
  const caCert = join(root, 'ca.pem');
  genKey(caKey, 'ec', root);
  run(
    [
      'req',
      '-new',
      '-x509',
      '-config',
      conf,
      '-extensions',
      'v3_ca',
      '-key',
      caKey,
      '-out',
      caCert,
      '-days',
      '3650',
    ],
    root,
  );
  let n = 0;
  return {
    cert: caCert,
    key: caKey,
    issue(certName: string, opts: IssueOptions = {}): CertFiles {
      n++;
      const key = join(root, `${certName}-key.pem`);
      const cert = join(root, `${certName}.pem`);
      const csr = join(root, `${certName}.csr`);
      const ext = join(root, `${certName}.ext`);
      genKey(key, opts.keyType ?? 'ec', root);
      run(
        ['req', '-new', '-key', key, '-subj', `/CN=${opts.cn ?? certName}/O=tsetcd-test`, '-out', csr],
        root,
      );
      const usage = opts.usage ?? 'both';
      const eku =
        usage === 'server' ? 'serverAuth' : usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
      const hosts = opts.hosts ?? ['127.0.0.1', 'localhost'];
      const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
      writeFileSync(
        ext,
        [
          '[ext]',
          'basicConstraints = CA:FALSE',
          'keyUsage = critical,digitalSignature,keyEncipherment',
          `extendedKeyUsage = ${eku}`,
          ...(san ? [`subjectAltName = ${san}`] : []),
          '',
        ].join('\n'),
      );
      const notBefore = opts.notBefore ?? new Date(Date.now() - HOUR_MS);
      const notAfter = opts.notAfter ?? new Date(Date.now() + 365 * 24 * HOUR_MS);
      run(
        [
          'ca',
          '-batch',
          '-config',
          conf,
          '-extfile',
          ext,
          '-extensions',
          'ext',
          '-in',
          csr,
          '-out',
          cert,
          '-startdate',
          asn1Time(notBefore),
          '-enddate',
          asn1Time(notAfter),
          '-notext',
        ],
        root,
      );
      void n;
      return { cert, key };
    },
    revoke(files: CertFiles): void {
      run(['ca', '-batch', '-config', conf, '-revoke', files.cert], root);
    },
    crl(): string {
      const out = join(root, 'crl.pem');
      run(['ca', '-batch', '-config', conf, '-gencrl', '-out', out], root);
      return out;
    },
  };
}
