/**
 * etcdctl 3.4's `check perf` and `check datascale` (ctlv3/command/check.go): the same workloads
 * (rate, clients, duration, key and value sizes), the same report arithmetic (etcd's pkg/report:
 * requests per second over the whole run, slowest request, population standard deviation of the
 * latencies) and the same PASS/FAIL lines. Unlike etcdctl, whose progress bar (cheggaaa/pb) is
 * drawn even into a pipe, tsetcdctl draws one only when stdout is a terminal.
 *
 * The load generators are exported with their workload as a parameter so that tests can run them
 * for seconds instead of etcdctl's minute; the commands always use etcdctl's tables.
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { Client } from '../../client/index.js';
import { ProgressBar } from '../ui/index.js';
import { type Command, type Ctx, command, ExitCodeError } from './command.js';
import { errorText } from './errors.js';
import type { FlagSpecs } from './flags.js';

/** One `check perf` workload: puts per second, concurrent clients, seconds. */
export interface PerfLoad {
  limit: number;
  clients: number;
  durationS: number;
}

/** etcdctl's checkPerfCfgMap. */
export const PERF_LOADS: Record<string, PerfLoad> = {
  s: { limit: 150, clients: 50, durationS: 60 },
  m: { limit: 1000, clients: 200, durationS: 60 },
  l: { limit: 8000, clients: 500, durationS: 60 },
  xl: { limit: 15000, clients: 1000, durationS: 60 },
};

/** One `check datascale` workload: puts in all, bytes per key-value, concurrent clients. */
export interface DatascaleLoad {
  limit: number;
  kvSize: number;
  clients: number;
}

/** etcdctl's checkDatascaleCfgMap. */
export const DATASCALE_LOADS: Record<string, DatascaleLoad> = {
  s: { limit: 10000, kvSize: 1024, clients: 50 },
  m: { limit: 100000, kvSize: 1024, clients: 200 },
  l: { limit: 1000000, kvSize: 1024, clients: 500 },
  xl: { limit: 3000000, kvSize: 1024, clients: 1000 },
};

const LOAD_ALIAS: Record<string, string> = {
  s: 's',
  small: 's',
  m: 'm',
  medium: 'm',
  l: 'l',
  large: 'l',
  xl: 'xl',
  xLarge: 'xl',
};

/**
 * Clients (gRPC channels) a check opens at most; etcdctl opens one per concurrent client, but a
 * thousand grpc-js channels cost more than the requests they carry. The concurrency is kept.
 */
export const CHECK_CHANNELS_MAX = 64;

/** What a run measured (etcd's pkg/report Stats, latencies in seconds). */
export interface CheckStats {
  /** Successful requests per second over the whole run. */
  rps: number;
  slowestS: number;
  stddevS: number;
  /** Failed requests by error text. */
  errors: Map<string, number>;
  count: number;
}

/** Collects results as etcd's report does. */
class Report {
  private readonly startMs = performance.now();
  private readonly lats: number[] = [];
  readonly errors = new Map<string, number>();

  add(startMs: number, err: unknown): void {
    if (err !== undefined) {
      const t = errorText(err);
      this.errors.set(t, (this.errors.get(t) ?? 0) + 1);
      return;
    }
    this.lats.push((performance.now() - startMs) / 1000);
  }

  stats(): CheckStats {
    const totalS = (performance.now() - this.startMs) / 1000;
    const n = this.lats.length;
    const avg = this.lats.reduce((a, b) => a + b, 0) / n;
    const stddev = Math.sqrt(this.lats.reduce((a, x) => a + (x - avg) ** 2, 0) / n);
    return {
      rps: n / totalS,
      slowestS: n > 0 ? Math.max(...this.lats) : 0,
      stddevS: stddev,
      errors: this.errors,
      count: n,
    };
  }
}

