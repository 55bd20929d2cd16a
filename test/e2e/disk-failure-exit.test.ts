// Goal: a member whose disk fails exits with status 1, as etcd does (its WAL save and backend
// commit failures are zap Fatal), instead of staying up unable to serve; restarted, it has every
// acknowledged write. Method: a single tsetcd member with the test-only failpoint server
// (TSETCD_FAILPOINT_ADDR); puts; then each disk fault in turn (lmdb store ENOSPC, lmdb fsync EIO, WAL
// fdatasync EIO) followed by a put that reaches the disk; the process must exit 1 and log the
// failure; restarted, all acknowledged puts are there. Checked to fail: without `member.onFailed`
// wired in src/cli/tsetcd.ts the process stays up and the wait for its exit times out.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { kill, launch, type Proc, planSingle, waitHealthy } from '../helpers/cluster.js';
import { b, connect, freePort, tempDir, waitFor } from '../helpers/index.js';

test('a member whose disk fails exits as etcd does, and keeps every acknowledged write', {
  timeout: 120_000,
}, async (t) => {
  const dir = tempDir('tsetcd-disk-exit-');
  const fpPort = await freePort();
  const p: Proc = await planSingle('tsetcd', 'm1', join(dir.path, 'm1'), { token: 'disk-exit' });
  p.env = { TSETCD_FAILPOINT_ADDR: `127.0.0.1:${fpPort}` };
  t.after(async () => {
    await kill(p);
    dir.remove();
  });
  const acked: string[] = [];
  const faults: [string, unknown, RegExp][] = [
    ['/store', { diskFull: true }, /ENOSPC: injected store write failure/],
    ['/store', { failFsync: 'EIO' }, /EIO: injected store fsync failure/],
    ['/wal', { failFsync: 'EIO' }, /wal: fdatasync of .* failed: EIO/],
  ];
  for (const [path, body, logged] of faults) {
    p.log = '';
    launch(p);
    await waitHealthy(p);
    const c = connect(p.client);
    try {
      for (const k of acked) assert.equal((await c.kv.range({ key: b(k) })).kvs.length, 1, `${k} survived`);
      for (let i = 0; i < 5; i++) {
        const k = `${path}-${acked.length}`;
        await c.kv.put({ key: b(k), value: b('v') });
        acked.push(k);
      }
      const r = await fetch(`http://127.0.0.1:${fpPort}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 200);
      await c.kv.put({ key: b('trigger'), value: b('x') }).catch(() => {}); // may or may not be acknowledged
    } finally {
      c.close();
    }
    const code = await waitFor(() => p.child?.exitCode ?? undefined, {
      what: `the member exits after ${path} ${JSON.stringify(body)}\n${p.log.slice(-2000)}`,
      timeoutMs: 20_000,
    });
    assert.equal(code, 1);
    assert.match(p.log, logged);
    assert.match(p.log, /the member failed \(disk\); it stops serving/);
  }
  launch(p);
  await waitHealthy(p);
  const c = connect(p.client);
  try {
    for (const k of acked) assert.equal((await c.kv.range({ key: b(k) })).kvs.length, 1, `${k} survived`);
  } finally {
    c.close();
  }
});
