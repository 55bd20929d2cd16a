/**
 * Watch benchmark (not a test): many watchers on one member, a fixed write rate for a fixed time;
 * reports events delivered, event delay (write sent → event received) p50 / p99 / max, the server's
 * peak RSS and CPU — for tsetcd and for etcd 3.4 started the same way on the same machine, and the
 * ratios tsetcd / etcd.
 *
 * Each server is a separate process on free ports in a fresh temp dir, killed afterwards. The
 * watchers are spread over `--streams` Watch streams on one connection; watcher j watches the single
 * key bench/k<j mod keys>, so each write reaches watchers/keys watchers. Each put's value is the
 * time it was sent, so the delay is measured on one clock.
 *
 * Usage: node dist/bench/watch.js [--watchers 10000] [--keys 1000] [--streams 100]
 *        [--rate 1000] [--seconds 10] [--target both|tsetcd|etcd] [--endpoint host:port --pid N]
 * (--endpoint: measure a server you started yourself, e.g. under `node --cpu-prof`.)
 */
import { Client, type ClientDuplexStream, credentials } from '@grpc/grpc-js';
import {
  KVService,
  type PutResponse,
  WatchRequest,
  type WatchResponse,
  WatchService,
} from '../src/proto/etcdserverpb/rpc.js';
import type { BenchServer } from './support.js';
import { cpuSeconds, parseArgsOrExit, percentile, ratio, startServer, watchPeakRss } from './support.js';
import { helpFromHeader } from '../src/pkg/script-help.js';

helpFromHeader(import.meta.url);

/** Puts in flight at most; a tick that would exceed it skips (counted), so the client never queues unboundedly. */
const PUTS_IN_FLIGHT_MAX = 512;
/** How long to wait for the last events after the writes stop. */
const DRAIN_MS = 10_000;

interface Options {
  watchers: number;
  keys: number;
  streams: number;
  rate: number;
  seconds: number;
  target: 'both' | 'tsetcd' | 'etcd';
  /** Use this running server (host:port) instead of starting one; `pid` for its RSS and CPU. */
  endpoint?: string;
  pid?: number;
}

