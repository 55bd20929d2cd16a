/**
 * Drives one benchmark phase against one target: opens `conns` gRPC channels (each its own TCP
 * connection), waits until all are ready, then keeps `clients` requests in flight until `total`
 * have completed, timing each one into a LatencyHistogram.
 *
 * The hot path is callback-driven (no promise per request): a client's response callback records
 * the latency and sends that client's next request. Requests are pre-encoded bytes (workload.ts)
 * and responses are never decoded (transport.ts).
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { ProgressBar, type ProgressStream } from '../ui/index.js';
import { type CpuSample, startCpuMeter } from './cpu.js';
import type { BenchConfig, BenchTarget } from './flags.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { type BenchTls, type Conn, openConn, statusOk, type TransportKind } from './transport.js';
import type { Workload } from './workload.js';

/** Distinct error texts kept per round; further kinds are counted under otherErrorsKey. */
export const errorKindsMax = 100;
/** Where errors beyond errorKindsMax distinct texts are counted. */
export const otherErrorsKey = '(other error kinds)';

/** A target could not be reached: some connection was not ready within --dial-timeout. */
export class BenchConnectError extends Error {
  override name = 'BenchConnectError';
}

/** Outcome of the measured rounds against one target. */
export interface TargetResult {
  target: BenchTarget;
  /** Measured rounds combined here (--rounds). */
  rounds: number;
  /** Requests sent and completed (rounds x total). */
  requests: number;
  /** Requests answered OK. */
  succeeded: number;
  /** Failed requests by `CODE: message` (e.g. `UNAVAILABLE: ...`); their latency is not recorded. */
  errors: Record<string, number>;
  /** Sum of errors' counts. */
  errorCount: number;
  /** Wall time of the measured phases in seconds. */
  durationSec: number;
  /** Succeeded requests per second over all rounds. */
  throughput: number;
  /** Succeeded requests per second of each round, in run order: their spread shows the noise. */
  throughputPerRound: number[];
  /** Latency of succeeded requests. */
  latency: LatencySummary;
  /** Distinct probe-response descriptions over the rounds (range only; empty otherwise). */
  responses: string[];
  /** The generator's own CPU during the measured phases (load average: at the first round). */
  cpu: CpuSample;
}

/** `UNAVAILABLE`, `DEADLINE_EXCEEDED`, ... from a numeric gRPC status. */
export function codeName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/**
 * Opens `conns` connections of the given transport to a target (conn i dials endpoints[i % n]) and
 * waits until every one is ready. Throws BenchConnectError when any is not ready in time.
 */
export async function openConns(
  target: BenchTarget,
  conns: number,
  dialTimeoutMs: number,
  transport: TransportKind = 'grpc-js',
  tls?: BenchTls,
): Promise<Conn[]> {
  const deadline = Date.now() + dialTimeoutMs;
  const settled = await Promise.allSettled(
    Array.from({ length: conns }, (_, i) =>
      openConn(transport, target.endpoints[i % target.endpoints.length]!, i, deadline, tls),
    ),
  );
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    for (const r of settled) if (r.status === 'fulfilled') r.value.close();
    const where = target.name === 'default' ? '' : `${target.name} at `;
    throw new BenchConnectError(
      `bench: cannot connect to ${where}${target.endpoints.join(',')} within ${dialTimeoutMs}ms: ${(failed.reason as Error).message}`,
    );
  }
  return settled.map((r) => (r as PromiseFulfilledResult<Conn>).value);
}

/** Live counters of a phase, read by the progress bar. */
interface PhaseState {
  completed: number;
}

/**
 * Sends `n` requests of `workload` with `clients` in flight over `conns`, optionally paced to
 * `rate` req/s. Latencies of successes go to `hist` when given; errors are counted into `errors`.
 */
function drive(
  conns: readonly Conn[],
  workload: Workload,
  n: number,
  clients: number,
  rate: number,
  state: PhaseState,
  hist: LatencyHistogram | undefined,
  errors: Map<string, number>,
): Promise<void> {
  return new Promise((resolve) => {
    const method = workload.method;
    const startMs = performance.now();
    let issued = 0;
    const inFlight = Math.min(clients, n);
    for (let c = 0; c < inFlight; c++) {
      const conn = conns[c % conns.length]!;
      const send = (i: number): void => {
        const body = workload.request(i);
        const t0 = performance.now();
        conn.call(method, body, (code, details) => {
          const t1 = performance.now();
          if (code === statusOk) {
            hist?.record((t1 - t0) * 1000);
          } else {
            let key = `${codeName(code)}: ${details}`;
            if (!errors.has(key) && errors.size >= errorKindsMax) key = otherErrorsKey;
            errors.set(key, (errors.get(key) ?? 0) + 1);
          }
          state.completed++;
          if (state.completed === n) resolve();
          else if (issued < n) next();
        });
      };
      // Pacing: request i is due at start + i/rate. The index is claimed when scheduling, so clients
      // waiting together fire at their own slots instead of in a burst; a late request goes at once.
      const next = (): void => {
        const i = issued++;
        if (rate > 0) {
          const waitMs = startMs + (i * 1000) / rate - performance.now();
          if (waitMs > 1) {
            setTimeout(send, waitMs, i);
            return;
          }
        }
        send(i);
      };
      next();
    }
  });
}

