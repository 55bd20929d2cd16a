/**
 * Command-line parsing for `tsetcd bench`. Flag names follow etcd's `benchmark` tool where it has
 * one. Pure: argv in, a validated BenchConfig (or a BenchFlagError naming the bad flag) out.
 */

import { parseDurationMs } from '../../pkg/duration.js';
import type { BenchTls, TransportKind } from './transport.js';

export { parseDurationMs };

/** The workloads the generator knows. */
export type BenchCommand = 'put' | 'range' | 'txn-put';
/** Range consistency: `l` linearizable (ReadIndex), `s` serializable (local read). */
export type Consistency = 'l' | 's';
/** Result format: a human table or one JSON document on stdout. */
export type OutputFormat = 'table' | 'json';

/** A named server (or cluster) to load: one entry per column of the result table. */
export interface BenchTarget {
  /** Display name, e.g. `etcd`; `default` when --compare is not used. */
  name: string;
  /** host:port list; connection i dials endpoints[i % endpoints.length], as etcd's benchmark does. */
  endpoints: string[];
}

/** A fully validated benchmark run description. */
export interface BenchConfig {
  command: BenchCommand;
  /** Targets run one after another with the same workload; more than one only with --compare. */
  targets: BenchTarget[];
  /** True when --compare was given: the table gets one column per target plus ratio columns. */
  compare: boolean;
  /** Concurrent in-flight requests (each client waits for its response before sending the next). */
  clients: number;
  /** gRPC channels, each its own TCP connection; clients are spread over them round robin. */
  conns: number;
  /** Measured requests per target. */
  total: number;
  /** Unmeasured requests sent before each measured round, to warm up JIT, connections and caches. */
  warmup: number;
  /** Measured rounds per target; targets take turns, order reversed every other round. */
  rounds: number;
  /** Key size in bytes (put, txn-put). */
  keySize: number;
  /** Value size in bytes (put, txn-put). */
  valSize: number;
  /** Number of distinct keys written (put, txn-put); 1 means every request writes the same key. */
  keySpaceSize: number;
  /** Keys in order 0,1,2,... (mod key space) instead of drawn at random. */
  sequentialKeys: boolean;
  /** Requests per second across all clients; 0 means as fast as the server answers. */
  rate: number;
  /** Puts per transaction (txn-put). */
  txnOps: number;
  /** Key (range): the first key read. */
  rangeKey: string;
  /** Range end (range): empty means the single key `rangeKey`. */
  rangeEnd: string;
  /** Range consistency (range). */
  consistency: Consistency;
  /** Output format (-w / --write-out). */
  writeOut: OutputFormat;
  /** How long to wait for every connection to become ready, in milliseconds. */
  dialTimeoutMs: number;
  /** Seed for random key choice, so runs are reproducible. */
  seed: number;
  /** Progress bar: `auto` draws on stderr only when it is a TTY; `off` never draws. */
  progress: 'auto' | 'off';
  /** Client stack: `grpc-js` (default) or `h2`, gRPC written directly on node:http2 (transport.ts). */
  transport: TransportKind;
  /** TLS (etcd benchmark's --cacert, --cert, --key: file paths); undefined = plaintext. */
  tls?: BenchTls;
}

/** What parseBenchArgs returns: a run, or a request for the usage text. */
export type ParsedBench = { kind: 'run'; config: BenchConfig } | { kind: 'help'; command?: BenchCommand };

/** A usage error: unknown flag or command, missing or malformed value, value out of range. */
export class BenchFlagError extends Error {
  override name = 'BenchFlagError';
}

/** Upper bound on --clients: each client is one in-flight request. */
export const clientsMax = 100_000;
/** Upper bound on --conns: each is a TCP connection and an HTTP/2 session. */
export const connsMax = 10_000;
/** Upper bound on --key-size (etcd rejects requests above 1.5 MiB anyway). */
export const keySizeBytesMax = 1 << 20;
/** Upper bound on --val-size. */
export const valSizeBytesMax = 64 << 20;
/** Upper bound on --txn-ops (etcd's server default --max-txn-ops is 128; larger tests its error). */
export const txnOpsMax = 100_000;
/** Upper bound on --rounds. */
export const roundsMax = 1000;
/** Upper bound on --total and --warmup. */
export const totalMax = 1_000_000_000;

