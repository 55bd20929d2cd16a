/**
 * The load generator's own CPU use over a run, so that a run where the generator (not the server)
 * is the bottleneck shows itself: "bench CPU: 1.0 cores of 2, event loop 97% busy".
 *
 * Node runs the generator's JavaScript and grpc-js on one thread, so the event loop utilization is
 * the sharper signal: near 100% means requests queue inside the generator and the measured latency
 * includes its own delay. Cores (user + system CPU time over wall time) include GC and libuv threads.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Event loop utilization above which the result is flagged as limited by the generator. */
export const generatorSaturatedElu = 0.9;

/** CPU used by this process between start and stop. */
export interface CpuSample {
  /** Wall time in milliseconds. */
  wallMs: number;
  /** User + system CPU time in milliseconds. */
  cpuMs: number;
  /** cpuMs / wallMs: average cores busy. */
  cores: number;
  /** Cores the machine offers (os.availableParallelism()). */
  coresAvailable: number;
  /** Fraction of wall time the event loop was busy, 0..1. */
  eventLoopUtilization: number;
}

/** A started measurement; call stop() once to read it. */
export interface CpuMeter {
  stop(): CpuSample;
}

/** Starts measuring this process's CPU and event loop use. */
export function startCpuMeter(): CpuMeter {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  return {
    stop(): CpuSample {
      const cpu = process.cpuUsage(cpu0);
      const wallMs = performance.now() - wall0;
      const elu = performance.eventLoopUtilization(elu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      return {
        wallMs,
        cpuMs,
        cores: wallMs > 0 ? cpuMs / wallMs : 0,
        coresAvailable: availableParallelism(),
        eventLoopUtilization: elu.utilization,
      };
    },
  };
}

/** "1.7 cores of 2, event loop 97% busy" plus a warning when the generator was saturated. */
export function formatCpu(s: CpuSample): string {
  const base = `${s.cores.toFixed(2)} cores of ${s.coresAvailable}, event loop ${Math.round(s.eventLoopUtilization * 100)}% busy`;
  return s.eventLoopUtilization >= generatorSaturatedElu ? `${base} (generator-bound!)` : base;
}
