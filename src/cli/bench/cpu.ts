/**
 * The load generator's own CPU use over a run, so that a run where the generator (not the server)
 * is the bottleneck shows itself: "bench CPU: 1.0 cores of 2, event loop 97% busy".
 *
 * Node runs the generator's JavaScript and grpc-js on one thread, so the event loop utilization is
 * the sharper signal: near 100% means requests queue inside the generator and the measured latency
 * includes its own delay. Cores (user + system CPU time over wall time) include GC and libuv threads.
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Event loop utilization above which the generator's own thread is the limit. */
export const generatorSaturatedElu = 0.9;
/**
 * Below this many cores, a saturated event loop was not computing but waiting for a CPU: other
 * processes (or the server under test) held the cores. Reported differently, because the fix is a
 * quieter machine, not a cheaper generator.
 */
export const generatorStarvedCores = 0.75;

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
  /**
   * The machine's 1-minute load average when the run started. At or above coresAvailable, other
   * processes already wanted every core: the generator and the server were short of CPU and the
   * numbers understate both.
   */
  loadAvg1mAtStart: number;
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
  const loadAvg1mAtStart = loadavg()[0] ?? 0;
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
        loadAvg1mAtStart,
      };
    },
  };
}

/**
 * "1.70 cores of 2, event loop 97% busy" plus warnings: the generator was saturated (its own delay
 * is in the latencies) by its own work or for want of a free core, or the machine was already busy
 * when the run started.
 */
export function formatCpu(s: CpuSample): string {
  let text = `${s.cores.toFixed(2)} cores of ${s.coresAvailable}, event loop ${Math.round(s.eventLoopUtilization * 100)}% busy`;
  if (s.eventLoopUtilization >= generatorSaturatedElu) {
    text +=
      s.cores >= generatorStarvedCores ? ' (generator-bound!)' : ' (generator short of CPU: cores are busy)';
  }
  if (s.loadAvg1mAtStart >= s.coresAvailable) {
    text += `; machine busy before the run (load ${s.loadAvg1mAtStart.toFixed(1)} on ${s.coresAvailable} cores)`;
  }
  return text;
}
