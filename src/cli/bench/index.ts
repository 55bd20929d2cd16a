/**
 * `tsetcd bench`: a load generator for etcd's v3 gRPC API, modelled on etcd's `benchmark` tool,
 * that can also run one workload against several servers side by side (--compare).
 */
import { SeededRng } from '../../pkg/index.js';
import { type BenchConfig, BenchFlagError, benchUsage, parseBenchArgs } from './flags.js';
import { formatJson, formatTable } from './report.js';
import { BenchConnectError, runTarget, type TargetResult } from './runner.js';
import { buildWorkload } from './workload.js';

export { type BenchConfig, BenchFlagError, parseBenchArgs } from './flags.js';
export { BenchConnectError, type TargetResult } from './runner.js';

/** Where runBench writes; tests pass in-memory sinks. */
export interface BenchIo {
  /** Results (table or JSON). */
  stdout: { write(s: string): unknown };
  /** Usage errors, connection errors and the progress bar. */
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
}

/**
 * Runs the workload of an already parsed config against each target in turn and returns the
 * results. Throws BenchConnectError when a target cannot be reached.
 */
export async function runBenchConfig(cfg: BenchConfig, io: Pick<BenchIo, 'stderr'>): Promise<TargetResult[]> {
  const results: TargetResult[] = [];
  for (const target of cfg.targets) {
    // A fresh generator per target: every target gets the identical request sequence.
    const workload = buildWorkload(cfg, new SeededRng(cfg.seed));
    const label = cfg.compare ? `${cfg.command} ${target.name}` : cfg.command;
    results.push(await runTarget(cfg, target, workload, { label, progressStream: io.stderr }));
  }
  return results;
}

/**
 * Entry of `tsetcd bench <args>`. Returns the exit code: 0 when every request succeeded, 1 when some
 * failed or a target was unreachable, 2 on a usage error. Never throws for those cases.
 */
export async function runBench(argv: string[], io: BenchIo = process): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof BenchFlagError) {
      io.stderr.write(`Error: ${err.message}\n\n${benchUsage}`);
      return 2;
    }
    throw err;
  }
  if (parsed.kind === 'help') {
    io.stdout.write(benchUsage);
    return 0;
  }
  const cfg = parsed.config;
  let results: TargetResult[];
  try {
    results = await runBenchConfig(cfg, io);
  } catch (err) {
    if (err instanceof BenchConnectError) {
      io.stderr.write(`Error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  io.stdout.write(cfg.writeOut === 'json' ? formatJson(cfg, results) : formatTable(cfg, results));
  return results.every((r) => r.errorCount === 0) ? 0 : 1;
}