/** Options of runRound that are not part of the workload. */
export interface RunRoundOptions {
  /** Label of the progress bar, e.g. `put etcd`. */
  label: string;
  /** Stream for the progress bar; default process.stderr. */
  progressStream?: ProgressStream;
}

/** Raw outcome of one measured round against one target, before aggregation. */
export interface RoundResult {
  /** Requests sent and completed (== config total). */
  requests: number;
  /** Failed requests by `CODE: message`. */
  errors: Map<string, number>;
  /** Wall time of the measured phase in seconds. */
  durationSec: number;
  /** Latencies of succeeded requests. */
  hist: LatencyHistogram;
  /** The generator's CPU during the measured phase. */
  cpu: CpuSample;
  /** workload.describeResponse of a probe request sent before the round, when the workload has one. */
  response?: string;
}

/** Sends request 0 once on `conn` and describes the response (or the error). */
function probe(conn: Conn, workload: Workload, describe: (r: Buffer) => string): Promise<string> {
  return new Promise((resolve) =>
    conn.call(
      workload.method,
      workload.request(0),
      (code, details, response) =>
        resolve(
          code === statusOk && response !== undefined ? describe(response) : `${codeName(code)}: ${details}`,
        ),
      true,
    ),
  );
}

/**
 * Opens the conns, runs warm-up (unmeasured) and then one measured round of `cfg.total` requests
 * of `workload` against `target`, and closes the conns. Throws BenchConnectError when the target is
 * unreachable.
 */
export async function runRound(
  cfg: BenchConfig,
  target: BenchTarget,
  workload: Workload,
  opts: RunRoundOptions,
): Promise<RoundResult> {
  const conns = await openConns(target, cfg.conns, cfg.dialTimeoutMs, cfg.transport, cfg.tls);
  // grpc-js captures a caller stack (`new Error()`) on every call; we never print those stacks,
  // and not capturing them saves about a tenth of the generator's CPU per request.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const describe = workload.describeResponse;
    const response = describe === undefined ? undefined : await probe(conns[0]!, workload, describe);
    if (cfg.warmup > 0) {
      await drive(conns, workload, cfg.warmup, cfg.clients, cfg.rate, { completed: 0 }, undefined, new Map());
    }
    const errors = new Map<string, number>();
    const hist = new LatencyHistogram();
    const state: PhaseState = { completed: 0 };
    const bar = new ProgressBar({
      label: opts.label,
      total: cfg.total,
      done: () => state.completed,
      stream: opts.progressStream,
      mode: cfg.progress,
    }).start();
    const meter = startCpuMeter();
    const t0 = performance.now();
    await drive(conns, workload, cfg.total, cfg.clients, cfg.rate, state, hist, errors);
    const durationSec = (performance.now() - t0) / 1000;
    const cpu = meter.stop();
    const errorCount = cfg.total - hist.count;
    const throughput = durationSec > 0 ? hist.count / durationSec : 0;
    bar.finish(
      `${cfg.total} requests in ${durationSec.toFixed(2)}s, ${Math.round(throughput)} req/s` +
        (errorCount > 0 ? `, ${errorCount} errors` : ''),
    );
    return { requests: cfg.total, errors, durationSec, hist, cpu, response };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    for (const c of conns) c.close();
  }
}

/**
 * Combines the rounds of one target: counts and durations add up, latencies merge, throughput is
 * all successes over all measured time, CPU is weighted by wall time. `rounds` must not be empty.
 */
export function aggregateRounds(target: BenchTarget, rounds: readonly RoundResult[]): TargetResult {
  const first = rounds[0];
  if (first === undefined) throw new RangeError('aggregateRounds: no rounds');
  const hist = new LatencyHistogram();
  const errors = new Map<string, number>();
  let requests = 0;
  let durationSec = 0;
  let wallMs = 0;
  let cpuMs = 0;
  let busyMs = 0;
  for (const r of rounds) {
    hist.merge(r.hist);
    for (const [k, v] of r.errors) errors.set(k, (errors.get(k) ?? 0) + v);
    requests += r.requests;
    durationSec += r.durationSec;
    wallMs += r.cpu.wallMs;
    cpuMs += r.cpu.cpuMs;
    busyMs += r.cpu.eventLoopUtilization * r.cpu.wallMs;
  }
  const succeeded = hist.count;
  return {
    target,
    rounds: rounds.length,
    requests,
    succeeded,
    errors: Object.fromEntries([...errors.entries()].sort((a, b) => b[1] - a[1])),
    errorCount: requests - succeeded,
    durationSec,
    throughput: durationSec > 0 ? succeeded / durationSec : 0,
    throughputPerRound: rounds.map((r) => (r.durationSec > 0 ? r.hist.count / r.durationSec : 0)),
    latency: hist.summary(),
    responses: [...new Set(rounds.map((r) => r.response).filter((r) => r !== undefined))],
    cpu: {
      wallMs,
      cpuMs,
      cores: wallMs > 0 ? cpuMs / wallMs : 0,
      coresAvailable: first.cpu.coresAvailable,
      eventLoopUtilization: wallMs > 0 ? busyMs / wallMs : 0,
      loadAvg1mAtStart: first.cpu.loadAvg1mAtStart,
    },
  };
}
