// The JSON gateway under load, tsetcd next to etcd 3.4 in the same run: one single-member server of
// each (fresh data dirs, free ports), then for put and range (linearizable) 100 concurrent HTTP/1.1
// clients on keep-alive connections (one http.Agent, 100 sockets) POSTing /v3/kv/put or
// /v3/kv/range for a fixed time after a warm-up, servers measured one after the other (etcd first,
// then tsetcd; the order flips per operation). Reports per server: requests, errors, throughput,
// latency p50/p99, and the server's CPU time per request (utime+stime from /proc/<pid>/stat over
// the measured interval) — the number that means something on a loaded machine.
// Usage: node scripts/bench-gateway.mjs [--quick] [--seconds N] [--clients N] [-w json]
// (`npm run bench:gateway`; needs etcd on PATH). Indicative only on a shared machine.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const { cpuMs } = await import(join(root, 'dist/test/helpers/index.js'));
const argv = process.argv.slice(2);
const { argOf, launchTimed } = await import('./bench-lib.mjs');
const { planSingle } = await import(join(root, 'dist/test/helpers/cluster.js'));
const { quantile } = await import(join(root, 'dist/src/cli/lab/lb.js'));
const arg = (name, dflt) => Number(argOf(argv, name, dflt));
const quick = argv.includes('--quick');
const seconds = arg('--seconds', quick ? 4 : 10);
const clients = arg('--clients', 100);
const warmupMs = quick ? 500 : 1500;
const json = argv.includes('json');
const dir = mkdtempSync(join(tmpdir(), 'tsetcd-bench-gateway-'));
const VALUE = Buffer.alloc(128, 0x76).toString('base64');
/** A single member of `kind` (named `kind`, etcd's default cluster token) on fresh ports, healthy. */
async function startServer(kind) {
  const p = await planSingle(kind, kind, join(dir, kind), { token: 'etcd-cluster' });
  await launchTimed(p, 30_000);
  return { kind, child: p.child, port: Number(p.client.slice(p.client.lastIndexOf(':') + 1)) };
}

/** One POST on a keep-alive agent; resolves with the HTTP status (0 on a transport error). */
function post(agent, port, path, body) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** `clients` loops sending `op` for warm-up + `seconds`; measures only after the warm-up. */
async function load(server, op) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const path = op === 'put' ? '/v3/kv/put' : '/v3/kv/range';
  let measuring = false;
  let stop = false;
  let ok = 0;
  let errors = 0;
  const lat = [];
  let n = 0;
  const loop = async (c) => {
    while (!stop) {
      const key = Buffer.from(`bench/${c}/${op === 'put' ? n++ % 1000 : 0}`).toString('base64');
      const body = op === 'put' ? `{"key":"${key}","value":"${VALUE}"}` : `{"key":"${key}"}`;
      const t0 = performance.now();
      const status = await post(agent, server.port, path, body);
      if (!measuring) continue;
      if (status === 200) {
        ok++;
        lat.push(performance.now() - t0);
      } else errors++;
    }
  };
  // range reads keys the puts wrote; seed them so every range finds one.
  if (op === 'range')
    for (let c = 0; c < clients; c++)
      await post(
        agent,
        server.port,
        '/v3/kv/put',
        `{"key":"${Buffer.from(`bench/${c}/0`).toString('base64')}","value":"${VALUE}"}`,
      );
  const loops = Array.from({ length: clients }, (_, c) => loop(c));
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  const cpu0 = cpuMs(server.child.pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu1 = cpuMs(server.child.pid);
  const client1 = process.cpuUsage(client0);
  const elapsed = (performance.now() - t0) / 1000;
  measuring = false;
  stop = true;
  await Promise.all(loops);
  agent.destroy();
  lat.sort((a, b) => a - b);
  return {
    server: server.kind,
    op,
    clients,
    requests: ok,
    errors,
    perSecond: Math.round(ok / elapsed),
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    serverCpuMsPerRequest: ok > 0 ? (cpu1 - cpu0) / ok : null,
    clientCpuMsPerRequest: ok > 0 ? (client1.user + client1.system) / 1000 / ok : null,
  };
}

const servers = [];
const rows = [];
try {
  for (const kind of ['etcd', 'tsetcd']) servers.push(await startServer(kind));
  for (const [i, op] of ['put', 'range'].entries()) {
    const order = i % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const r = await load(s, op);
      rows.push(r);
      if (!json)
        process.stderr.write(
          `${r.server} ${r.op}: ${r.perSecond}/s, ${r.errors} errors, p99 ${r.p99Ms?.toFixed(1)} ms, server CPU ${r.serverCpuMsPerRequest?.toFixed(3)} ms/req\n`,
        );
    }
  }
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
  await Promise.all(
    servers.map((s) => (s.child.exitCode !== null ? null : new Promise((r) => s.child.once('exit', r)))),
  );
  rmSync(dir, { recursive: true, force: true });
}
if (json) process.stdout.write(`${JSON.stringify({ seconds, clients, rows }, null, 2)}\n`);
else {
  const f = (v, d = 1) => (v === null ? '-' : v.toFixed(d));
  const lines = [
    `JSON gateway, ${clients} HTTP/1.1 keep-alive clients, ${seconds} s per row (indicative: shared machine)`,
    '',
    '| op | server | req/s | errors | p50 ms | p99 ms | server CPU ms/req | tsetcd/etcd CPU per req |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const op of ['put', 'range']) {
    const e = rows.find((r) => r.server === 'etcd' && r.op === op);
    for (const r of rows.filter((x) => x.op === op)) {
      const ratio =
        r.server === 'tsetcd' && e?.serverCpuMsPerRequest
          ? f(r.serverCpuMsPerRequest / e.serverCpuMsPerRequest, 2)
          : '';
      lines.push(
        `| ${op} | ${r.server} | ${r.perSecond} | ${r.errors} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.serverCpuMsPerRequest, 3)} | ${ratio} |`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
