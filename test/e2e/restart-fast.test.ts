// Goal: the fast restart path of a member (issue 15): after a clean stop (SIGTERM) the store file
// gets the quick check (its clean-close stamp matches) and the WAL is replayed from the snapshot
// the stop took (one segment); after a crash (SIGKILL) the full file walk runs again. Every key
// written before either stop is read back. Method: a tsetcd member whose WAL holds more than one
// segment (66 puts of 1 MiB; no periodic snapshot); its open log lines say which
// check and how many segments were used. Checked to fail: without the snapshot at stop the clean
// restart reads every segment; without the stamp it walks the whole file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { kill, launch, type Proc, planSingle, waitHealthy } from '../helpers/cluster.js';
import { b, connect, tempDir } from '../helpers/index.js';

interface OpenLines {
  fileCheck: string;
  segmentsRead: number;
}

/** The store-check and WAL-replay lines of the last start in the member's log. */
function lastOpen(p: Proc): OpenLines {
  const lines = p.log.split('\n').filter((l) => l.startsWith('{'));
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return {};
    }
  });
  const store = parsed.filter((o) => o.msg === 'mvcc: opened store').at(-1);
  const wal = parsed.filter((o) => o.msg === 'replayed the WAL').at(-1);
  assert.ok(store && wal, `open lines missing:\n${p.log.slice(-3000)}`);
  return { fileCheck: String(store.fileCheck), segmentsRead: Number(wal['segments-read']) };
}

test('clean stop: quick store check, WAL replay from the stop snapshot; crash: full walk', {
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir('tsetcd-restart-fast-');
  const p = await planSingle('tsetcd', 'm1', join(dir.path, 'data'), { token: 'restart-fast' });
  p.args.push('--log-level', 'info');
  t.after(async () => {
    await kill(p);
    dir.remove();
  });
  launch(p);
  await waitHealthy(p);
  // Segments are 64 MiB: 66 puts of 1 MiB each fill more than one.
  const value = Buffer.alloc(1024 * 1024, 7);
  let c = connect(p.client);
  for (let i = 0; i < 66; i++) await c.kv.put({ key: b(`k${i}`), value });
  c.close();

  await kill(p, 'SIGTERM');
  launch(p);
  await waitHealthy(p);
  let o = lastOpen(p);
  assert.equal(o.fileCheck, 'quick', 'clean stop: the stamp matched');
  assert.equal(o.segmentsRead, 1, 'clean stop: replay from the stop snapshot');

  c = connect(p.client);
  await c.kv.put({ key: b('after-restart'), value: b('x') });
  c.close();
  await kill(p, 'SIGKILL');
  launch(p);
  await waitHealthy(p);
  o = lastOpen(p);
  assert.equal(o.fileCheck, 'full', 'after a crash the whole file is walked');

  c = connect(p.client);
  const r = await c.kv.range({ key: b('k'), rangeEnd: b('l'), keysOnly: true });
  assert.equal(Number(r.count), 66);
  const a = await c.kv.range({ key: b('after-restart') });
  assert.equal(a.kvs[0]?.value.toString(), 'x');
  c.close();
});
