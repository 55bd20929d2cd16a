/**
 * The soak run: a 3-member tsetcd cluster under a steady mixed workload (puts, multi-op txns,
 * ranges, long-lived watches, watches opened and cancelled, leases granted, attached, TTL asked,
 * revoked or left to expire, compaction) for a set time, sampling every member's resident memory,
 * anonymous resident memory, V8 heap, open file descriptors and event-loop delay at a fixed interval.
 * At the end a leak check fits a least-squares line to each series after a warm-up and fails the
 * series whose slope exceeds its threshold (`leakCheck`); thresholds are per minute for a one-hour
 * run and scaled up for shorter runs (noise is a larger share of a short window).
 *
 * Sources: /proc/<pid>/status (VmRSS, RssAnon), /proc/<pid>/fd (count), and the member's /metrics
 * (prom-client's nodejs_heap_size_used_bytes and nodejs_eventloop_lag_p99_seconds).
 *
 * A deliberately leaking member (to prove the check can fail): `leakBytesPerStream` preloads a
 * test-only script (written to the temp dir, passed to node with --require) that keeps a buffer of that
 * size for every HTTP/2 stream the member's gRPC server accepts. The server's code is unchanged.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as rpc from '../../src/proto/etcdserverpb/rpc.js';
import { type Proc, planCluster, running, startAll, stopAll } from '../helpers/cluster.js';
import { connect, type EtcdClients, openWatch, tempDir, type WatchStream } from '../helpers/index.js';

/** One sample of one member. `t` is minutes since the workload started. */
export interface MemberSample {
  t: number;
  member: string;
  rssBytes: number;
  rssAnonBytes: number;
  heapUsedBytes: number;
  fds: number;
  eventLoopP99Ms: number;
}

/** Series the leak check judges, with their thresholds for a one-hour run (units per minute). */
export const LEAK_SERIES = {
  rssAnonBytes: { perMinute: 1 * 1024 * 1024, unit: 'MiB', scale: 1024 * 1024 },
  heapUsedBytes: { perMinute: 0.5 * 1024 * 1024, unit: 'MiB', scale: 1024 * 1024 },
  fds: { perMinute: 0.2, unit: 'fds', scale: 1 },
} as const;
export type LeakSeries = keyof typeof LEAK_SERIES;

/** The one-hour thresholds are multiplied by 60/minutes for shorter runs (never by less than 1). */
export function thresholdScale(minutes: number): number {
  return Math.max(1, 60 / minutes);
}

/** Least-squares slope of y over x; 0 for fewer than two distinct x. */
export function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

export interface LeakFinding {
  member: string;
  series: LeakSeries;
  /** Units per minute (bytes or fds). */
  slopePerMinute: number;
  thresholdPerMinute: number;
  leaking: boolean;
}

/**
 * The leak check: per member and series, the least-squares slope over the samples after the
 * warm-up (the first `warmupFraction` of the run), against the series' threshold times `scale`.
 */
export function leakCheck(
  samples: MemberSample[],
  opts: { minutes: number; warmupFraction: number; scale?: number },
): LeakFinding[] {
  const scale = opts.scale ?? thresholdScale(opts.minutes);
  const from = opts.minutes * opts.warmupFraction;
  const out: LeakFinding[] = [];
  for (const member of [...new Set(samples.map((s) => s.member))]) {
    const mine = samples.filter((s) => s.member === member && s.t >= from);
    for (const series of Object.keys(LEAK_SERIES) as LeakSeries[]) {
      const k = slope(mine.map((s) => ({ x: s.t, y: s[series] })));
      const threshold = LEAK_SERIES[series].perMinute * scale;
      out.push({ member, series, slopePerMinute: k, thresholdPerMinute: threshold, leaking: k > threshold });
    }
  }
  return out;
}

export interface SoakOptions {
  minutes: number;
  /** Time between samples (default: a minute for runs of 10 minutes or more, else 1/20 of the run). */
  sampleEveryMs?: number;
  /** Share of the run ignored by the leak check (default 0.25). */
  warmupFraction?: number;
  /** Workload operations per second over all clients (default 150). */
  opsPerSecond?: number;
  /** Test only: every member keeps a buffer of this many bytes per gRPC stream (a leak). */
  leakBytesPerStream?: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  minutes: number;
  samples: MemberSample[];
  findings: LeakFinding[];
  ops: { ok: number; failed: number; byType: Record<string, number> };
  watchEvents: number;
  compactions: number;
  /** Members whose process is gone at the end (a crash), with their log tail. */
  dead: string[];
}

