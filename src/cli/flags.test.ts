// Goal: tsetcd parses etcd's flags as etcd (Go's flag package) does, and validates them with etcd's
// messages. Method: table tests over argv/env inputs and the resulting values or error texts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig } from './config.js';
import { FlagError, parseDurationMs, parseFlags } from './flags.js';

test('--flag=value, --flag value, -flag value and booleans', () => {
  const f = parseFlags(
    ['--name=n1', '--data-dir', '/d', '-max-txn-ops', '7', '--strict-reconfig-check=false', '--pre-vote'],
    {},
  );
  assert.equal(f.values.get('name'), 'n1');
  assert.equal(f.values.get('data-dir'), '/d');
  assert.equal(f.values.get('max-txn-ops'), '7');
  assert.equal(f.values.get('strict-reconfig-check'), 'false');
  assert.equal(f.values.get('pre-vote'), 'true');
  assert.equal(f.values.get('max-request-bytes'), '1572864', 'default as etcd');
  assert.equal(f.values.get('listen-client-urls'), 'http://localhost:2379', 'default as etcd');
});

test('errors name the flag as Go does', () => {
  const cases: [string[], string][] = [
    [['--foo'], 'flag provided but not defined: -foo'],
    [['--max-txn-ops=x'], 'invalid value "x" for -max-txn-ops flag: parse error'],
    [['--pre-vote=maybe'], 'invalid boolean value "maybe" for -pre-vote flag: parse error'],
    [['--name'], 'flag needs an argument: -name'],
    [['stray'], "'stray' is not a valid flag"],
    [
      ['--enable-v2=true'],
      "--enable-v2 is not supported by tsetcd yet (only its default, 'false', is accepted)",
    ],
    [['--election-timeout', '1s'], 'invalid value "1s" for -election-timeout flag: parse error'],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseFlags(argv, {}),
      (e: Error) => e instanceof FlagError && e.message === message,
      argv.join(' '),
    );
  }
});

test('ETCD_* environment variables, with the command line winning', () => {
  const f = parseFlags(['--name', 'cli'], {
    ETCD_NAME: 'env',
    ETCD_MAX_TXN_OPS: '9',
    ETCD_BOGUS: '1',
    ETCDCTL_API: '3',
  });
  assert.equal(f.values.get('name'), 'cli');
  assert.equal(f.values.get('max-txn-ops'), '9');
  assert.equal(f.warnings.length, 2);
  assert.match(f.warnings.join('\n'), /ETCD_NAME: shadowed/);
  assert.match(f.warnings.join('\n'), /unrecognized environment variable ETCD_BOGUS=1/);
});

test('Go durations', () => {
  assert.equal(parseDurationMs('1h30m'), 5_400_000);
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('0'), 0);
  assert.equal(parseDurationMs('5x'), undefined);
});

test('config: data dir from name, one-member initial cluster from the advertised peer URLs', () => {
  const cfg = buildConfig(parseFlags(['--name', 'infra1'], {}));
  assert.equal(cfg.member.dataDir, 'infra1.etcd');
  assert.deepEqual(cfg.member.initialCluster, [{ name: 'infra1', peerUrls: ['http://localhost:2380'] }]);
  assert.deepEqual(cfg.listenClient, [
    { url: 'http://localhost:2379', host: 'localhost', port: 2379, secure: false },
  ]);
});

test('config: lease checkpointing is on unless --experimental-enable-lease-checkpoint=false (etcd: off)', () => {
  assert.equal(buildConfig(parseFlags([], {})).member.leaseCheckpoint, true);
  const off = parseFlags(['--experimental-enable-lease-checkpoint=false'], {});
  assert.equal(buildConfig(off).member.leaseCheckpoint, false);
  const env = parseFlags([], { ETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT: 'false' });
  assert.equal(buildConfig(env).member.leaseCheckpoint, false);
  assert.equal(
    buildConfig(parseFlags(['--experimental-enable-lease-checkpoint'], {})).member.leaseCheckpoint,
    true,
  );
});

test('config: etcd validation rules and messages', () => {
  const cases: [string[], string][] = [
    [
      ['--listen-client-urls', 'http://127.0.0.1:1'],
      '--advertise-client-urls is required when --listen-client-urls is set explicitly',
    ],
    [
      ['--name', 'x', '--initial-cluster', 'y=http://127.0.0.1:2380'],
      'couldn\'t find local name "x" in the initial cluster configuration',
    ],
    [
      ['--listen-client-urls', 'unixs://127.0.0.1:1', '--advertise-client-urls', 'https://127.0.0.1:1'],
      '--listen-client-urls: unixs://127.0.0.1:1: unix sockets are not supported by tsetcd yet',
    ],
    [['--auto-compaction-mode', 'weekly'], 'unknown auto-compaction-mode "weekly"'],
    [
      ['--log-level', 'loud'],
      'unknown log level "loud": only supports debug, info, warn, error, panic, or fatal',
    ],
    [
      ['--listen-peer-urls', 'unix://etcd.sock'],
      '--listen-peer-urls: URL address does not have the form "host:port": unix://etcd.sock',
    ],
    [
      ['--listen-peer-urls', 'unix://etcd.sock:1/x'],
      '--listen-peer-urls: URL must not contain a path: unix://etcd.sock:1/x',
    ],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => buildConfig(parseFlags(argv, {})),
      (e: Error) => e instanceof FlagError && e.message === message,
      argv.join(' '),
    );
  }
  // As etcd: several peer listen URLs, and unix:// ones (the socket file is the URL's host:port).
  const cfg = buildConfig(
    parseFlags(
      [
        '--listen-peer-urls',
        'unix://etcd.sock:1,http://127.0.0.1:2',
        '--listen-client-urls',
        'unix://localhost:2379',
        '--advertise-client-urls',
        'unix://localhost:2379',
      ],
      {},
    ),
  );
  assert.deepEqual(cfg.member.listenPeer, { path: 'etcd.sock:1' });
  assert.deepEqual(cfg.member.listenPeerAlso, [{ host: '127.0.0.1', port: 2 }]);
  assert.equal(cfg.listenClient[0]?.path, 'localhost:2379');
});
