// Goal: MvccStore.encodedRange hands out exactly the `kvs` fields a RangeResponse built from
// range() would carry (same KeyValues, same order, same bytes), whatever the chunk size, for
// committed records and for records still in the overlay, at the current and at an older
// revision; and the view is pinned: writes, deletes and a compaction after creation change nothing
// it sends; close() releases it.
// Method: a store in a temp dir with a history; the expected bytes are built independently by
// re-encoding range()'s decoded KeyValues (kv-codec) with the field tag and length.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { MvccError, MvccStore } from './index.js';
import { encodeKeyValueOf } from './kv-codec.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ALL = Buffer.from([0]);

async function openStore(t: TestContext): Promise<MvccStore> {
  const dir = mkdtempSync(join(tmpdir(), 'mvcc-encoded-range-'));
  const s = await MvccStore.open({ dir, sync: false });
  t.after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

/** What range() says, framed as RangeResponse.kvs fields. */
function expected(s: MvccStore, key: Buffer, end: Buffer, rev = 0): Buffer {
  const parts: Buffer[] = [];
  for (const kv of s.range(key, end, { rev }).kvs) {
    const body = encodeKeyValueOf(kv);
    const len: number[] = [];
    let n = body.length;
    while (n >= 0x80) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    parts.push(Buffer.from([0x12, ...len]), body);
  }
  return Buffer.concat(parts);
}

function drain(
  s: MvccStore,
  key: Buffer,
  end: Buffer,
  rev: number,
  chunk: number,
): { bytes: Buffer; count: number } {
  const r = s.encodedRange(key, end, rev);
  try {
    const parts: Buffer[] = [];
    for (let c = r.next(chunk); c !== undefined; c = r.next(chunk)) parts.push(c);
    const bytes = Buffer.concat(parts);
    assert.equal(bytes.length, r.kvsBytes);
    return { bytes, count: r.count };
  } finally {
    r.release();
  }
}

test('encodedRange sends what range() returns, committed or not, at any revision', async (t) => {
  const s = await openStore(t);
  let ci = 0;
  for (let i = 0; i < 300; i++) {
    const txn = s.write(++ci);
    txn.put(b(`k${String(i % 97).padStart(3, '0')}`), Buffer.alloc(i % 200, i), BigInt(i % 3));
    if (i % 7 === 0) txn.deleteRange(b(`k${String((i * 5) % 97).padStart(3, '0')}`), undefined);
    txn.end();
  }
  await s.commit();
  const mid = s.rev - 100;
  for (let i = 0; i < 20; i++) {
    const txn = s.write(++ci);
    txn.put(b(`k${String(i).padStart(3, '0')}`), b(`uncommitted${i}`), 0n); // still in the overlay
    txn.end();
  }
  for (const [key, end] of [
    [ALL, ALL],
    [b('k010'), b('k050')],
    [b('k090'), Buffer.alloc(0)],
    [b('z'), ALL],
  ] as const) {
    for (const rev of [0, mid]) {
      const want = expected(s, key, end, rev);
      for (const chunk of [1, 100, 1 << 20]) {
        const got = drain(s, key, end, rev, chunk);
        assert.equal(got.count, s.range(key, end, { rev, countOnly: true }).count);
        assert.ok(got.bytes.equals(want), `range ${key}..${end} at ${rev}, chunks of ${chunk}`);
      }
    }
  }
  assert.throws(
    () => s.encodedRange(ALL, ALL, s.rev + 1),
    (e: unknown) => e instanceof MvccError && e.code === 'future-rev',
  );
});

test('an encodedRange is pinned: later writes and compaction change nothing it sends', async (t) => {
  const s = await openStore(t);
  for (let i = 0; i < 500; i++) {
    const txn = s.write(i + 1);
    txn.put(b(`key${i % 50}`), b(`v${i}`), 0n);
    txn.end();
  }
  await s.commit();
  const want = expected(s, ALL, ALL);
  const r = s.encodedRange(ALL, ALL);
  const first = r.next(64)!;
  // overwrite and delete everything, commit, compact the old revisions away
  const txn = s.write(1000);
  for (let i = 0; i < 50; i++) txn.put(b(`key${i}`), b('new'), 0n);
  txn.end();
  const del = s.write(1001);
  del.deleteRange(ALL, ALL);
  del.end();
  await s.commit();
  await s.compact(s.rev).done;
  const parts = [first];
  for (let c = r.next(64); c !== undefined; c = r.next(64)) parts.push(c);
  r.release();
  assert.ok(Buffer.concat(parts).equals(want));
  assert.equal(s.range(ALL, ALL).count, 0);
  // close() releases an open one
  const txn2 = s.write(1002);
  txn2.put(b('x'), b('y'), 0n);
  txn2.end();
  const open = s.encodedRange(ALL, ALL);
  await s.close();
  assert.throws(
    () => open.next(),
    (e: unknown) => e instanceof MvccError && e.code === 'closed',
  );
});