const commands: readonly BenchCommand[] = ['put', 'range', 'txn-put'];

type FlagKind = 'int' | 'string' | 'bool' | 'duration';
interface FlagSpec {
  kind: FlagKind;
  /** Commands that accept the flag; undefined means every command. */
  only?: readonly BenchCommand[];
  short?: string;
}

const flagSpecs: Record<string, FlagSpec> = {
  endpoints: { kind: 'string' },
  compare: { kind: 'string' },
  clients: { kind: 'int' },
  conns: { kind: 'int' },
  total: { kind: 'int' },
  warmup: { kind: 'int' },
  rounds: { kind: 'int' },
  rate: { kind: 'int' },
  'dial-timeout': { kind: 'duration' },
  seed: { kind: 'int' },
  'write-out': { kind: 'string', short: 'w' },
  progress: { kind: 'string' },
  transport: { kind: 'string' },
  cacert: { kind: 'string' },
  cert: { kind: 'string' },
  key: { kind: 'string' },
  help: { kind: 'bool', short: 'h' },
  'key-size': { kind: 'int', only: ['put', 'txn-put'] },
  'val-size': { kind: 'int', only: ['put', 'txn-put'] },
  'key-space-size': { kind: 'int', only: ['put', 'txn-put'] },
  'sequential-keys': { kind: 'bool', only: ['put', 'txn-put'] },
  'txn-ops': { kind: 'int', only: ['txn-put'] },
  consistency: { kind: 'string', only: ['range'] },
};

const shortFlags: Record<string, string> = Object.fromEntries(
  Object.entries(flagSpecs)
    .filter(([, s]) => s.short !== undefined)
    .map(([name, s]) => [s.short!, name]),
);

/** The default endpoint, as etcd's benchmark. */
export const defaultEndpoint = '127.0.0.1:2379';

/**
 * Parses `--compare name=ep[,ep...][,name=ep...]`: an item with `=` starts a target, an item
 * without one adds an endpoint to the target before it.
 */
export function parseCompare(text: string): BenchTarget[] {
  const targets: BenchTarget[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq >= 0) {
      const name = item.slice(0, eq).trim();
      const ep = item.slice(eq + 1).trim();
      if (name === '' || ep === '')
        throw new BenchFlagError(`invalid --compare item "${item}": want name=host:port`);
      if (targets.some((t) => t.name === name))
        throw new BenchFlagError(`--compare names target "${name}" twice`);
      targets.push({ name, endpoints: [ep] });
    } else {
      const last = targets.at(-1);
      if (last === undefined)
        throw new BenchFlagError(`invalid --compare item "${item}": want name=host:port first`);
      last.endpoints.push(item);
    }
  }
  if (targets.length < 2)
    throw new BenchFlagError('--compare needs at least two targets, e.g. etcd=h:2379,tsetcd=h:22379');
  return targets;
}

function checkEndpoint(ep: string, flag: string): void {
  if (!/^[^\s/]+:\d{1,5}$/.test(ep))
    throw new BenchFlagError(`invalid endpoint "${ep}" in --${flag}: want host:port`);
}

