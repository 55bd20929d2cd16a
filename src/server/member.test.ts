// Goal: the member acknowledges a write only after the store made it durable, a failed commit
// acknowledges nothing and stops the member, and linearizable reads never show non-durable writes.
// Method: a real member on a temp dir whose store.commit is replaced by a gate the test opens, fails
// or leaves shut (no timing: promises are observed with a settled flag after yielding the loop).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RangeRequest } from '../proto/etcdserverpb/rpc.js';
import { silentLogger } from './logger.js';
import { Member } from './member.js';

async function withMember(fn: (m: Member) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-member-'));
  const m = await Member.start(
    {
      name: 'm',
      dataDir: dir,
      clientUrls: [],
      peerUrls: ['http://127.0.0.1:2380'],
      initialCluster: [],
      initialClusterToken: 't',
      maxRequestBytes: 1 << 20,
      maxTxnOps: 128,
      quotaBackendBytes: 0,
    },
    silentLogger,
  );
  try {
    await fn(m);
  } finally {
    await m.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replaces store.commit with a gate: commits wait until the test opens or fails the gate. */
function gateCommits(m: Member): { open(): void; fail(err: Error): void } {
  const real = m.store.commit.bind(m.store);
  let release: (() => void) | undefined;
  let failWith: ((e: Error) => void) | undefined;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    failWith = reject;
  });
  m.store.commit = () => gate.then(real);
  return { open: () => release!(), fail: (e) => failWith!(e) };
}

function track<T>(p: Promise<T>): { settled: () => boolean; p: Promise<T> } {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { settled: () => done, p };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('a put is acknowledged only after the store commit completes', async () => {
  await withMember(async (m) => {
    const gate = gateCommits(m);
    const put = track(
      m.put({
        key: Buffer.from('k'),
        value: Buffer.from('v'),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      }),
    );
    const lin = track(m.range(RangeRequest.fromPartial({ key: Buffer.from('k') })));
    await turns(10);
    assert.equal(put.settled(), false, 'acknowledged before durable');
    assert.equal(lin.settled(), false, 'a linearizable read saw a write that is not durable');
    // A serializable read may see applied state at once.
    const ser = await m.range(RangeRequest.fromPartial({ key: Buffer.from('k'), serializable: true }));
    assert.equal(ser.kvs.length, 1);
    gate.open();
    const resp = await put.p;
    assert.equal(resp.header!.revision, 2n);
    assert.equal((await lin.p).kvs[0]!.value.toString(), 'v');
  });
});

test('a failed commit acknowledges nothing and stops the member', async () => {
  await withMember(async (m) => {
    const gate = gateCommits(m);
    const put = m.put({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      lease: 0n,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    });
    await turns(3);
    gate.fail(Object.assign(new Error('fdatasync: EIO'), { code: 'EIO' }));
    await assert.rejects(put, (e: Error) => e.message === 'etcdserver: server stopped');
    await assert.rejects(
      m.put({
        key: Buffer.from('x'),
        value: Buffer.from('v'),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      }),
      (e: Error) => e.message === 'etcdserver: server stopped',
    );
    assert.equal(m.healthy, false);
    assert.match(m.status().errors.join(' '), /EIO/);
  });
});

test('concurrent puts in one turn share one commit (group commit)', async () => {
  await withMember(async (m) => {
    let commits = 0;
    const real = m.store.commit.bind(m.store);
    m.store.commit = () => {
      commits++;
      return real();
    };
    const puts = Array.from({ length: 100 }, (_, i) =>
      m.put({
        key: Buffer.from(`k${i}`),
        value: Buffer.from('v'),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      }),
    );
    const revs = (await Promise.all(puts)).map((r) => Number(r.header!.revision));
    assert.deepEqual(
      revs,
      Array.from({ length: 100 }, (_, i) => i + 2),
      'one revision each, in proposal order',
    );
    assert.equal(commits, 1);
  });
});

test('events are published in revision order only once durable', async () => {
  await withMember(async (m) => {
    const seen: [string, string, bigint][] = [];
    m.onEvents((events) => {
      for (const e of events)
        seen.push([e.type === 0 ? 'PUT' : 'DELETE', e.kv!.key.toString(), e.kv!.modRevision]);
    });
    const gate = gateCommits(m);
    const put = (k: string) =>
      m.put({
        key: Buffer.from(k),
        value: Buffer.from('v'),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      });
    const p1 = put('a');
    const p2 = put('b');
    const d = m.deleteRange({ key: Buffer.from('a'), rangeEnd: Buffer.alloc(0), prevKv: false });
    await turns(5);
    assert.deepEqual(seen, [], 'published before durable');
    assert.equal(m.notifiedRevision, 1);
    gate.open();
    await Promise.all([p1, p2, d]);
    assert.deepEqual(seen, [
      ['PUT', 'a', 2n],
      ['PUT', 'b', 3n],
      ['DELETE', 'a', 4n],
    ]);
    assert.equal(m.notifiedRevision, 4);
  });
});
