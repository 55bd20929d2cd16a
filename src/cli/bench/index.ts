/**
 * `tsetcd bench`: a load generator for etcd's v3 gRPC API, modelled on etcd's `benchmark` tool,
 * that can also run one workload against several servers side by side (--compare).
 */
import { SeededRng } from '../../pkg/index.js';
import { type BenchConfig, BenchFlagError, benchUsage, parseBenchArgs } from './flags.js';
import { formatJson, formatTable } from './report.js';
import {
  aggregateRounds,
  BenchConnectError,
  type RoundResult,
  runRound,
  type TargetResult,
} from './runner.js';
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
 * Runs the workload of an already parsed config against each target and returns one result per
 * target, in --compare order. With --rounds N the targets take turns N times, reversing the order
 * every other round (A B, B A, A B, ...), so slow drift of the machine (other load, disk caches,
 * compaction) falls on every target alike. Throws BenchConnectError when a target cannot be reached.
 */
export async function runBenchConfig(cfg: BenchConfig, io: Pick<BenchIo, 'stderr'>): Promise<TargetResult[]> {
  const rounds = new Map<string, RoundResult[]>(cfg.targets.map((t) => [t.name, []]));
  for (let round = 0; round < cfg.rounds; round++) {
    const order = round % 2 === 0 ? cfg.targets : [...cfg.targets].reverse();
    for (const target of order) {
      // A fresh generator per run: every target gets the identical request sequence.
      const workload = buildWorkload(cfg, new SeededRng(cfg.seed + round));
      let label = cfg.compare ? `${cfg.command} ${target.name}` : cfg.command;
      if (cfg.rounds > 1) label += ` (round ${round + 1}/${cfg.rounds})`;
      rounds
        .get(target.name)!
        .push(await runRound(cfg, target, workload, { label, progressStream: io.stderr }));
    }
  }
  return cfg.targets.map((t) => aggregateRounds(t, rounds.get(t.name)!));
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
      io.stderr.write(`Error: ${err.message}\nRun 'tsetcd bench --help' for usage.\n`);
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