/** Smallest number of bytes that holds etcd's zig-zag varint of n (binary.PutVarint). */
export function varintSize(n: number): number {
  let v = 2 * n;
  let size = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

/**
 * Parses the arguments after `bench` (e.g. `put --clients 4 --total 200`). Throws BenchFlagError on
 * any usage error; the message names the offending flag or argument.
 */
export function parseBenchArgs(argv: readonly string[]): ParsedBench {
  const values = new Map<string, string | boolean>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.startsWith('-') && arg.length > 1) {
      const eq = arg.indexOf('=');
      const short = eq >= 0 ? arg.slice(1, eq) : arg.slice(1);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      const long = shortFlags[short];
      if (long === undefined) throw new BenchFlagError(`unknown shorthand flag: ${arg}`);
      name = long;
    } else {
      positional.push(arg);
      continue;
    }
    const spec = flagSpecs[name];
    if (spec === undefined) throw new BenchFlagError(`unknown flag: --${name}`);
    if (spec.kind === 'bool') {
      if (inline === undefined) values.set(name, true);
      else if (inline === 'true' || inline === 'false') values.set(name, inline === 'true');
      else throw new BenchFlagError(`invalid value "${inline}" for --${name}: want true or false`);
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new BenchFlagError(`flag needs an argument: --${name}`);
      inline = next;
      i++;
    }
    values.set(name, inline);
  }

  const commandText = positional.shift();
  if (values.get('help') === true) {
    return commandText !== undefined && (commands as readonly string[]).includes(commandText)
      ? { kind: 'help', command: commandText as BenchCommand }
      : { kind: 'help' };
  }
  if (commandText === undefined)
    throw new BenchFlagError(`missing command: want one of ${commands.join(', ')}`);
  if (!(commands as readonly string[]).includes(commandText)) {
    throw new BenchFlagError(`unknown command "${commandText}": want one of ${commands.join(', ')}`);
  }
  const command = commandText as BenchCommand;
  for (const name of values.keys()) {
    const only = flagSpecs[name]!.only;
    if (only !== undefined && !only.includes(command)) {
      throw new BenchFlagError(`flag --${name} does not apply to ${command} (only ${only.join(', ')})`);
    }
  }

  const str = (name: string, def: string): string => {
    const v = values.get(name);
    return typeof v === 'string' ? v : def;
  };
  const bool = (name: string): boolean => values.get(name) === true;
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = values.get(name);
    if (typeof v !== 'string') return def;
    if (!/^\d+$/.test(v)) throw new BenchFlagError(`invalid value "${v}" for --${name}: want a whole number`);
    const n = Number(v);
    if (n < min || n > max) throw new BenchFlagError(`--${name} must be in [${min}, ${max}], got ${v}`);
    return n;
  };

  const compareText = values.get('compare');
  let targets: BenchTarget[];
  if (typeof compareText === 'string') {
    if (values.has('endpoints')) throw new BenchFlagError('--endpoints and --compare are exclusive');
    targets = parseCompare(compareText);
    for (const t of targets) for (const ep of t.endpoints) checkEndpoint(ep, 'compare');
  } else {
    const eps = str('endpoints', defaultEndpoint)
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
    if (eps.length === 0) throw new BenchFlagError('--endpoints is empty');
    for (const ep of eps) checkEndpoint(ep, 'endpoints');
    targets = [{ name: 'default', endpoints: eps }];
  }

  const clients = int('clients', 1, 1, clientsMax);
  const conns = int('conns', 1, 1, connsMax);
  if (conns > clients) throw new BenchFlagError(`--conns (${conns}) must not exceed --clients (${clients})`);

  const writeOut = str('write-out', 'table');
  if (writeOut !== 'table' && writeOut !== 'json') {
    throw new BenchFlagError(`invalid value "${writeOut}" for --write-out: want table or json`);
  }
  const progress = str('progress', 'auto');
  if (progress !== 'auto' && progress !== 'off') {
    throw new BenchFlagError(`invalid value "${progress}" for --progress: want auto or off`);
  }
  const transport = str('transport', 'grpc-js');
  if (transport !== 'grpc-js' && transport !== 'h2') {
    throw new BenchFlagError(`invalid value "${transport}" for --transport: want grpc-js or h2`);
  }
  const consistency = str('consistency', 'l');
  if (consistency !== 'l' && consistency !== 's') {
    throw new BenchFlagError(`invalid value "${consistency}" for --consistency: want l or s`);
  }
  const cacert = str('cacert', '');
  const certFile = str('cert', '');
  const keyFile = str('key', '');
  if ((certFile === '') !== (keyFile === ''))
    throw new BenchFlagError('--cert and --key must be given together');
  const tls = cacert !== '' || certFile !== '' ? { cacert, cert: certFile, key: keyFile } : undefined;
  const dialText = str('dial-timeout', '5s');
  const dialTimeoutMs = parseDurationMs(dialText);
  if (dialTimeoutMs === undefined || dialTimeoutMs <= 0) {
    throw new BenchFlagError(
      `invalid value "${dialText}" for --dial-timeout: want a duration like 5s or 500ms`,
    );
  }

  const keySize = int('key-size', 8, 1, keySizeBytesMax);
  const keySpaceSize = int('key-space-size', 1, 1, 2 ** 31);
  if (varintSize(keySpaceSize - 1) > keySize) {
    throw new BenchFlagError(
      `--key-size ${keySize} is too small to number --key-space-size ${keySpaceSize} keys`,
    );
  }
  const txnOps = int('txn-ops', 1, 1, txnOpsMax);
  if (command === 'txn-put' && txnOps > keySpaceSize) {
    throw new BenchFlagError(
      `--txn-ops (${txnOps}) must not exceed --key-space-size (${keySpaceSize}): keys in one txn must differ`,
    );
  }

  let rangeKey = '';
  let rangeEnd = '';
  if (command === 'range') {
    if (positional.length < 1) throw new BenchFlagError('range needs a key: range <key> [end]');
    if (positional.length > 2)
      throw new BenchFlagError(`range takes at most 2 arguments, got ${positional.length}`);
    rangeKey = positional[0]!;
    rangeEnd = positional[1] ?? '';
    if (rangeKey === '') throw new BenchFlagError('range key must not be empty');
  } else if (positional.length > 0) {
    throw new BenchFlagError(`${command} takes no arguments, got "${positional.join(' ')}"`);
  }

  return {
    kind: 'run',
    config: {
      command,
      targets,
      compare: typeof compareText === 'string',
      clients,
      conns,
      total: int('total', 10_000, 1, totalMax),
      warmup: int('warmup', 0, 0, totalMax),
      rounds: int('rounds', 1, 1, roundsMax),
      keySize,
      valSize: int('val-size', 8, 0, valSizeBytesMax),
      keySpaceSize,
      sequentialKeys: bool('sequential-keys'),
      rate: int('rate', 0, 0, 1_000_000_000),
      txnOps,
      rangeKey,
      rangeEnd,
      consistency,
      writeOut,
      dialTimeoutMs,
      seed: int('seed', 1, 0, 0xffff_ffff),
      progress,
      transport,
      tls,
    },
  };
}