const KEYS = 500;
const PREFIX = 'soak/';
const b = (s: string) => Buffer.from(s);
const prefixEnd = (p: string) =>
  Buffer.from(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CALL = { deadlineMs: 5_000 };

const LEAK_PRELOAD = `// test-only: keep a buffer per HTTP/2 stream (soak leak check self-test)
const http2 = require('node:http2');
const bytes = Number(process.env.TSETCD_SOAK_LEAK_BYTES);
const kept = [];
const create = http2.createServer;
http2.createServer = function (...args) {
  const server = create.apply(this, args);
  server.on('stream', () => kept.push(Buffer.alloc(bytes, 1)));
  return server;
};
`;

function procStatusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

async function sample(p: Proc, t: number): Promise<MemberSample | undefined> {
  const pid = p.child?.pid;
  if (!pid || !running(p)) return undefined;
  try {
    const text = await (
      await fetch(`http://${p.client}/metrics`, { signal: AbortSignal.timeout(5_000) })
    ).text();
    return {
      t,
      member: p.name,
      rssBytes: procStatusKb(pid, 'VmRSS') * 1024,
      rssAnonBytes: procStatusKb(pid, 'RssAnon') * 1024,
      heapUsedBytes: metric(text, 'nodejs_heap_size_used_bytes'),
      fds: readdirSync(`/proc/${pid}/fd`).length,
      eventLoopP99Ms: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    };
  } catch {
    return undefined;
  }
}

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);