/** A key of `size` bytes after the prefix: a random varint at its start, the rest zeros (as etcdctl). */
function randomKey(prefix: string, size: number): Buffer {
  const k = Buffer.alloc(size);
  // binary.PutVarint of a random int63: zig-zag then 7 bits a byte
  let v = BigInt(Math.floor(Math.random() * 2 ** 53)) << 1n;
  let i = 0;
  while (v >= 0x80n) {
    k[i++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  k[i] = Number(v);
  return Buffer.concat([Buffer.from(prefix), k]);
}

/** Runs `work` on `concurrency` workers until `next()` says stop; resolves when all are done. */
async function runWorkers(
  concurrency: number,
  next: () => Promise<(() => Promise<unknown>) | undefined>,
): Promise<void> {
  const workers = Array.from({ length: concurrency }, async () => {
    for (;;) {
      const job = await next();
      if (job === undefined) return;
      await job();
    }
  });
  await Promise.all(workers);
}

/**
 * The perf load: puts of 1 KiB under `prefix` with 256-byte keys, at most `limit` a second (a token
 * bucket of one, as golang.org/x/time/rate with burst 1), for `durationS`, on `clients` workers.
 */
export async function perfLoad(
  clients: Client[],
  load: PerfLoad,
  prefix: string,
  onTick?: (elapsedS: number) => void,
): Promise<CheckStats> {
  const report = new Report();
  const value = Buffer.alloc(1024);
  const t0 = performance.now();
  const endMs = t0 + load.durationS * 1000;
  const intervalMs = 1000 / load.limit;
  let sent = 0;
  // the slots are handed out in order, so the rate holds however many workers wait
  let gate = Promise.resolve();
  const next = (): Promise<(() => Promise<unknown>) | undefined> => {
    const mine = gate.then(async () => {
      const at = t0 + sent * intervalMs;
      // rate.Limiter.Wait with the run's deadline: no slot after it, nor once it has passed
      if (at > endMs || performance.now() > endMs) return undefined;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      onTick?.((performance.now() - t0) / 1000);
      const c = clients[sent % clients.length]!;
      sent++;
      return async () => {
        const st = performance.now();
        await c.kv.put(randomKey(prefix, 256), value).then(
          () => report.add(st, undefined),
          (e: unknown) => report.add(st, e),
        );
      };
    });
    gate = mine.then(() => {});
    return mine;
  };
  await runWorkers(load.clients, next);
  return report.stats();
}

/** The datascale load: `limit` puts of kvSize/2-byte keys and values on `clients` workers. */
export async function datascaleLoad(
  clients: Client[],
  load: DatascaleLoad,
  prefix: string,
  onPut?: () => void,
): Promise<CheckStats> {
  const report = new Report();
  const half = load.kvSize / 2;
  const value = Buffer.alloc(half);
  let sent = 0;
  await runWorkers(load.clients, async () => {
    if (sent >= load.limit) return undefined;
    const c = clients[sent % clients.length]!;
    sent++;
    return async () => {
      const st = performance.now();
      await c.kv.put(randomKey(prefix, half), value).then(
        () => report.add(st, undefined),
        (e: unknown) => report.add(st, e),
      );
      onPut?.();
    };
  });
  return report.stats();
}

/** etcdctl's `%f`: six decimals. */
const f6 = (x: number): string => x.toFixed(6);

/** The PASS/FAIL lines of check perf and whether it passed (check.go's verdict). */
export function perfVerdict(s: CheckStats, limit: number): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  if (s.errors.size !== 0) {
    lines.push('FAIL: too many errors');
    for (const [k, v] of s.errors) lines.push(`FAIL: ERROR(${k}) -> ${v}`);
    ok = false;
  }
  if (s.rps / limit <= 0.9) {
    lines.push(`FAIL: Throughput too low: ${Math.trunc(s.rps) + 1} writes/s`);
    ok = false;
  } else lines.push(`PASS: Throughput is ${Math.trunc(s.rps) + 1} writes/s`);
  if (s.slowestS > 0.5) {
    lines.push(`Slowest request took too long: ${f6(s.slowestS)}s`);
    ok = false;
  } else lines.push(`PASS: Slowest request took ${f6(s.slowestS)}s`);
  if (s.stddevS > 0.1) {
    lines.push(`Stddev too high: ${f6(s.stddevS)}s`);
    ok = false;
  } else lines.push(`PASS: Stddev is ${f6(s.stddevS)}s`);
  lines.push(ok ? 'PASS' : 'FAIL');
  return { lines, ok };
}

function loadOf<T>(ctx: Ctx, table: Record<string, T>): T {
  const model = LOAD_ALIAS[ctx.flag('load')];
  if (model === undefined) throw new ExitCodeError(4, `unknown load option ${ctx.flag('load')}`);
  return table[model]!;
}

async function openClients(ctx: Ctx, n: number): Promise<Client[]> {
  const first = await ctx.client();
  const rest = Array.from({ length: Math.min(n, CHECK_CHANNELS_MAX) - 1 }, () => ctx.newClient());
  return [first, ...rest];
}

/** The prefix must be empty: etcdctl refuses with exit code 3. */
async function requireEmptyPrefix(c: Client, prefix: string): Promise<void> {
  const r = await c.kv.get(prefix, { prefix: true, limit: 1n });
  if (r.kvs.length > 0)
    throw new ExitCodeError(
      3,
      `prefix ${JSON.stringify(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`,
    );
}

/** Deletes the prefix, then compacts and defragments as asked (check.go's tail). */
async function cleanUp(ctx: Ctx, c: Client, prefix: string): Promise<void> {
  const d = await c.kv.delete(prefix, { prefix: true });
  if (ctx.flag('auto-compact') === 'true') {
    const rev = d.header!.revision;
    ctx.out.out(`Compacting with revision ${rev}\n`);
    await c.kv.compact(rev, { physical: true, deadlineMs: 30_000 });
    ctx.out.out(`Compacted with revision ${rev}\n`);
  }
  if (ctx.flag('auto-defrag') === 'true') {
    for (const ep of ctx.flag('endpoints').split(',')) {
      ctx.out.out(`Defragmenting ${JSON.stringify(ep)}\n`);
      const one = ctx.clientFor(ep);
      try {
        await one.maintenance.defragment({ deadlineMs: 30_000 });
      } finally {
        one.close();
      }
      ctx.out.out(`Defragmented ${JSON.stringify(ep)}\n`);
    }
  }
}

/** A progress bar on stdout when it is a terminal; nothing otherwise. */
function bar(ctx: Ctx, label: string, total: number, done: () => number): ProgressBar {
  return new ProgressBar({
    label,
    total,
    done,
    stream: process.stdout,
    mode: ctx.isTty ? 'auto' : 'off',
  }).start();
}

/** GET <endpoint>/metrics and read process_resident_memory_bytes (etcdctl's endpointMemoryMetrics). */
async function residentMemoryBytes(ctx: Ctx, endpoint: string): Promise<number> {
  const key = 'process_resident_memory_bytes';
  const host = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  const url = `${host}/metrics`;
  let text: string;
  try {
    text = host.startsWith('https://') ? await httpsGet(ctx, url) : await fetch(url).then((r) => r.text());
  } catch (e) {
    ctx.out.out(`fetch error: ${(e as Error).message}\n`);
    return 0;
  }
  const line = text.split('\n').find((l) => l.startsWith(key));
  if (line === undefined) {
    ctx.out.out(`could not find: ${key}\n`);
    return 0;
  }
  const v = Number.parseFloat(line.slice(key.length).trim());
  if (Number.isNaN(v)) {
    ctx.out.out(`parse error: ${line}\n`);
    return 0;
  }
  return v;
}

function httpsGet(ctx: Ctx, url: string): Promise<string> {
  const file = (n: string) => (ctx.flag(n) !== '' ? readFileSync(ctx.flag(n)) : undefined);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        cert: file('cert'),
        key: file('key'),
        ca: file('cacert'),
        rejectUnauthorized: ctx.flag('insecure-skip-tls-verify') !== 'true',
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function checkFlags(what: 'performance' | 'datascale', prefix: string): FlagSpecs {
  return {
    load: {
      kind: 'string',
      default: 's',
      help: `The ${what} check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)`,
    },
    prefix: {
      kind: 'string',
      default: prefix,
      help: `The prefix for writing the ${what} check's keys.`,
    },
    'auto-compact': {
      kind: 'bool',
      default: 'false',
      help: 'Compact storage with last revision after test is finished.',
    },
    'auto-defrag': { kind: 'bool', default: 'false', help: 'Defragment storage after test is finished.' },
  };
}

/** The check commands. */
export const CHECK_COMMANDS: Command[] = [
  command(
    'check perf',
    'check perf [options]',
    'Check the performance of the etcd cluster',
    checkFlags('performance', '/etcdctl-check-perf/'),
    async (ctx) => {
      const load = loadOf(ctx, PERF_LOADS);
      const prefix = ctx.flag('prefix');
      const clients = await openClients(ctx, load.clients);
      try {
        await requireEmptyPrefix(clients[0]!, prefix);
        let elapsed = 0;
        const b = bar(ctx, 'check perf', load.durationS, () => Math.floor(elapsed));
        const s = await perfLoad(clients, load, prefix, (t) => {
          elapsed = t;
        });
        b.finish(`${s.count} writes`);
        await cleanUp(ctx, clients[0]!, prefix);
        const v = perfVerdict(s, load.limit);
        ctx.out.out(v.lines.map((l) => `${l}\n`).join(''));
        if (!v.ok) throw new ExitCodeError(1, '');
      } finally {
        for (const c of clients.slice(1)) c.close();
      }
    },
  ),
  command(
    'check datascale',
    'check datascale [options]',
    'Check the memory usage of holding data for different workloads on a given server endpoint.',
    checkFlags('datascale', '/etcdctl-check-datascale/'),
    async (ctx) => {
      const load = loadOf(ctx, DATASCALE_LOADS);
      const prefix = ctx.flag('prefix');
      const ep = ctx.flag('endpoints').split(',')[0]!;
      const clients = await openClients(ctx, load.clients);
      try {
        await requireEmptyPrefix(clients[0]!, prefix);
        const before = await residentMemoryBytes(ctx, ep);
        if (before === 0) {
          ctx.out.out('FAIL: Could not read process_resident_memory_bytes before the put operations.\n');
          throw new ExitCodeError(1, '');
        }
        ctx.out.out(
          `Start data scale check for work load [${load.limit} key-value pairs, ${load.kvSize} bytes per key-value, ${load.clients} concurrent clients].\n`,
        );
        let done = 0;
        const b = bar(ctx, 'check datascale', load.limit, () => done);
        const s = await datascaleLoad(clients, load, prefix, () => {
          done++;
        });
        b.finish(`${done} writes`);
        const after = await residentMemoryBytes(ctx, ep);
        if (after === 0) {
          ctx.out.out('FAIL: Could not read process_resident_memory_bytes after the put operations.\n');
          throw new ExitCodeError(1, '');
        }
        await cleanUp(ctx, clients[0]!, prefix);
        if (s.errors.size !== 0) {
          ctx.out.out('FAIL: too many errors\n');
          for (const [k, v] of s.errors) ctx.out.out(`FAIL: ERROR(${k}) -> ${v}\n`);
          throw new ExitCodeError(1, '');
        }
        const mb = (after - before) / (1024 * 1024);
        ctx.out.out(`PASS: Approximate system memory used : ${mb.toFixed(2)} MB.\n`);
      } finally {
        for (const c of clients.slice(1)) c.close();
      }
    },
    'If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.',
  ),
];
