// TLS cost, tsetcd next to etcd 3.4 in the same run: one member of each, each serving an https://
// and an http:// client URL (same process, so TLS and plaintext are measured on the same server).
// Runs `tsetcd bench --compare` for put and serializable range at 1 and 100 clients, over TLS and
// over plaintext, then counts new TLS connections per second (full handshake with a client
// certificate, then close) for each server. Prints a markdown table: throughput per server, the
// tsetcd/etcd ratio, and each server's TLS/plaintext ratio (the share of throughput TLS costs it).
// Usage: node scripts/bench-tls.mjs [--quick] (run `npm run build` first; needs etcd, openssl).
// Indicative only on a shared machine.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const { freePort } = await import(join(root, 'dist/test/helpers/util.js'));
const quick = process.argv.includes('--quick');
const dir = mkdtempSync(join(tmpdir(), 'tsetcd-bench-tls-'));

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA and one certificate for server and client use (ECDSA P-256, SAN 127.0.0.1). */
function makeCerts() {
  writeFileSync(
    join(dir, 'ext.cnf'),
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca-key.pem');
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    'ca-key.pem',
    '-subj',
    '/CN=bench-ca',
    '-days',
    '2',
    '-out',
    'ca.pem',
  );
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'key.pem');
  openssl('req', '-new', '-key', 'key.pem', '-subj', '/CN=bench', '-out', 'csr.pem');
  openssl(
    'x509',
    '-req',
    '-in',
    'csr.pem',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'cert.pem',
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

async function start(kind, certs) {
  const [tlsPort, plainPort, peerPort] = [await freePort(), await freePort(), await freePort()];
  const data = join(dir, kind);
  mkdirSync(data, { recursive: true });
  const peer = `http://127.0.0.1:${peerPort}`;
  const flags = [
    ...['--name', kind, '--data-dir', join(data, 'd')],
    ...['--listen-client-urls', `https://127.0.0.1:${tlsPort},http://127.0.0.1:${plainPort}`],
    ...['--advertise-client-urls', `https://127.0.0.1:${tlsPort}`],
    ...[
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${kind}=${peer}`,
    ],
    ...[
      '--cert-file',
      certs.cert,
      '--key-file',
      certs.key,
      '--trusted-ca-file',
      certs.ca,
      '--client-cert-auth',
    ],
    ...['--log-level', 'error'],
  ];
  const child =
    kind === 'etcd'
      ? spawn('etcd', flags, { stdio: 'ignore' })
      : spawn(process.execPath, [join(root, 'bin/tsetcd.js'), ...flags], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${plainPort}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${kind} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, tls: `127.0.0.1:${tlsPort}`, plain: `127.0.0.1:${plainPort}` };
}

function bench(args) {
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/tsetcd.js'), 'bench', ...args, '-w', 'json', '--progress', 'off'],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`bench ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Requests per second of each target in a --compare run's JSON. */
function rps(json) {
  const out = {};
  for (const t of json.results) out[t.target] = t.throughput;
  return out;
}

/** New TLS connections per second: `conc` loops of connect + handshake + close for `ms`. */
async function handshakes(endpoint, certs, conc, ms) {
  const [host, port] = endpoint.split(':');
  const ca = readFileSync(certs.ca);
  const cert = readFileSync(certs.cert);
  const key = readFileSync(certs.key);
  let n = 0;
  const end = Date.now() + ms;
  const loop = async () => {
    while (Date.now() < end) {
      await new Promise((resolve, reject) => {
        const s = tls.connect({
          host,
          port: Number(port),
          ca,
          cert,
          key,
          ALPNProtocols: ['h2'],
          session: undefined,
        });
        s.once('secureConnect', () => {
          n++;
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: conc }, loop));
  return n / (ms / 1000);
}

const certs = makeCerts();
const servers = {};
try {
  servers.etcd = await start('etcd', certs);
  servers.tsetcd = await start('tsetcd', certs);
  const rows = [];
  const cases = [
    ['put', 1, quick ? 200 : 2000],
    ['put', 100, quick ? 2000 : 20000],
    ['range', 1, quick ? 200 : 2000],
    ['range', 100, quick ? 2000 : 20000],
  ];
  bench([
    'put',
    '--compare',
    `etcd=${servers.etcd.plain},tsetcd=${servers.tsetcd.plain}`,
    '--total',
    '200',
    '--key-space-size',
    '1',
  ]);
  for (const [cmd, clients, total] of cases) {
    const common = [cmd, ...(cmd === 'range' ? ['bench-key'] : [])];
    common.push(
      '--clients',
      String(clients),
      '--conns',
      String(Math.min(clients, 10)),
      '--total',
      String(total),
    );
    if (cmd === 'range') common.push('--consistency', 's');
    if (cmd === 'put') common.push('--key-space-size', '1000');
    const plain = bench([
      ...common,
      '--compare',
      `etcd=${servers.etcd.plain},tsetcd=${servers.tsetcd.plain}`,
    ]);
    const secure = bench([
      ...common,
      '--compare',
      `etcd=${servers.etcd.tls},tsetcd=${servers.tsetcd.tls}`,
      ...['--cacert', certs.ca, '--cert', certs.cert, '--key', certs.key],
    ]);
    rows.push({
      name: `${cmd} ${clients} client${clients > 1 ? 's' : ''}`,
      plain: rps(plain),
      tls: rps(secure),
    });
  }
  const hs = {};
  for (const k of ['etcd', 'tsetcd']) hs[k] = await handshakes(servers[k].tls, certs, 8, quick ? 2000 : 4000);

  const f = (x) => (x === undefined ? '?' : Math.round(x).toLocaleString('en-US'));
  const r = (a, b) => (a && b ? (a / b).toFixed(2) : '?');
  console.log(
    '| case | etcd plain | etcd TLS | etcd TLS/plain | tsetcd plain | tsetcd TLS | tsetcd TLS/plain | tsetcd/etcd TLS |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${f(row.plain.etcd)} | ${f(row.tls.etcd)} | ${r(row.tls.etcd, row.plain.etcd)} | ${f(row.plain.tsetcd)} | ${f(row.tls.tsetcd)} | ${r(row.tls.tsetcd, row.plain.tsetcd)} | ${r(row.tls.tsetcd, row.tls.etcd)} |`,
    );
  }
  console.log(
    `| new TLS connections/s (8 concurrent) | | ${f(hs.etcd)} | | | ${f(hs.tsetcd)} | | ${r(hs.tsetcd, hs.etcd)} |`,
  );
} finally {
  for (const s of Object.values(servers)) s.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