/** Formats one sample as the per-minute line the soak prints. */
export function formatSample(s: MemberSample): string {
  return `t=${s.t.toFixed(2)}min ${s.member}: rss ${mib(s.rssBytes)} MiB (anon ${mib(s.rssAnonBytes)}), heap ${mib(s.heapUsedBytes)} MiB, fds ${s.fds}, event-loop p99 ${s.eventLoopP99Ms.toFixed(1)} ms`;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const durationMs = o.minutes * 60_000;
  const sampleEveryMs = o.sampleEveryMs ?? (o.minutes >= 10 ? 60_000 : Math.max(1000, durationMs / 20));
  const warmupFraction = o.warmupFraction ?? 0.25;
  const dir = tempDir('tsetcd-soak-');
  const env: Record<string, string> = {};
  let preload: string | undefined;
  if (o.leakBytesPerStream) {
    preload = join(dir.path, 'leak-preload.cjs');
    writeFileSync(preload, LEAK_PRELOAD);
    env.TSETCD_SOAK_LEAK_BYTES = String(o.leakBytesPerStream);
  }
  const procs = await planCluster(dir.path, 3, {
    names: ['s1', 's2', 's3'],
    token: 'soak',
    extraFlags: ['--log-level', 'warn'],
    env: () => env,
  });
  // node's own --require (not NODE_OPTIONS, which node ignores under its test runner's context)
  if (preload) for (const p of procs) p.args = ['--require', preload, ...p.args];
  const clients: EtcdClients[] = [];
  const watches: WatchStream[] = [];
  const report: SoakReport = {
    minutes: o.minutes,
    samples: [],
    findings: [],
    ops: { ok: 0, failed: 0, byType: {} },
    watchEvents: 0,
    compactions: 0,
    dead: [],
  };
  try {
    await startAll(procs);
    for (const p of procs) clients.push(connect(p.client));
    const started = performance.now();
    const elapsedMin = () => (performance.now() - started) / 60_000;
    let stop = false;
    const stopped = () => stop;
    const count = (type: string, ok: boolean) => {
      if (ok) report.ops.ok++;
      else report.ops.failed++;
      report.ops.byType[type] = (report.ops.byType[type] ?? 0) + 1;
    };
    const attempt = async (type: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        count(type, true);
      } catch {
        count(type, false);
      }
    };
    let rnd = 1;
    const rand = (n: number) => {
      rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
      return rnd % n;
    };
    const client = () => clients[rand(clients.length)]!;
    const key = () => `${PREFIX}k/${rand(KEYS)}`;
    const value = () => `v${rand(1e9)}`.padEnd(200, 'x');

    // Long-lived watchers on the whole prefix, one per member; events are counted and dropped.
    const drains: Promise<void>[] = [];
    for (const c of clients) {
      const w = openWatch(c);
      watches.push(w);
      w.send({ createRequest: { key: b(PREFIX), rangeEnd: prefixEnd(PREFIX) } });
      drains.push(
        (async () => {
          while (!stopped()) {
            try {
              const r = await w.next(60_000);
              report.watchEvents += r.events.length;
            } catch {
              return; // closed at the end, or the member failed (reported as dead)
            }
          }
        })(),
      );
    }

    const paced = async (perSecond: number, op: () => Promise<void>) => {
      const gap = 1000 / perSecond;
      let next = performance.now();
      while (!stopped()) {
        await op();
        next += gap;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        else next = performance.now();
      }
    };
    const rate = o.opsPerSecond ?? 150;
    const tasks = [
      // puts, txns and ranges: the bulk of the load, spread over three clients
      ...[0, 1, 2].map(() =>
        paced(rate / 4, async () => {
          const roll = rand(10);
          if (roll < 6)
            await attempt('put', () => client().kv.put({ key: b(key()), value: b(value()) }, CALL));
          else if (roll < 8)
            await attempt('txn', () =>
              client().kv.txn(
                {
                  compare: [
                    { key: b(key()), target: rpc.Compare_CompareTarget.VERSION, result: 1, version: 0n },
                  ],
                  success: [
                    { requestPut: { key: b(key()), value: b(value()) } },
                    { requestRange: { key: b(key()) } },
                  ],
                  failure: [{ requestDeleteRange: { key: b(key()) } }],
                },
                CALL,
              ),
            );
          else
            await attempt('range', () =>
              client().kv.range(
                { key: b(`${PREFIX}k/`), rangeEnd: prefixEnd(`${PREFIX}k/`), limit: 20n },
                CALL,
              ),
            );
        }),
      ),
      // watch churn: a watch opened on one key, one event awaited (or not), cancelled
      paced(rate / 20, async () => {
        const w = openWatch(client());
        try {
          w.send({ createRequest: { key: b(key()) } });
          await w.next(2_000);
          count('watch', true);
        } catch {
          count('watch', false);
        } finally {
          w.close();
        }
      }),
      // leases: granted, a key attached, its TTL asked, then revoked or left to expire
      paced(rate / 20, async () => {
        const c = client();
        try {
          const g = await c.lease.leaseGrant({ TTL: 3n }, CALL);
          await c.kv.put({ key: b(`${PREFIX}lease/${rand(100)}`), value: b('l'), lease: g.ID }, CALL);
          await c.lease.leaseTimeToLive({ ID: g.ID, keys: true }, CALL);
          if (rand(2) === 0) await c.lease.leaseRevoke({ ID: g.ID }, CALL);
          count('lease', true);
        } catch {
          count('lease', false);
        }
      }),
      // compaction every 10 s, keeping the last 1000 revisions
      (async () => {
        while (!stopped()) {
          await sleep(Math.min(10_000, durationMs / 6));
          if (stopped()) return;
          await attempt('compact', async () => {
            const head = Number(
              (await client().kv.range({ key: b('x'), countOnly: true }, CALL)).header!.revision,
            );
            if (head > 1000) {
              await client().kv.compact({ revision: BigInt(head - 1000) }, CALL);
              report.compactions++;
            }
          });
        }
      })(),
      // the sampler
      (async () => {
        let next = 0;
        while (!stopped()) {
          const t = elapsedMin();
          for (const p of procs) {
            const s = await sample(p, t);
            if (!s) continue;
            report.samples.push(s);
            log(formatSample(s));
          }
          next += sampleEveryMs;
          const wait = started + next - performance.now();
          if (wait > 0) await sleep(wait);
        }
      })(),
    ];
    await sleep(durationMs);
    stop = true;
    for (const w of watches) w.close();
    await Promise.all([...tasks, ...drains]);
    for (const p of procs)
      if (!running(p))
        report.dead.push(
          `${p.name} exited (${p.child?.exitCode ?? p.child?.signalCode}):\n${p.log.slice(-3000)}`,
        );
    report.findings = leakCheck(report.samples, { minutes: o.minutes, warmupFraction });
    return report;
  } finally {
    for (const w of watches) w.close();
    for (const c of clients) c.close();
    await stopAll(procs);
    dir.remove();
  }
}

/** The leak findings as a table (member, series, slope, threshold, verdict). */
export function formatFindings(findings: LeakFinding[]): string {
  const lines = [
    '| member | series | slope per minute | threshold per minute | verdict |',
    '|---|---|---|---|---|',
  ];
  for (const f of findings) {
    const { unit, scale } = LEAK_SERIES[f.series];
    lines.push(
      `| ${f.member} | ${f.series} | ${(f.slopePerMinute / scale).toFixed(3)} ${unit} | ${(f.thresholdPerMinute / scale).toFixed(3)} ${unit} | ${f.leaking ? 'LEAK' : 'ok'} |`,
    );
  }
  return lines.join('\n');
}
