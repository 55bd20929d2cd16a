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
import { ProgressBar, type ProgressStream } from '../ui/progress.js';
import { type CpuSample, startCpuMeter } from './cpu.js';
import type { BenchConfig, BenchTarget } from './flags.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { type Conn, openConn, statusOk, type TransportKind } from './transport.js';
import type { Workload } from './workload.js';

/** A target could not be reached: some connection was not ready within --dial-timeout. */
export class BenchConnectError extends Error {
  override name = 'BenchConnectError';
}

/** Outcome of the measured phase against one target. */
export interface TargetResult {
  target: BenchTarget;
  /** Requests sent and completed (== config total). */
  requests: number;
  /** Requests answered OK. */
  succeeded: number;
  /** Failed requests by `CODE: message` (e.g. `UNAVAILABLE: ...`); their latency is not recorded. */
  errors: Record<string, number>;
  /** Sum of errors' counts. */
  errorCount: number;
  /** Wall time of the measured phase in seconds. */
  durationSec: number;
  /** Succeeded requests per second. */
  throughput: number;
  /** Latency of succeeded requests. */
  latency: LatencySummary;
  /** The generator's own CPU during the measured phase. */
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
): Promise<Conn[]> {
  const deadline = Date.now() + dialTimeoutMs;
  const settled = await Promise.allSettled(
    Array.from({ length: conns }, (_, i) =>
      openConn(transport, target.endpoints[i % target.endpoints.length]!, i, deadline),
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
            const key = `${codeName(code)}: ${details}`;
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

/** Options of runTarget that are not part of the workload. */
export interface RunTargetOptions {
  /** Label of the progress bar, e.g. `put etcd`. */
  label: string;
  /** Stream for the progress bar; default process.stderr. */
  progressStream?: ProgressStream;
}

/**
 * Runs warm-up (unmeasured) and then the measured phase of `workload` against `target`, and closes
 * the connections. Throws BenchConnectError when the target is unreachable.
 */
export async function runTarget(
  cfg: BenchConfig,
  target: BenchTarget,
  workload: Workload,
  opts: RunTargetOptions,
): Promise<TargetResult> {
  const conns = await openConns(target, cfg.conns, cfg.dialTimeoutMs, cfg.transport);
  // grpc-js captures a caller stack (`new Error()`) on every call; we never print those stacks,
  // and not capturing them saves about a tenth of the generator's CPU per request.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const errors = new Map<string, number>();
    if (cfg.warmup > 0) {
      await drive(conns, workload, cfg.warmup, cfg.clients, cfg.rate, { completed: 0 }, undefined, new Map());
    }
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
    let errorCount = 0;
    for (const v of errors.values()) errorCount += v;
    const succeeded = cfg.total - errorCount;
    const throughput = durationSec > 0 ? succeeded / durationSec : 0;
    bar.finish(
      `${cfg.total} requests in ${durationSec.toFixed(2)}s, ${Math.round(throughput)} req/s` +
        (errorCount > 0 ? `, ${errorCount} errors` : ''),
    );
    return {
      target,
      requests: cfg.total,
      succeeded,
      errors: Object.fromEntries([...errors.entries()].sort((a, b) => b[1] - a[1])),
      errorCount,
      durationSec,
      throughput,
      latency: hist.summary(),
      cpu,
    };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    for (const c of conns) c.close();
  }
}
