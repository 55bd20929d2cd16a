/**
 * Goal: end to end against real etcd 3.4, the bench sends exactly --total requests, the server saw
 * exactly those writes, errors are counted by gRPC code and message, --compare prints one column
 * per target, and an unreachable endpoint exits 1.
 * Method: start Debian's etcd on free ports in a fresh temp dir (killed and removed in cleanup),
 * run runBench with in-memory stdout/stderr, then read the server's revision and key versions
 * with a plain grpc-js call. etcd's revision starts at 1 and every put adds exactly one.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { KVService, RangeRequest, type RangeResponse } from '../../proto/etcdserverpb/rpc.js';
import { runBench } from './index.js';
import { benchKey } from './workload.js';

/** How long etcd may take to answer its first Range. */
const etcdStartTimeoutMs = 20_000;
/** Polling interval while waiting for etcd. */
const pollIntervalMs = 50;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

let etcd: ChildProcess | undefined;
let dataDir = '';
let endpoint = '';
let kv: grpc.Client | undefined;
let etcdLog = '';

function range(req: Partial<RangeRequest>): Promise<RangeResponse> {
  const def = KVService.range;
  return new Promise((resolve, reject) =>
    kv!.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      RangeRequest.fromPartial(req),
      { deadline: Date.now() + 5000 },
      (err, res) => (err || res === undefined ? reject(err) : resolve(res)),
    ),
  );
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tsetcd-bench-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  endpoint = `127.0.0.1:${clientPort}`;
  const clientURL = `http://${endpoint}`;
  const peerURL = `http://127.0.0.1:${peerPort}`;
  etcd = spawn(
    'etcd',
    [
      '--name=bench',
      `--data-dir=${join(dataDir, 'data')}`,
      `--listen-client-urls=${clientURL}`,
      `--advertise-client-urls=${clientURL}`,
      `--listen-peer-urls=${peerURL}`,
      `--initial-advertise-peer-urls=${peerURL}`,
      `--initial-cluster=bench=${peerURL}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  etcd.stdout!.on('data', (d: Buffer) => {
    etcdLog = (etcdLog + d.toString()).slice(-8000);
  });
  etcd.stderr!.on('data', (d: Buffer) => {
    etcdLog = (etcdLog + d.toString()).slice(-8000);
  });
  kv = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  const deadline = Date.now() + etcdStartTimeoutMs;
  for (;;) {
    try {
      await range({ key: Buffer.from('ping') });
      return;
    } catch (err) {
      if (Date.now() > deadline || etcd.exitCode !== null) {
        throw new Error(`etcd did not start: ${(err as Error).message}\n${etcdLog}`);
      }
      await new Promise((r) => setTimeout(r, pollIntervalMs));
    }
  }
});

after(async () => {
  kv?.close();
  if (etcd !== undefined && etcd.exitCode === null && etcd.signalCode === null) {
    const exited = new Promise((r) => etcd!.once('exit', r));
    etcd.kill('SIGKILL');
    await exited;
  }
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
});

/** Runs runBench and captures its output. */
async function bench(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runBench(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
  });
  return { code, stdout, stderr };
}

test('put --total 200 --clients 4: 200 requests sent, 200 revisions and versions on the server', async () => {
  const r = await bench(['put', '--endpoints', endpoint, '--total', '200', '--clients', '4', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const res = doc.results[0];
  assert.equal(res.requests, 200);
  assert.equal(res.succeeded, 200);
  assert.equal(res.errorCount, 0);
  assert.deepEqual(res.errors, {});
  assert.equal(res.latencyMs.count, 200);
  assert.ok(res.latencyMs.p50Ms > 0 && res.latencyMs.p50Ms <= res.latencyMs.p99Ms);
  assert.ok(res.latencyMs.p99Ms <= res.latencyMs.maxMs);
  assert.ok(res.throughput > 0);
  assert.match(
    r.stderr,
    /^put: 200 requests in [\d.]+s, \d+ req\/s\n$/,
    'one final progress line on a non-TTY',
  );
  // Fresh etcd is at revision 1; every put of the one key adds a revision and a version.
  const got = await range({ key: benchKey(0, 8) });
  assert.equal(got.header?.revision, 201n);
  assert.equal(got.kvs[0]?.version, 200n);
  assert.equal(got.kvs[0]?.value.length, 8);
});

test('sequential keys over 2 conns: every key of the space written, revisions add up', async () => {
  const before = (await range({ key: Buffer.from('x') })).header!.revision;
  const r = await bench([
    'put',
    '--endpoints',
    endpoint,
    '--total',
    '120',
    '--clients',
    '4',
    '--conns',
    '2',
    '--key-space-size',
    '50',
    '--sequential-keys',
    '--val-size',
    '16',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| requests +\| +120 \|/);
  assert.match(r.stdout, /\| errors +\| +0 \|/);
  const all = await range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), countOnly: true });
  assert.equal(all.count, 50n);
  assert.equal(all.header?.revision, before + 120n);
});

for (const transport of ['grpc-js', 'h2']) {
  test(`server errors are counted by code and message, exit code 1 (${transport})`, async () => {
    // etcd's default --max-txn-ops is 128: a txn with 129 puts is rejected.
    const r = await bench([
      'txn-put',
      '--endpoints',
      endpoint,
      '--total',
      '10',
      '--txn-ops',
      '129',
      '--key-space-size',
      '200',
      '--transport',
      transport,
      '-w',
      'json',
    ]);
    assert.equal(r.code, 1);
    const res = JSON.parse(r.stdout).results[0];
    assert.equal(res.errorCount, 10);
    assert.equal(res.succeeded, 0);
    assert.deepEqual(res.errors, { 'INVALID_ARGUMENT: etcdserver: too many operations in txn request': 10 });
  });
}

test('h2 transport: txn-put with 3 ops over 3 conns, every txn applied once', async () => {
  const before = (await range({ key: Buffer.from('x') })).header!.revision;
  const r = await bench([
    'txn-put',
    '--endpoints',
    endpoint,
    '--transport',
    'h2',
    '--total',
    '90',
    '--clients',
    '6',
    '--conns',
    '3',
    '--txn-ops',
    '3',
    '--key-space-size',
    '1000',
    '--sequential-keys',
    '--key-size',
    '4',
    '-w',
    'json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).results[0].succeeded, 90);
  // One revision per txn; the last txn wrote 4-byte keys 267..269, each exactly once.
  const last = await range({ key: benchKey(269, 4) });
  assert.equal(last.header?.revision, before + 90n);
  assert.equal(last.kvs[0]?.version, 1n);
  assert.equal((await range({ key: benchKey(270, 4) })).kvs.length, 0);
});

test('--compare --rounds 2: targets take turns, one column each plus the ratio', async () => {
  const r = await bench([
    'range',
    'k',
    '--compare',
    `first=${endpoint},second=${endpoint}`,
    '--total',
    '50',
    '--rounds',
    '2',
    '--consistency',
    's',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^range: 2 rounds of 50 requests/);
  assert.match(r.stdout, /\| +METRIC +\| +first +\| +second +\| +second vs first +\|/);
  assert.match(r.stdout, /\| requests +\| +100 \| +100 \| +\|/);
  assert.match(r.stdout, /\| throughput \(req\/s\) +\| +\d+ \| +\d+ \| +[\d.]+x \|/);
  assert.match(r.stdout, /\| throughput min-max +\| +\d+-\d+ \| +\d+-\d+ \| +\|/);
  // The probe shows the key does not exist on either target: a read of nothing.
  assert.match(r.stdout, /\| response \(probe\) +\| +0 kvs, \d+ B \| +0 kvs, \d+ B \| +\|/);
  // ABBA order: the second round starts with the second target.
  const order = [...r.stderr.matchAll(/^range (first|second) \(round (\d)\/2\): 50 requests/gm)].map(
    (m) => `${m[1]}${m[2]}`,
  );
  assert.deepEqual(order, ['first1', 'second1', 'second2', 'first2']);
});

test('an unreachable endpoint exits 1 with a connection error; bad flags exit 2', async () => {
  const r = await bench(['put', '--endpoints', '127.0.0.1:1', '--dial-timeout', '300ms', '--total', '5']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot connect to 127\.0\.0\.1:1 within 300ms/);
  const u = await bench(['put', '--nope']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /unknown flag: --nope/);
});
