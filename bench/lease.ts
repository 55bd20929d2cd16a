/**
 * Lease keep-alive benchmark (not a test): grant `--leases` leases on one member, then keep them all
 * alive over `--streams` LeaseKeepAlive streams for `--seconds`; reports keep-alives per second,
 * keep-alive latency (request written → its response) p50 / p99 / max, the server's peak RSS and
 * CPU — for tsetcd and for etcd 3.4 started the same way on the same machine by the same generator,
 * and the ratios tsetcd / etcd.
 *
 * Stream s keeps alive the leases i with i mod streams = s, cycling through them, with `--depth`
 * keep-alives in flight (a server answers a stream's keep-alives in order, so each response is
 * matched to the oldest request). Every response must carry its lease's ID and granted TTL; a
 * TTL of 0 (lease gone) or a mismatch counts as an error. Requests are encoded once per lease.
 *
 * With `--rounds N` the two servers take turns N times, the order reversed every other round (a
 * fresh server each time), and the medians are compared: other load on the machine falls on both.
 *
 * Usage: node dist/bench/lease.js [--leases 10000] [--streams 100] [--conns 10]
 *        [--depth 10] [--seconds 10] [--ttl 120] [--rounds 1] [--target both|tsetcd|etcd]
 */
import { Client, type ClientDuplexStream, credentials } from '@grpc/grpc-js';
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseService,
} from '../src/proto/etcdserverpb/rpc.js';
import type { BenchServer, ServerKind } from './support.js';
import { cpuSeconds, parseArgsOrExit, percentile, ratio, rssMb, startServer, watchPeakRss } from './support.js';
import { helpFromHeader } from '../src/pkg/script-help.js';

helpFromHeader(import.meta.url);

/** Grants in flight while setting up. */
const GRANTS_IN_FLIGHT = 64;
/** Latency samples kept (the first ones; enough for p99 at any rate this machine reaches). */
const SAMPLES_MAX = 2_000_000;

interface Options {
  leases: number;
  streams: number;
  conns: number;
  depth: number;
  seconds: number;
  ttl: number;
  rounds: number;
  target: 'both' | ServerKind;
}

