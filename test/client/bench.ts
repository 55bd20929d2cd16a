/**
 * Indicative benchmark (not a test): put and range at 1, 100 and 1000 concurrent requests through
 * tsetcd/client (round_robin and pick_first on its default lean node:http2 unary transport, and
 * round_robin on grpc-js channels, `transport: 'grpc-js'`), the etcd3 npm client and Go's clientv3
 * (bench/go/etcdload, when Go and etcd's sources are installed) against the same 3-member tsetcd
 * cluster in the same run; requests per second, p50/p99 latency, and the client's CPU per request
 * (user+system: this process's for the Node clients, the Go generator's own for clientv3; the
 * members are other processes). On a shared 2-core machine the client's CPU competes with the three
 * members, so CPU per request is the figure to compare; throughput is only meaningful idle.
 * `npm run bench:client [-- seconds [concurrency,...]]`, e.g. `-- 3 1,100,1000` (the default).
 */
import { Etcd3 } from 'etcd3';
import { goGenAvailable, runGoGen } from '../../bench/go-gen.js';
import { Client } from '../../src/client/index.js';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { startCluster } from './cluster.js';

helpFromHeader(import.meta.url);

const SECONDS = Number(process.argv[2] ?? 3);
const CONCURRENCY = (process.argv[3] ?? '1,100,1000').split(',').map(Number);

interface Result {
  client: string;
  op: string;
  conc: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
}

async function measure(name: string, op: string, conc: number, fn: () => Promise<unknown>): Promise<Result> {
  // warm-up
  await Promise.all(Array.from({ length: Math.min(conc, 10) }, () => fn()));
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await fn();
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return {
    client: name,
    op,
    conc,
    rps: lat.length / secs,
    p50: q(0.5),
    p99: q(0.99),
    cpuUsPerReq: (cpu.user + cpu.system) / lat.length,
  };
}

/**
 * Go's clientv3 with `conc` requests in flight for SECONDS: one connection per member (clientv3
 * 3.4 keeps one connection per client; the generator's conn i dials member i), like round_robin.
 */
async function measureGo(op: 'put' | 'range', conc: number, eps: string[]): Promise<Result> {
  const r = await runGoGen({
    endpoints: eps,
    op,
    clients: conc,
    conns: Math.min(conc, eps.length),
    durationSec: SECONDS,
    warmup: Math.min(conc, 10),
    keySize: 8,
    valSize: 256,
    keySpaceSize: 1000,
    rangeKey: 'bench/r',
  });
  if (r.errors > 0) throw new Error(`Go clientv3 ${op}: ${JSON.stringify(r.errorCounts)}`);
  return {
    client: 'Go clientv3',
    op,
    conc,
    rps: r.rps,
    p50: r.p50Ms,
    p99: r.p99Ms,
    cpuUsPerReq: r.clientCpuUsPerReq,
  };
}

async function main(): Promise<void> {
  const withGo = goGenAvailable();
  if (!withGo) console.error('Go or golang-etcd-server-dev missing: Go clientv3 rows left out');
  const cluster = await startCluster(3);
  const eps = cluster.endpoints();
  const ours = new Client({ endpoints: eps });
  // etcd3 sends every call to one host until it fails; pick_first is the like-for-like comparison
  const pinned = new Client({ endpoints: eps, lbPolicy: 'pick_first' });
  // The same client with every unary call through grpc-js (the transport before the lean one)
  const viaGrpc = new Client({ endpoints: eps, transport: 'grpc-js' });
  const theirs = new Etcd3({ hosts: eps.map((e) => `http://${e}`) });
  const value = 'x'.repeat(256);
  const results: Result[] = [];
  try {
    await ours.kv.put('bench/r', value);
    let i = 0;
    for (const conc of CONCURRENCY) {
      results.push(
        await measure('tsetcd/client', 'put', conc, () => ours.kv.put(`bench/${i++ % 1000}`, value)),
      );
      results.push(
        await measure('  pick_first', 'put', conc, () => pinned.kv.put(`bench/${i++ % 1000}`, value)),
      );
      results.push(
        await measure('  via grpc-js', 'put', conc, () => viaGrpc.kv.put(`bench/${i++ % 1000}`, value)),
      );
      results.push(
        await measure('etcd3', 'put', conc, () =>
          theirs
            .put(`bench/${i++ % 1000}`)
            .value(value)
            .exec(),
        ),
      );
      if (withGo) results.push(await measureGo('put', conc, eps));
      results.push(await measure('tsetcd/client', 'range', conc, () => ours.kv.get('bench/r')));
      results.push(await measure('  pick_first', 'range', conc, () => pinned.kv.get('bench/r')));
      results.push(await measure('  via grpc-js', 'range', conc, () => viaGrpc.kv.get('bench/r')));
      results.push(await measure('etcd3', 'range', conc, () => theirs.get('bench/r').exec()));
      if (withGo) results.push(await measureGo('range', conc, eps));
    }
  } finally {
    ours.close();
    pinned.close();
    viaGrpc.close();
    theirs.close();
    await cluster.close();
  }
  console.log(`${SECONDS}s per row, 3-member tsetcd cluster on this machine, 256-byte values`);
  console.log('client         op     conc      req/s   p50 ms   p99 ms   client CPU µs/req');
  for (const r of results) {
    console.log(
      `${r.client.padEnd(14)} ${r.op.padEnd(6)} ${String(r.conc).padStart(4)} ${r.rps.toFixed(0).padStart(10)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.cpuUsPerReq.toFixed(0).padStart(12)}`,
    );
  }
}

await main();
