/**
 * Goal: `tsetcd bench` parses etcd benchmark's flags with etcd's defaults, and every usage error is
 * a BenchFlagError whose message names the offending flag or argument.
 * Method: table tests of argv -> config fields, and argv -> error message pattern.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type BenchConfig,
  BenchFlagError,
  parseBenchArgs,
  parseCompare,
  parseDurationMs,
  varintSize,
} from './flags.js';

function config(argv: string[]): BenchConfig {
  const r = parseBenchArgs(argv);
  assert.equal(r.kind, 'run');
  return (r as { kind: 'run'; config: BenchConfig }).config;
}

test('defaults follow etcd benchmark', () => {
  const c = config(['put']);
  assert.equal(c.command, 'put');
  assert.deepEqual(c.targets, [{ name: 'default', endpoints: ['127.0.0.1:2379'] }]);
  assert.equal(c.compare, false);
  assert.equal(c.clients, 1);
  assert.equal(c.conns, 1);
  assert.equal(c.total, 10_000);
  assert.equal(c.keySize, 8);
  assert.equal(c.valSize, 8);
  assert.equal(c.keySpaceSize, 1);
  assert.equal(c.sequentialKeys, false);
  assert.equal(c.rate, 0);
  assert.equal(c.writeOut, 'table');
  assert.equal(c.dialTimeoutMs, 5000);
  assert.equal(c.warmup, 0);
  assert.equal(c.progress, 'auto');
  assert.equal(c.rounds, 1);
  assert.equal(c.transport, 'grpc-js');
});

test('flags: separate and inline values, shorthands, booleans, flags before the command', () => {
  const c = config([
    '--clients=100',
    'put',
    '--conns',
    '10',
    '--total',
    '200',
    '--key-size',
    '16',
    '--val-size=256',
    '--key-space-size',
    '1000',
    '--sequential-keys',
    '--rate',
    '500',
    '-w',
    'json',
    '--endpoints',
    'a:1, b:2',
    '--dial-timeout',
    '1500ms',
    '--warmup',
    '50',
    '--rounds',
    '3',
    '--transport',
    'h2',
  ]);
  assert.equal(c.rounds, 3);
  assert.equal(c.transport, 'h2');
  assert.equal(c.clients, 100);
  assert.equal(c.conns, 10);
  assert.equal(c.total, 200);
  assert.equal(c.keySize, 16);
  assert.equal(c.valSize, 256);
  assert.equal(c.keySpaceSize, 1000);
  assert.equal(c.sequentialKeys, true);
  assert.equal(c.rate, 500);
  assert.equal(c.writeOut, 'json');
  assert.deepEqual(c.targets[0]!.endpoints, ['a:1', 'b:2']);
  assert.equal(c.dialTimeoutMs, 1500);
  assert.equal(c.warmup, 50);
  assert.equal(config(['put', '--sequential-keys=false']).sequentialKeys, false);
  assert.equal(config(['put', '--write-out=json']).writeOut, 'json');
});

test('range takes a key, an optional end and --consistency', () => {
  const c = config(['range', 'foo', '--consistency', 's']);
  assert.equal(c.rangeKey, 'foo');
  assert.equal(c.rangeEnd, '');
  assert.equal(c.consistency, 's');
  const d = config(['range', 'a', 'z']);
  assert.equal(d.rangeEnd, 'z');
  assert.equal(d.consistency, 'l');
});

test('txn-put takes --txn-ops', () => {
  const c = config(['txn-put', '--txn-ops', '4', '--key-space-size', '10']);
  assert.equal(c.command, 'txn-put');
  assert.equal(c.txnOps, 4);
});

test('--compare: targets, extra endpoints, ratios baseline first', () => {
  const c = config(['put', '--compare', 'etcd=127.0.0.1:2379,tsetcd=127.0.0.1:22379,127.0.0.1:32379']);
  assert.equal(c.compare, true);
  assert.deepEqual(c.targets, [
    { name: 'etcd', endpoints: ['127.0.0.1:2379'] },
    { name: 'tsetcd', endpoints: ['127.0.0.1:22379', '127.0.0.1:32379'] },
  ]);
  assert.deepEqual(parseCompare(' a=h:1 , b=h:2 '), [
    { name: 'a', endpoints: ['h:1'] },
    { name: 'b', endpoints: ['h:2'] },
  ]);
});

test('help', () => {
  assert.deepEqual(parseBenchArgs(['--help']), { kind: 'help' });
  assert.deepEqual(parseBenchArgs(['put', '-h']), { kind: 'help', command: 'put' });
});

test('usage errors name the offending flag or argument', () => {
  const cases: [string[], RegExp][] = [
    [['put', '--bogus', '1'], /unknown flag: --bogus/],
    [['put', '--bogus=1'], /unknown flag: --bogus/],
    [['put', '-x'], /unknown shorthand flag: -x/],
    [['put', '--total'], /flag needs an argument: --total/],
    [['put', '--total', 'ten'], /invalid value "ten" for --total/],
    [['put', '--total', '-5'], /invalid value "-5" for --total/],
    [['put', '--total', '0'], /--total must be in \[1, /],
    [['put', '--clients', '1.5'], /invalid value "1.5" for --clients/],
    [['put', '--clients', '2', '--conns', '3'], /--conns \(3\) must not exceed --clients \(2\)/],
    [['put', '--consistency', 's'], /flag --consistency does not apply to put/],
    [['range', 'k', '--val-size', '3'], /flag --val-size does not apply to range/],
    [['put', '--txn-ops', '2'], /flag --txn-ops does not apply to put/],
    [['range', 'k', '--consistency', 'x'], /invalid value "x" for --consistency/],
    [['put', '-w', 'yaml'], /invalid value "yaml" for --write-out/],
    [['put', '--transport', 'tcp'], /invalid value "tcp" for --transport/],
    [['put', '--rounds', '0'], /--rounds must be in \[1, /],
    [['put', '--sequential-keys=yes'], /invalid value "yes" for --sequential-keys/],
    [['put', '--dial-timeout', '5'], /invalid value "5" for --dial-timeout/],
    [['put', '--endpoints', 'http://h:1'], /invalid endpoint "http:\/\/h:1" in --endpoints/],
    [['put', '--endpoints', ','], /--endpoints is empty/],
    [['put', '--key-size', '1', '--key-space-size', '100'], /--key-size 1 is too small/],
    [['txn-put', '--txn-ops', '3'], /--txn-ops \(3\) must not exceed --key-space-size \(1\)/],
    [[], /missing command/],
    [['get'], /unknown command "get"/],
    [['range'], /range needs a key/],
    [['range', 'a', 'b', 'c'], /range takes at most 2 arguments/],
    [['put', 'extra'], /put takes no arguments, got "extra"/],
    [['put', '--compare', 'etcd=h:1'], /--compare needs at least two targets/],
    [['put', '--compare', 'h:1,b=h:2'], /invalid --compare item "h:1"/],
    [['put', '--compare', 'a=h:1,a=h:2'], /names target "a" twice/],
    [['put', '--compare', 'a=h:1,b=nope'], /invalid endpoint "nope" in --compare/],
    [['put', '--compare', 'a=h:1,b=h:2', '--endpoints', 'h:3'], /--endpoints and --compare are exclusive/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => parseBenchArgs(argv),
      (err: unknown) => err instanceof BenchFlagError && re.test(err.message),
      `argv ${JSON.stringify(argv)} should fail with ${re}`,
    );
  }
});

test('helpers: durations and varint sizes', () => {
  assert.equal(parseDurationMs('5s'), 5000);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('2m'), 120_000);
  assert.equal(parseDurationMs('5'), undefined);
  // Zig-zag doubles n: 63 -> 126 fits one byte, 64 -> 128 needs two.
  assert.equal(varintSize(0), 1);
  assert.equal(varintSize(63), 1);
  assert.equal(varintSize(64), 2);
  assert.equal(varintSize(8191), 2);
  assert.equal(varintSize(8192), 3);
});
