/**
 * Goal: a bounded part of etcd 3.4's own e2e suite (tests/e2e, Debian's golang-etcd-server-dev)
 * passes against tsetcd, start-up log lines included: the suite starts tsetcd through its -bin-dir
 * and waits for etcd's milestone lines ("published", "enabled capabilities for version") before it
 * runs etcdctl against it.
 * Method: scripts/etcd-e2e.mjs --against tsetcd --expect-pass on the subset below (builds the suite
 * once into ~/.cache/tsetcd-etcd-e2e; `npm run test:etcd-e2e` runs all of it). Skipped, saying why,
 * where Go or the etcd sources are missing (scripts/ensure-test-deps.sh installs them as root).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { haveCommand, repoRoot } from '../helpers/util.js';

/** Tests of etcd's suite that run here on every `npm test`: plaintext KV, lease, watch, txn, member. */
export const SUBSET = [
  'TestCtlV3PutNoTLS',
  'TestCtlV3GetNoTLS',
  'TestCtlV3DelNoTLS',
  'TestCtlV3TxnInteractiveSuccessNoTLS',
  'TestCtlV3LeaseGrantTimeToLiveNoTLS',
  'TestCtlV3LeaseRevokeNoTLS',
  'TestCtlV3WatchNoTLS',
  'TestCtlV3MemberListNoTLS',
];

/** Deadline for the whole subset, the suite's build included when it is not cached yet. */
const SUBSET_TIMEOUT_MS = 300_000;

const SRC = '/usr/share/gocode/src/go.etcd.io/etcd/tests/e2e';
const missing = !haveCommand('go') || !existsSync(SRC) ? 'needs golang-go and golang-etcd-server-dev' : false;

test('etcd 3.4 e2e subset passes against tsetcd', { skip: missing, timeout: SUBSET_TIMEOUT_MS }, async () => {
  const args = [
    join(repoRoot(), 'scripts', 'etcd-e2e.mjs'),
    '--against',
    'tsetcd',
    '--run',
    `^(${SUBSET.join('|')})$`,
    '--timeout',
    '60s',
    '--expect-pass',
    '--out',
    '/dev/null',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number>((res) => child.once('close', (c) => res(c ?? -1)));
  assert.equal(code, 0, out);
  assert.match(out, new RegExp(`^${SUBSET.length} passed, 0 failed, 0 skipped$`, 'm'), out);
});