interface Result {
  kind: string;
  writes: number;
  skipped: number;
  expected: number;
  delivered: number;
  p50Ms: number;
  p99Ms: number;
  /** Put latency (sent → acknowledged) p99, to tell the write path's delay from the hub's. */
  putP99Ms: number;
  maxMs: number;
  rssMaxMb: number;
  cpuSeconds: number;
  setupMs: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { watchers: 10_000, keys: 1000, streams: 100, rate: 1000, seconds: 10, target: 'both' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]?.replace(/^--/, '') ?? '';
    const v = argv[i + 1] ?? '';
    if (k === 'endpoint') {
      o.endpoint = v;
    } else if (k === 'target') {
      if (v !== 'both' && v !== 'tsetcd' && v !== 'etcd') throw new Error('--target both|tsetcd|etcd');
      o.target = v;
    } else if (k in o || k === 'pid') {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k} needs a positive number`);
      (o as unknown as Record<string, number>)[k] = n;
    } else {
      throw new Error(`unknown flag --${k}`);
    }
  }
  return o;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

async function runOne(kind: 'tsetcd' | 'etcd', o: Options): Promise<Result> {
  const server: BenchServer =
    o.endpoint === undefined
      ? await startServer(kind)
      : { pid: o.pid, endpoint: o.endpoint, cleanup: async () => {} };
  const pid = server.pid ?? 0;
  const client = new Client(server.endpoint, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
  });
  const streams: ClientDuplexStream<WatchRequest, WatchResponse>[] = [];
  try {
    const setupStart = now();
    let created = 0;
    const perKey = Math.floor(o.watchers / o.keys);
    const delays = new Float64Array(Math.ceil(o.rate * o.seconds * 1.2 + 1000) * Math.max(1, perKey));
    let delivered = 0;
    const def = WatchService.watch;
    const perStream = Math.ceil(o.watchers / o.streams);
    for (let s = 0; s < o.streams; s++) {
      const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
      call.on('data', (r: WatchResponse) => {
        if (r.created) created++;
        if (r.events.length === 0) return;
        const t = now();
        for (const e of r.events) {
          const sent = Number(e.kv?.value.toString());
          if (delivered < delays.length) delays[delivered] = t - sent;
          delivered++;
        }
      });
      call.on('error', () => {});
      streams.push(call);
      for (let j = s * perStream; j < Math.min(o.watchers, (s + 1) * perStream); j++) {
        call.write(WatchRequest.fromPartial({ createRequest: { key: Buffer.from(`bench/k${j % o.keys}`) } }));
      }
    }
    const createDeadline = Date.now() + 60_000;
    while (created < o.watchers) {
      if (Date.now() > createDeadline) throw new Error(`${kind}: only ${created} watchers created`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const setupMs = now() - setupStart;
    const cpu0 = cpuSeconds(pid);
    const rss = watchPeakRss(pid);
    // Writes: paced in 10 ms ticks, bounded in flight.
    let writes = 0;
    let acked = 0;
    let skipped = 0;
    let inFlight = 0;
    const putDelays = new Float64Array(Math.round(o.rate * o.seconds) + 1);
    const tickMs = 10;
    const totalWrites = Math.round(o.rate * o.seconds);
    const start = now();
    let n = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(totalWrites, Math.round(((now() - start) / 1000) * o.rate));
        while (n < due) {
          n++;
          if (inFlight >= PUTS_IN_FLIGHT_MAX) {
            skipped++;
            continue;
          }
          inFlight++;
          writes++;
          const key = Buffer.from(`bench/k${Math.floor(Math.random() * o.keys)}`);
          const sentAt = now();
          client.makeUnaryRequest(
            KVService.put.path,
            KVService.put.requestSerialize,
            KVService.put.responseDeserialize,
            {
              key,
              value: Buffer.from(String(now())),
              lease: 0n,
              prevKv: false,
              ignoreValue: false,
              ignoreLease: false,
            },
            (err: unknown, _r?: PutResponse) => {
              inFlight--;
              if (!err) putDelays[acked++] = now() - sentAt;
            },
          );
        }
        if (n >= totalWrites) {
          clearInterval(timer);
          resolve();
        }
      }, tickMs);
    });
    const expectedOf = () => acked * perKey;
    const drainDeadline = Date.now() + DRAIN_MS;
    while ((inFlight > 0 || delivered < expectedOf()) && Date.now() < drainDeadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const rssMax = rss.stop();
    const cpu = cpuSeconds(pid) - cpu0;
    const sorted = delays.slice(0, Math.min(delivered, delays.length)).sort();
    return {
      kind,
      writes,
      skipped,
      expected: expectedOf(),
      delivered,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      putP99Ms: percentile(putDelays.slice(0, acked).sort(), 99),
      maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
      rssMaxMb: rssMax,
      cpuSeconds: cpu,
      setupMs,
    };
  } finally {
    for (const s of streams) s.cancel();
    client.close();
    await server.cleanup();
  }
}

function show(r: Result): string {
  return (
    `${r.kind.padEnd(7)} writes ${r.writes} (skipped ${r.skipped})  events ${r.delivered}/${r.expected}  ` +
    `delay p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  max ${r.maxMs.toFixed(1)} ms  put p99 ${r.putP99Ms.toFixed(2)} ms  ` +
    `server RSS max ${r.rssMaxMb.toFixed(0)} MiB  server CPU ${r.cpuSeconds.toFixed(1)} s  ` +
    `(created watchers in ${(r.setupMs / 1000).toFixed(1)} s)`
  );
}

async function main(): Promise<void> {
  const o = parseArgsOrExit(parseArgs, USAGE);
  console.log(
    `watch bench: ${o.watchers} watchers on ${o.keys} keys over ${o.streams} streams, ` +
      `${o.rate} puts/s for ${o.seconds} s`,
  );
  const results: Result[] = [];
  const kinds: ('tsetcd' | 'etcd')[] = o.target === 'both' ? ['tsetcd', 'etcd'] : [o.target];
  if (o.endpoint !== undefined) kinds.length = 1;
  for (const kind of kinds) {
    const r = await runOne(kind, o);
    results.push(r);
    console.log(show(r));
  }
  const [a, b] = results;
  if (a && b) {
    console.log(
      `ratio tsetcd/etcd: delivered ${ratio(a.delivered / a.expected, b.delivered / b.expected)}  ` +
        `p50 ${ratio(a.p50Ms, b.p50Ms)}  p99 ${ratio(a.p99Ms, b.p99Ms)}  RSS ${ratio(a.rssMaxMb, b.rssMaxMb)}  ` +
        `CPU ${ratio(a.cpuSeconds, b.cpuSeconds)}`,
    );
  }
}

const USAGE =
  'usage: node dist/bench/watch.js [--watchers 10000] [--keys 1000] [--streams 100] ' +
  '[--rate 1000] [--seconds 10] [--target both|tsetcd|etcd] [--endpoint host:port --pid N]';

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
