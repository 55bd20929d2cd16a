// Goal: issue 4's snapshot cycle works end to end: every --snapshot-count applied entries a snapshot is
// saved, older WAL segments are released (at most --max-wals kept), at most --max-snapshots snapshot
// files remain, and a restart replays from the store's applied index with nothing lost. Method: an
// in-process member with a small snapshot count and small WAL segments, 600 writes, restart, compare.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { RangeRequest } from '../../src/proto/etcdserverpb/rpc.js';
import { dataDirLayout, Member } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { tempDir } from '../helpers/index.js';
import { testMemberConfig } from '../helpers/inproc.js';

test('snapshots release WAL segments and a restart recovers every write', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const cfg = testMemberConfig({
    name: 's',
    dataDir: dir.path,
    snapshotCount: 50,
    maxSnapshots: 2,
    maxWals: 2,
    walSegmentBytes: 16 * 1024,
  });
  try {
    let m = await Member.start(cfg, silentLogger);
    const revs = new Map<string, bigint>();
    for (let batch = 0; batch < 30; batch++) {
      const puts = Array.from({ length: 20 }, (_, i) => {
        const key = `k${batch}-${i}`;
        return m
          .put({
            key: Buffer.from(key),
            value: Buffer.alloc(200, i),
            lease: 0n,
            prevKv: false,
            ignoreValue: false,
            ignoreLease: false,
          })
          .then((r) => revs.set(key, r.header!.revision));
      });
      await Promise.all(puts);
    }
    await m.stop();
    const snaps = readdirSync(dataDirLayout(dir.path).snapDir).filter((f) => f.endsWith('.snap'));
    const wals = readdirSync(dataDirLayout(dir.path).walDir).filter((f) => f.endsWith('.wal'));
    assert.ok(snaps.length >= 1 && snaps.length <= 2, `snapshots kept: ${snaps.join(',')}`);
    assert.ok(wals.length <= 3, `WAL segments kept: ${wals.length} (${wals.join(',')})`);

    m = await Member.start(cfg, silentLogger);
    const all = await m.range(
      RangeRequest.fromPartial({ key: Buffer.from('k'), rangeEnd: Buffer.from('l') }),
    );
    assert.equal(all.count, 600n);
    for (const kv of all.kvs) assert.equal(kv.modRevision, revs.get(kv.key.toString()));
    const after = await m.put({
      key: Buffer.from('after'),
      value: Buffer.from('x'),
      lease: 0n,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    });
    assert.equal(after.header!.revision, 602n);
    await m.stop();
  } finally {
    dir.remove();
  }
});