interface Result {
  kind: ServerKind;
  keepAlives: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rssMaxMb: number;
  rssAfterGrantMb: number;
  cpuSeconds: number;
  grantSeconds: number;
  /** The generator's event-loop utilization while measuring: near 1 means it, not the server, limited. */
  benchElu: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    leases: 10_000,
    streams: 100,
    conns: 10,
    depth: 10,
    seconds: 10,
    ttl: 120,
    rounds: 1,
    target: 'both',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]?.replace(/^--/, '') ?? '';
    const v = argv[i + 1] ?? '';
    if (k === 'target') {
      if (v !== 'both' && v !== 'tsetcd' && v !== 'etcd') throw new Error('--target both|tsetcd|etcd');
      o.target = v;
    } else if (k in o) {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k} needs a positive integer`);
      (o as unknown as Record<string, number>)[k] = n;
    } else {
      throw new Error(`unknown flag --${k}`);
    }
  }
  if (o.streams > o.leases) throw new Error('--streams must not exceed --leases');
  return o;
}

const identity = (b: Buffer) => b;

function grantAll(client: Client, o: Options): Promise<bigint[]> {
  const ids: bigint[] = [];
  let next = 0;
  let failed: Error | undefined;
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    const pump = () => {
      if (failed) return;
      while (inFlight < GRANTS_IN_FLIGHT && next < o.leases) {
        next++;
        inFlight++;
        client.makeUnaryRequest(
          LeaseService.leaseGrant.path,
          identity,
          identity,
          Buffer.from(LeaseGrantRequest.encode({ TTL: BigInt(o.ttl), ID: 0n }).finish()),
          (err, res) => {
            inFlight--;
            if (err || !res) {
              failed = err ?? new Error('empty grant response');
              reject(failed);
              return;
            }
            ids.push(LeaseGrantResponse.decode(res).ID);
            if (ids.length === o.leases) resolve(ids);
            else pump();
          },
        );
      }
    };
    pump();
  });
}

async function runOne(kind: ServerKind, o: Options): Promise<Result> {
  const server: BenchServer = await startServer(kind);
  const pid = server.pid ?? 0;
  // One TCP connection per client (a local subchannel pool each).
  const clients = Array.from(
    { length: o.conns },
    () =>
      new Client(server.endpoint, credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
  const streams: ClientDuplexStream<Buffer, Buffer>[] = [];
  try {
    const grantStart = performance.now();
    const ids = await grantAll(clients[0]!, o);
    const grantSeconds = (performance.now() - grantStart) / 1000;
    const rssAfterGrantMb = rssMb(pid);

    const latencies = new Float64Array(SAMPLES_MAX);
    let samples = 0;
    let keepAlives = 0;
    let errors = 0;
    let measuring = true;
    const def = LeaseService.leaseKeepAlive;
    const streamsDone: Promise<void>[] = [];
    const cpu0 = cpuSeconds(pid);
    const rss = watchPeakRss(pid);
    const elu0 = performance.eventLoopUtilization();
    const start = performance.now();
    for (let s = 0; s < o.streams; s++) {
      const mine = ids.filter((_, i) => i % o.streams === s);
      const requests = mine.map((ID) => Buffer.from(LeaseKeepAliveRequest.encode({ ID }).finish()));
      const call = clients[s % o.conns]!.makeBidiStreamRequest(def.path, identity, identity);
      streams.push(call);
      // FIFO of (lease index, send time) for the requests in flight on this stream.
      const sentIdx: number[] = [];
      const sentAt: number[] = [];
      let cursor = 0;
      const send = () => {
        const i = cursor;
        cursor = (cursor + 1) % requests.length;
        sentIdx.push(i);
        sentAt.push(performance.now());
        call.write(requests[i]!);
      };
      streamsDone.push(
        new Promise<void>((resolve) => {
          call.on('data', (raw: Buffer) => {
            const t = performance.now();
            const i = sentIdx.shift()!;
            const at = sentAt.shift()!;
            const r = LeaseKeepAliveResponse.decode(raw);
            if (r.ID !== mine[i] || r.TTL !== BigInt(o.ttl)) errors++;
            else {
              keepAlives++;
              if (samples < SAMPLES_MAX) latencies[samples++] = t - at;
            }
            if (measuring) send();
            else if (sentIdx.length === 0) {
              call.end();
              resolve();
            }
          });
          call.on('error', () => {
            errors += sentIdx.length;
            resolve();
          });
          call.on('end', () => resolve());
        }),
      );
      for (let d = 0; d < o.depth; d++) send();
    }
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - start) / 1000;
    const counted = keepAlives;
    const elu = performance.eventLoopUtilization(elu0).utilization;
    await Promise.race([Promise.all(streamsDone), new Promise((r) => setTimeout(r, 10_000))]);
    const rssMax = rss.stop();
    const cpu = cpuSeconds(pid) - cpu0;
    const sorted = latencies.slice(0, samples).sort();
    return {
      kind,
      keepAlives: counted,
      errors,
      perSecond: counted / elapsed,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
      rssMaxMb: rssMax,
      rssAfterGrantMb,
      cpuSeconds: cpu,
      grantSeconds,
      benchElu: elu,
    };
  } finally {
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    await server.cleanup();
  }
}

function show(r: Result): string {
  return (
    `${r.kind.padEnd(7)} keep-alives ${r.keepAlives} (${r.perSecond.toFixed(0)}/s, errors ${r.errors})  ` +
    `latency p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  max ${r.maxMs.toFixed(1)} ms  ` +
    `server RSS max ${r.rssMaxMb.toFixed(0)} MiB (after grants ${r.rssAfterGrantMb.toFixed(0)})  ` +
    `server CPU ${r.cpuSeconds.toFixed(1)} s  bench event loop ${(r.benchElu * 100).toFixed(0)}% busy  ` +
    `(granted in ${r.grantSeconds.toFixed(1)} s)`
  );
}

/** Per-field medians of several rounds (undefined when there are none). */
function median(rs: Result[]): Result | undefined {
  if (rs.length === 0) return undefined;
  const mid = (f: (r: Result) => number) => {
    const v = rs.map(f).sort((x, y) => x - y);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  return {
    kind: rs[0]!.kind,
    keepAlives: mid((r) => r.keepAlives),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    perSecond: mid((r) => r.perSecond),
    p50Ms: mid((r) => r.p50Ms),
    p99Ms: mid((r) => r.p99Ms),
    maxMs: mid((r) => r.maxMs),
    rssMaxMb: mid((r) => r.rssMaxMb),
    rssAfterGrantMb: mid((r) => r.rssAfterGrantMb),
    cpuSeconds: mid((r) => r.cpuSeconds),
    grantSeconds: mid((r) => r.grantSeconds),
    benchElu: mid((r) => r.benchElu),
  };
}

async function main(): Promise<void> {
  const o = parseArgsOrExit(parseArgs, USAGE);
  console.log(
    `lease keep-alive bench: ${o.leases} leases (TTL ${o.ttl} s) over ${o.streams} streams on ${o.conns} conns, ` +
      `${o.depth} in flight per stream, ${o.seconds} s`,
  );
  const results: Result[] = [];
  const kinds: ServerKind[] = o.target === 'both' ? ['tsetcd', 'etcd'] : [o.target];
  for (let round = 0; round < o.rounds; round++) {
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      const r = await runOne(kind, o);
      results.push(r);
      console.log(`${o.rounds > 1 ? `round ${round + 1}: ` : ''}${show(r)}`);
    }
  }
  const a = median(results.filter((r) => r.kind === 'tsetcd'));
  const b = median(results.filter((r) => r.kind === 'etcd'));
  if (o.rounds > 1) for (const m of [a, b]) if (m) console.log(`median  ${show(m)}`);
  if (a && b) {
    console.log(
      `ratio tsetcd/etcd: keep-alives/s ${ratio(a.perSecond, b.perSecond)}  p50 ${ratio(a.p50Ms, b.p50Ms)}  ` +
        `p99 ${ratio(a.p99Ms, b.p99Ms)}  RSS ${ratio(a.rssMaxMb, b.rssMaxMb)}  CPU ${ratio(a.cpuSeconds, b.cpuSeconds)}`,
    );
  }
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
}

const USAGE =
  'usage: node dist/bench/lease.js [--leases 10000] [--streams 100] [--conns 10] ' +
  '[--depth 10] [--seconds 10] [--ttl 120] [--rounds 1] [--target both|tsetcd|etcd]';

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
