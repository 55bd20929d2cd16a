// Goal: after the member's database is replaced — by Defragment, or by installing the leader's
// snapshot — the member's own next Raft snapshot syncs the NEW database and the member keeps
// serving. Regression: the Raft driver's prepareSnapshot hook held the store the member was started
// with; once that store was closed by a replacement, the next snapshot threw "mvcc: closed" and the
// member stopped for good. Found by the Jepsen-style suite (seed 11, all faults, snapshot-count 300:
// a partitioned follower caught up by snapshot, then failed at its next own snapshot).
// Method: one in-process member with a snapshot every 5 entries; defragment, then write past it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RangeRequest } from '../proto/etcdserverpb/rpc.js';
import { silentLogger } from './logger.js';
import { Member } from './member.js';

test('a Raft snapshot after Defragment syncs the new database and the member keeps serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-replace-'));
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
      snapshotCount: 5,
    },
    silentLogger,
  );
  t.after(async () => {
    await m.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  const put = (k: string) =>
    m.put({
      key: Buffer.from(k),
      value: Buffer.from('v'),
      lease: 0n,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    });
  for (let i = 0; i < 3; i++) await put(`before${i}`);
  await m.defragment();
  // Enough entries for at least two snapshots after the swap.
  for (let i = 0; i < 20; i++) await put(`after${i}`);
  assert.equal(m.healthy, true, 'the member stopped after a snapshot following the store swap');
  const r = await m.range(RangeRequest.fromPartial({ key: Buffer.from('a'), rangeEnd: Buffer.from('b') }));
  assert.equal(r.kvs.length, 20);
});
