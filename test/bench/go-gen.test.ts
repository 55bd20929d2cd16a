/**
 * Goal: the Go clientv3 load generator (bench/go/etcdload via bench/go-gen.ts) builds offline and
 * does what its result says. Method: build it (cached), run put, txn-put and both range kinds
 * against a fresh single tsetcd member, and check the server's own view: the revision advanced by
 * exactly the number of writes acknowledged, the keys written fit the key space, and an
 * unreachable endpoint's requests count as errors, not successes. Skipped without Go or Debian's etcd
 * 3.4 sources (golang-go, golang-etcd-server-dev).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGoGen, goGenAvailable, runGoGen } from '../../bench/go-gen.js';
import { etcdctl } from '../helpers/etcdctl.js';
import { startMember } from '../helpers/member.js';
import { freePort } from '../helpers/util.js';

const skip = goGenAvailable() ? false : 'needs golang-go and golang-etcd-server-dev';

async function revision(endpoint: string): Promise<number> {
  const r = await etcdctl(endpoint, ['get', 'nothing', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return Number(JSON.parse(r.stdout).header.revision);
}

test('Go generator: put, txn-put and ranges against tsetcd', { skip, timeout: 300_000 }, async (t) => {
  buildGoGen();
  const m = await startMember('tsetcd', { t });
  const rev0 = await revision(m.endpoint);

  const put = await runGoGen({
    endpoints: [m.endpoint],
    op: 'put',
    clients: 4,
    conns: 2,
    total: 200,
    warmup: 20,
    valSize: 16,
    keySpaceSize: 50,
  });
  assert.equal(put.requests, 200);
  assert.equal(put.succeeded, 200);
  assert.equal(put.errors, 0);
  assert.ok(put.p50Ms > 0 && put.p50Ms <= put.p99Ms && put.p99Ms <= put.maxMs, JSON.stringify(put));
  assert.ok(put.rps > 0 && put.clientCpuUsPerReq > 0);
  // every acknowledged put (warm-up included) is one revision on the server
  assert.equal(await revision(m.endpoint), rev0 + 220);
  const count = await etcdctl(m.endpoint, ['get', '', '--prefix', '--limit', '1', '-w', 'json']);
  const keys = Number(JSON.parse(count.stdout).count ?? 0);
  assert.ok(keys > 1 && keys <= 50, `keys written: ${keys}`);

  const txn = await runGoGen({ endpoints: [m.endpoint], op: 'txn-put', clients: 2, conns: 1, total: 30 });
  assert.equal(txn.succeeded, 30);
  assert.equal(await revision(m.endpoint), rev0 + 250);

  for (const consistency of ['l', 's'] as const) {
    const r = await runGoGen({
      endpoints: [m.endpoint],
      op: 'range',
      consistency,
      clients: 2,
      conns: 1,
      total: 50,
    });
    assert.equal(r.succeeded, 50);
    assert.equal(r.op, `range-${consistency}`);
  }
  // reads do not write
  assert.equal(await revision(m.endpoint), rev0 + 250);
});

test('Go generator: an unreachable endpoint is counted as errors', { skip, timeout: 120_000 }, async () => {
  const port = await freePort();
  const r = await runGoGen({
    endpoints: [`127.0.0.1:${port}`],
    op: 'put',
    clients: 1,
    conns: 1,
    total: 2,
    timeoutSec: 1,
  });
  assert.equal(r.succeeded, 0);
  assert.equal(r.errors, 2);
  assert.equal(r.requests, 2);
});
