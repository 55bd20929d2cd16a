/**
 * Turns benchmark results into the table (one column per target, ratio columns with --compare) or
 * the JSON document (-w json). Pure: results in, text out.
 */
import { renderTable } from '../ui/index.js';
import { formatCpu } from './cpu.js';
import type { BenchConfig } from './flags.js';
import type { LatencySummary } from './histogram.js';
import type { TargetResult } from './runner.js';

/** How a target compares with the baseline (the first --compare target). Above 1 means faster. */
export interface TargetRatio {
  target: string;
  baseline: string;
  /** target throughput / baseline throughput. */
  throughput: number;
  /** baseline latency / target latency, per statistic. */
  latency: Record<'avg' | 'p50' | 'p90' | 'p99' | 'p999' | 'max', number>;
}

const latencyRows: readonly [keyof TargetRatio['latency'], keyof LatencySummary, string][] = [
  ['avg', 'avgMs', 'latency avg (ms)'],
  ['p50', 'p50Ms', 'latency p50 (ms)'],
  ['p90', 'p90Ms', 'latency p90 (ms)'],
  ['p99', 'p99Ms', 'latency p99 (ms)'],
  ['p999', 'p999Ms', 'latency p99.9 (ms)'],
  ['max', 'maxMs', 'latency max (ms)'],
];

const div = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);

/** Ratios of every target after the first against the first. */
export function computeRatios(results: readonly TargetResult[]): TargetRatio[] {
  const base = results[0];
  if (base === undefined) return [];
  return results.slice(1).map((r) => ({
    target: r.target.name,
    baseline: base.target.name,
    throughput: div(r.throughput, base.throughput),
    latency: Object.fromEntries(
      latencyRows.map(([k, field]) => [k, div(base.latency[field] as number, r.latency[field] as number)]),
    ) as TargetRatio['latency'],
  }));
}

/** One line describing the workload, e.g. `put: 10000 requests, 100 clients over 10 conns, ...`. */
export function describeWorkload(cfg: BenchConfig): string {
  const parts = [
    `${cfg.rounds > 1 ? `${cfg.rounds} rounds of ` : ''}${cfg.total} requests${cfg.warmup > 0 ? ` (+${cfg.warmup} warm-up)` : ''}`,
    `${cfg.clients} client${cfg.clients === 1 ? '' : 's'} over ${cfg.conns} conn${cfg.conns === 1 ? '' : 's'}`,
  ];
  if (cfg.command === 'range') {
    parts.push(
      `key ${JSON.stringify(cfg.rangeKey)}${cfg.rangeEnd === '' ? '' : ` to ${JSON.stringify(cfg.rangeEnd)}`}`,
      cfg.consistency === 'l' ? 'linearizable' : 'serializable',
    );
  } else {
    if (cfg.command === 'txn-put') parts.push(`${cfg.txnOps} put${cfg.txnOps === 1 ? '' : 's'} per txn`);
    parts.push(
      `key ${cfg.keySize} B`,
      `value ${cfg.valSize} B`,
      `key space ${cfg.keySpaceSize}${cfg.keySpaceSize > 1 ? (cfg.sequentialKeys ? ' sequential' : ' random') : ''}`,
    );
  }
  parts.push(cfg.rate > 0 ? `rate ${cfg.rate}/s` : 'unlimited rate', `via ${cfg.transport}`);
  return `${cfg.command}: ${parts.join(', ')}`;
}

const ms = (v: number): string => v.toFixed(3);
const ratio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');

/** The human-readable report: workload line, table, error breakdown, notes. Ends in a newline. */
export function formatTable(cfg: BenchConfig, results: readonly TargetResult[]): string {
  const ratios = cfg.compare ? computeRatios(results) : [];
  const header = [
    'METRIC',
    ...results.map((r) => (cfg.compare ? r.target.name : r.target.endpoints.join(','))),
    ...ratios.map((q) => `${q.target} vs ${q.baseline}`),
  ];
  const blank = ratios.map(() => '');
  const rows: string[][] = [
    ['requests', ...results.map((r) => String(r.requests)), ...blank],
    ['errors', ...results.map((r) => String(r.errorCount)), ...blank],
    ['duration (s)', ...results.map((r) => r.durationSec.toFixed(3)), ...blank],
    [
      'throughput (req/s)',
      ...results.map((r) => r.throughput.toFixed(0)),
      ...ratios.map((q) => ratio(q.throughput)),
    ],
    ...(cfg.rounds > 1
      ? [
          [
            'throughput min-max',
            ...results.map(
              (r) =>
                `${Math.min(...r.throughputPerRound).toFixed(0)}-${Math.max(...r.throughputPerRound).toFixed(0)}`,
            ),
            ...blank,
          ],
        ]
      : []),
    ...latencyRows.map(([k, field, title]) => [
      title,
      ...results.map((r) => ms(r.latency[field] as number)),
      ...ratios.map((q) => ratio(q.latency[k])),
    ]),
    ...(results.some((r) => r.responses.length > 0)
      ? [['response (probe)', ...results.map((r) => r.responses.join(' | ')), ...blank]]
      : []),
    [
      'bench CPU (cores)',
      ...results.map((r) => `${r.cpu.cores.toFixed(2)} of ${r.cpu.coresAvailable}`),
      ...blank,
    ],
    [
      'bench CPU per request (us)',
      ...results.map((r) => (r.requests > 0 ? ((r.cpu.cpuMs * 1000) / r.requests).toFixed(0) : '-')),
      ...blank,
    ],
    [
      'bench event loop busy',
      ...results.map((r) => `${Math.round(r.cpu.eventLoopUtilization * 100)}%`),
      ...blank,
    ],
  ];
  const out: string[] = [
    describeWorkload(cfg),
    renderTable({ header, rows, align: header.map((_, c) => (c === 0 ? 'left' : 'right')) }).trimEnd(),
  ];
  for (const r of results) {
    for (const [what, n] of Object.entries(r.errors)) {
      out.push(`${cfg.compare ? `${r.target.name}: ` : ''}${n} x ${what}`);
    }
  }
  for (const r of results) {
    out.push(`${cfg.compare ? `${r.target.name} ` : ''}bench CPU: ${formatCpu(r.cpu)}`);
  }
  if (ratios.length > 0) {
    out.push('ratios: throughput target/baseline, latency baseline/target; above 1.00x the target is faster');
  }
  return `${out.join('\n')}\n`;
}

/** The -w json document: workload, per-target results and ratios. */
export function formatJson(cfg: BenchConfig, results: readonly TargetResult[]): string {
  const { progress: _p, writeOut: _w, ...workload } = cfg;
  return `${JSON.stringify(
    {
      command: cfg.command,
      workload,
      results: results.map((r) => ({
        target: r.target.name,
        endpoints: r.target.endpoints,
        rounds: r.rounds,
        requests: r.requests,
        succeeded: r.succeeded,
        errorCount: r.errorCount,
        errors: r.errors,
        durationSec: r.durationSec,
        throughput: r.throughput,
        throughputPerRound: r.throughputPerRound,
        latencyMs: r.latency,
        responses: r.responses,
        benchCpu: r.cpu,
      })),
      ratios: cfg.compare ? computeRatios(results) : [],
    },
    null,
    2,
  )}\n`;
}