/** The usage text printed by `tsetcd bench --help`. */
export const benchUsage = `Usage: tsetcd bench <command> [flags]

A load generator for etcd's v3 gRPC API (modelled on etcd's benchmark tool).

Commands:
  put                 Put requests
  range <key> [end]   Range requests
  txn-put             Txn requests, each with --txn-ops puts in the success branch

Common flags:
  --endpoints list        comma-separated host:port (default ${defaultEndpoint})
  --compare spec          side by side: name=host:port[,host:port],name=host:port ... runs the same
                          workload against each target in turn and prints one table with ratios
  --clients n             concurrent in-flight requests (default 1)
  --conns n               gRPC connections, clients spread over them (default 1)
  --total n               measured requests per target and round (default 10000)
  --warmup n              unmeasured requests before each round (default 0)
  --rounds n              measured rounds per target; with --compare the targets take turns,
                          order reversed every other round (default 1)
  --rate n                requests per second, 0 = unlimited (default 0)
  --dial-timeout d        time to wait for connections (default 5s)
  --seed n                seed for random keys (default 1)
  -w, --write-out f       table or json (default table)
  --progress auto|off     progress bar on stderr when it is a TTY (default auto)
  --cacert f, --cert f, --key f
                          TLS: trusted CA, client certificate and key (etcd's benchmark flags)
  --transport t           grpc-js (default) or h2: gRPC on bare node:http2, about half the
                          generator CPU per request, no reconnects

put / txn-put flags:
  --key-size n            key bytes (default 8)
  --val-size n            value bytes (default 8)
  --key-space-size n      distinct keys (default 1)
  --sequential-keys       keys in order instead of random
  --txn-ops n             puts per txn (txn-put, default 1)

range flags:
  --consistency l|s       linearizable or serializable (default l)

Exit codes: 0 all requests succeeded, 1 some failed or no connection, 2 usage error.
`;
