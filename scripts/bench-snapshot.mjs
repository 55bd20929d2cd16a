// Snapshots in etcd's format, tsetcd next to etcd 3.4 (indicative, one run each): loads N keys
// (default 100k, 100-byte values, 100 puts per txn) into a single etcd member and a single tsetcd
// member, then times `etcdctl snapshot save` against each, and restores etcd's snapshot with
// `etcdctl snapshot restore` and with `tsetcd snapshot restore` (wall time and peak RSS from
// /usr/bin/time). Usage: node scripts/bench-snapshot.mjs [--keys N] (run `npm run build` first;
// needs etcd and etcdctl 3.4 on the PATH).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { connect, freePort, b } = await import(join(root, 'dist/test/helpers/index.js'));
const keysArg = process.argv.indexOf('--keys');
const keys = keysArg >= 0 ? Number(process.argv[keysArg + 1]) : 100_000;
const dir = mkdtempSync(join(tmpdir(), 'tsetcd-bench-snapshot-'));
const children = [];

async function start(kind) {
  const client = `127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const flags = ['--name', 'm', '--data-dir', join(dir, kind), '--listen-client-urls', `http://${client}`];
  flags.push('--advertise-client-urls', `http://${client}`, '--listen-peer-urls', peer);
  flags.push(
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `m=${peer}`,
    '--quota-backend-bytes',
    `${8 << 30}`,
  );
  const child =
    kind === 'etcd'
      ? spawn('etcd', flags, { stdio: 'ignore' })
      : spawn(process.execPath, [join(root, 'bin/tsetcd.js'), ...flags], { stdio: 'ignore' });
  children.push(child);
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`http://${client}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.ok && (await r.json()).health === 'true') break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${kind} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return client;
}

async function load(client) {
  const c = connect(client);
  const value = Buffer.alloc(100, 120);
  const perTxn = 100;
  let next = 0;
  const worker = async () => {
    while (next < keys) {
      const from = next;
      next += perTxn;
      const success = [];
      for (let i = from; i < Math.min(from + perTxn, keys); i++) {
        success.push({ requestPut: { key: b(`key/${String(i).padStart(8, '0')}`), value } });
      }
      await c.kv.txn({ compare: [], success, failure: [] });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  c.close();
}

function timed(cmd, args) {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const ms = Math.round(performance.now() - started);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.slice(-2000)}`);
  const rssKb = Number(r.stderr.trim().split('\n').at(-1));
  return { ms, rssMb: Math.round(rssKb / 1024) };
}

try {
  const rows = [];
  const files = {};
  for (const kind of ['etcd', 'tsetcd']) {
    const client = await start(kind);
    const t0 = performance.now();
    await load(client);
    const loadMs = Math.round(performance.now() - t0);
    files[kind] = join(dir, `${kind}.db`);
    const save = timed('etcdctl', ['--endpoints', client, 'snapshot', 'save', files[kind]]);
    rows.push(
      `| snapshot save of ${keys} keys from ${kind} | ${save.ms} ms | ${(statSync(files[kind]).size / 1e6).toFixed(1)} MB (load took ${loadMs} ms) |`,
    );
  }
  const peer = 'http://127.0.0.1:1';
  const restoreFlags = (d) => [
    '--name',
    'r',
    '--data-dir',
    d,
    '--initial-cluster',
    `r=${peer}`,
    '--initial-advertise-peer-urls',
    peer,
  ];
  const er = timed('etcdctl', ['snapshot', 'restore', files.etcd, ...restoreFlags(join(dir, 'r-etcd'))]);
  rows.push(`| etcdctl snapshot restore (etcd's file) | ${er.ms} ms | peak RSS ${er.rssMb} MB |`);
  const tr = timed(process.execPath, [
    join(root, 'bin/tsetcd.js'),
    'snapshot',
    'restore',
    files.etcd,
    ...restoreFlags(join(dir, 'r-tsetcd')),
  ]);
  rows.push(`| tsetcd snapshot restore (etcd's file) | ${tr.ms} ms | peak RSS ${tr.rssMb} MB |`);
  console.log('| what | time | notes |\n|---|---|---|');
  console.log(rows.join('\n'));
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
