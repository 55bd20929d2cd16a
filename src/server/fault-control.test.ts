// Goal: the test-only failpoint server exists only when its env var is set, and its endpoints
// drive the member's transport FaultHooks and WAL file system as documented (the Jepsen suite
// relies on this across processes). Method: start it on a free port, call it over HTTP, observe
// FaultHooks.blocked/link and a real file's datasync/write.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FAILPOINT_ADDR_ENV,
  FAILPOINT_CATCHUP_ENV,
  FAILPOINT_GIVE_UP_ENV,
  faultControlFromEnv,
} from './fault-control.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

test('no env var, no failpoints', () => {
  assert.equal(faultControlFromEnv({}), undefined);
  assert.throws(() => faultControlFromEnv({ [FAILPOINT_ADDR_ENV]: 'nonsense' }), /host:port/);
  const addr = { [FAILPOINT_ADDR_ENV]: '127.0.0.1:1' };
  assert.deepEqual(faultControlFromEnv(addr)!.memberOverrides, {});
  assert.deepEqual(faultControlFromEnv({ ...addr, [FAILPOINT_CATCHUP_ENV]: '20' })!.memberOverrides, {
    snapshotCatchUpEntries: 20,
  });
  // The deliberately broken give-up (test/jepsen/kill-all-staggered.faults.test.ts): only with the
  // failpoint server, never from the variable alone.
  assert.equal(faultControlFromEnv({ [FAILPOINT_GIVE_UP_ENV]: '3000' }), undefined);
  assert.deepEqual(faultControlFromEnv({ ...addr, [FAILPOINT_GIVE_UP_ENV]: '3000' })!.memberOverrides, {
    giveUpWithoutLeaderMs: 3000,
  });
  assert.throws(() => faultControlFromEnv({ ...addr, [FAILPOINT_GIVE_UP_ENV]: '0' }), /positive number/);
});

test('the endpoints drive FaultHooks and the WAL file system', async (t) => {
  const port = await freePort();
  const fp = faultControlFromEnv({ [FAILPOINT_ADDR_ENV]: `127.0.0.1:${port}` })!;
  await fp.listen();
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-fp-'));
  t.after(async () => {
    await fp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, text: await r.text() };
  };
  const f = fp.transportFaults;

  assert.equal((await post('/partition', { groups: [['1'], ['2', '3']] })).status, 200);
  assert.equal(f.blocked(1n, 2n), true);
  assert.equal(f.blocked(2n, 3n), false);
  await post('/heal', {});
  assert.equal(f.blocked(1n, 2n), false);
  await post('/block', { from: '2', to: '3' });
  assert.deepEqual([f.blocked(2n, 3n), f.blocked(3n, 2n)], [true, false]);
  await post('/link', { from: '*', to: '*', dropProbability: 0.5, delayMs: 7 });
  assert.deepEqual(f.link(1n, 2n), { dropProbability: 0.5, delayMs: 7 });
  await post('/reset', {});
  assert.deepEqual([f.blocked(2n, 3n), f.link(1n, 2n).delayMs], [false, 0]);
  const bad = await post('/partition', { groups: [['x']] });
  assert.equal(bad.status, 400);
  assert.equal((await post('/nope', {})).status, 400);

  // WAL: one failing fdatasync, then a full disk until cleared.
  const file = await fp.walFs.create(join(dir, 'w'));
  await post('/wal', { failFsync: 'EIO' });
  await assert.rejects(file.datasync(), (e: NodeJS.ErrnoException) => e.code === 'EIO');
  await file.datasync(); // consumed: the next one succeeds
  await post('/wal', { diskFull: true });
  await assert.rejects(
    file.write(new Uint8Array(4), 0, 4, 0),
    (e: NodeJS.ErrnoException) => e.code === 'ENOSPC',
  );
  await post('/wal', { diskFull: false });
  assert.equal(await file.write(new Uint8Array(4), 0, 4, 0), 4);
  await file.close();
  const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
    walFaultsFired: number;
  };
  assert.equal(status.walFaultsFired, 2);

  // Store (lmdb): one failing fsync after a batch, ENOSPC before every batch until cleared.
  const sf = fp.storeFaults;
  await post('/store', { failFsync: 'EIO' });
  await sf.beforeBatch();
  await assert.rejects(sf.afterBatch(), (e: NodeJS.ErrnoException) => e.code === 'EIO');
  await sf.afterBatch(); // consumed
  await post('/store', { diskFull: true });
  await assert.rejects(sf.beforeBatch(), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
  await post('/reset', {});
  await sf.beforeBatch();

  // Slow disk: the WAL's fdatasync and the store's batches both wait; out-of-range delays refused.
  assert.equal((await post('/slow-disk', { fsyncDelayMs: 60_000 })).status, 400);
  await post('/slow-disk', { fsyncDelayMs: 200 });
  const w = await fp.walFs.create(join(dir, 'w2'));
  const t0 = performance.now();
  await w.datasync();
  await sf.beforeBatch();
  assert.ok(performance.now() - t0 >= 39, 'two delays of at least 0.1 x 200 ms each');
  await w.close();
  await post('/slow-disk', { fsyncDelayMs: 0 });
  const after = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<string, number>;
  assert.deepEqual([after.storeFaultsFired, after.slowFsyncs], [2, 2]);
});
