/**
 * Goal: the client's surface end to end in a few seconds, on a member embedded in this process
 * through tsetcd/embed (which this also checks). Method: one `startMember` from src/embed, then each
 * service through tsetcd/client against it: KV with options and a txn, typed errors, a watch with
 * history and a compaction ending it with WatchCompactedError, a lease revoked elsewhere signalled as
 * "expired", lock and election fencing revisions that grow with each new holder, maintenance calls.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Client,
  cmp,
  discoverSrv,
  errors,
  isEtcdError,
  op,
  WatchCompactedError,
} from '../../src/client/index.js';
import { type EmbeddedMember, startMember } from '../../src/embed/index.js';
import { tempDir, waitFor } from '../helpers/index.js';

const dir = tempDir('tsetcd-embed-');
let m: EmbeddedMember;
let c: Client;

before(async () => {
  m = await startMember({ dataDir: `${dir.path}/data` });
  c = await Client.connect({ endpoints: [m.endpoint] });
});
after(async () => {
  c?.close();
  await m?.stop();
  dir.remove();
});

test('kv: options, txn, typed errors', async () => {
  await c.kv.put('k/1', 'a');
  await c.kv.put('k/2', 'b');
  const p = await c.kv.put('k/1', 'aa', { prevKv: true });
  assert.equal(p.prevKv?.value.toString(), 'a');
  const r = await c.kv.get('k/', { prefix: true, sortOrder: 'descend', limit: 1 });
  assert.equal(r.kvs[0]?.key.toString(), 'k/2');
  assert.equal(r.count, 2n);
  assert.equal(r.more, true);
  assert.equal(typeof r.header?.revision, 'bigint');
  const t = await c.kv
    .txn()
    .if(cmp.value('k/1', '=', 'aa'), cmp.version('k/2', '=', 1n))
    .onSuccess(op.put('k/3', 'c'), op.get('k/', { prefix: true, countOnly: true }))
    .onFailure(op.delete('k/1'))
    .commit();
  assert.equal(t.succeeded, true);
  assert.equal(t.responses[1]?.responseRange?.count, 3n);
  await assert.rejects(c.kv.put('', 'x'), (e) => e instanceof errors.emptyKey && e.kind === 'emptyKey');
  await assert.rejects(c.kv.get('k/1', { revision: 10_000n }), errors.futureRev);
  const d = await c.kv.delete('k/', { prefix: true, prevKv: true });
  assert.equal(d.deleted, 3n);
});

test('watch: history, progress, and compaction ends it with an error', async () => {
  const start = (await c.kv.put('w', '1')).header!.revision;
  await c.kv.put('w', '2');
  const w = c.watch('w', { startRevision: start, prevKv: true });
  const it = w[Symbol.asyncIterator]();
  const first = await it.next();
  const evs = first.value!.events;
  assert.deepEqual(
    evs.map((e: { kv?: { value: Buffer } }) => e.kv?.value.toString()),
    ['1', '2'].slice(0, evs.length),
  );
  if (evs.length < 2) assert.equal((await it.next()).value?.events.length, 1);
  // a progress request is answered as a batch marked `progress`, at the current revision
  w.requestProgress();
  const pr = await it.next();
  assert.equal(pr.value?.progress, true);
  assert.equal(pr.value?.events.length, 0);
  assert.ok((pr.value?.header?.revision ?? 0n) >= start + 1n);
  w.cancel();
  // a watch from a compacted revision is refused with the compact revision
  const rev = (await c.kv.put('w', '3')).header!.revision;
  await c.kv.compact(rev);
  const old = c.watch('w', { startRevision: start });
  await assert.rejects(
    (async () => {
      for await (const _ of old) {
        // nothing: the server cancels it
      }
    })(),
    (e) => e instanceof WatchCompactedError && e.compactRevision === rev && isEtcdError(e, 'compacted'),
  );
});

test('lease: revoked elsewhere is signalled as expired', async () => {
  const lease = await c.lease.grant(30);
  await c.kv.put('leased', 'v', { lease: lease.id });
  const other = new Client({ endpoints: [m.endpoint] });
  await other.lease.revoke(lease.id);
  other.close();
  // the next keep-alive answers TTL 0
  const ka = await lease.keepAliveOnce();
  assert.equal(ka.TTL, 0n);
  const lost = await lease.lost;
  assert.equal(lost.reason, 'expired');
  assert.equal((await c.kv.get('leased')).count, 0n);
  await assert.rejects(c.lease.revoke(lease.id), errors.leaseNotFound);
});

test('lock and election: fencing revisions grow with each holder', async () => {
  const lease = await c.lease.grant(30);
  const a = await c.lock.lock('L', lease.id);
  await a.unlock();
  const b = await c.lock.lock('L', lease.id);
  assert.ok(b.fencingRevision > a.fencingRevision, `${b.fencingRevision} > ${a.fencingRevision}`);
  await b.unlock();
  const e1 = await c.election.campaign('E', 'one', lease.id);
  assert.equal((await c.election.leader('E')).kv?.value.toString(), 'one');
  await e1.proclaim('uno');
  assert.equal((await c.election.leader('E')).kv?.value.toString(), 'uno');
  await e1.resign();
  const e2 = await c.election.campaign('E', 'two', lease.id);
  assert.ok(e2.fencingRevision > e1.fencingRevision);
  await e2.resign();
  await lease.revoke();
});

test('maintenance and cluster calls', async () => {
  const s = await c.maintenance.status();
  assert.equal(s.leader, s.header?.memberId);
  const members = await c.cluster.list();
  assert.equal(members.members.length, 1);
  assert.equal((await c.maintenance.alarm('get')).alarms.length, 0);
  await c.maintenance.defragment();
  let bytes = 0;
  for await (const chunk of c.maintenance.snapshot()) bytes += chunk.blob.length;
  assert.ok(bytes > 0);
  const h = await c.maintenance.hashKv();
  assert.equal(typeof h.hash, 'number');
});

test('dns:/// targets, SRV discovery, and channel replacement under a watch', async () => {
  const port = m.endpoint.split(':')[1];
  const viaDns = new Client({ endpoints: `dns:///localhost:${port}` });
  try {
    await viaDns.kv.put('dns', 'ok');
    assert.equal((await viaDns.kv.get('dns')).kvs[0]?.value.toString(), 'ok');
  } finally {
    viaDns.close();
  }
  const found = await discoverSrv('example.test', '', async (name: string) =>
    name === '_etcd-client._tcp.example.test'
      ? [{ name: 'localhost.', port: Number(port) }]
      : Promise.reject(new Error('ENOTFOUND')),
  );
  assert.deepEqual(found, [`http://localhost:${port}`]);
  // A replaced channel (max connection age) moves the watch; nothing is lost across it.
  const w = c.watch('rot', { prefix: true });
  await w.ready();
  await c.kv.put('rot/1', 'a');
  c.reconnect();
  await c.kv.put('rot/2', 'b');
  const got: string[] = [];
  for await (const b of w) {
    for (const e of b.events) got.push(e.kv!.key.toString());
    if (got.length >= 2) break;
  }
  assert.deepEqual(got, ['rot/1', 'rot/2']);
});

test('watch backpressure: an unread watcher pauses its stream, then delivers everything in order', async () => {
  const w = c.watch('bp/', { prefix: true, highWaterMark: 2 });
  await w.ready();
  for (let i = 0; i < 10; i++) await c.kv.put(`bp/${i}`, 'v');
  await waitFor(async () => w.isPaused, { what: 'the stream paused' });
  const keys: string[] = [];
  for await (const b of w) {
    for (const e of b.events) keys.push(e.kv!.key.toString());
    if (keys.length >= 10) break;
  }
  assert.deepEqual(
    keys,
    Array.from({ length: 10 }, (_, i) => `bp/${i}`),
  );
});
