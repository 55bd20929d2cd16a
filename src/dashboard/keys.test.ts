/**
 * Goal: the key tree pages through any prefix in key order without repeating or skipping an entry,
 * a sub-tree costs one read however large it is, and a key's history walks back to its creation or
 * stops at compaction.
 * Method: an in-memory sorted key space behind the `KeyReader` interface that counts reads; pages
 * are followed to the end and compared with the expected entries computed directly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type KeyReader, type KeyVersion, keyHistory, listChildren, prefixEnd, TREE_BATCH } from './keys.js';

function reader(keys: string[]): KeyReader & { reads: number } {
  const sorted = keys.map((k) => Buffer.from(k)).sort(Buffer.compare);
  const r = {
    reads: 0,
    keys: async (start: Buffer, end: Buffer, limit: number) => {
      r.reads++;
      // as etcd: "etcdserver: key is not provided"
      if (start.length === 0) throw new Error('key is not provided');
      const endless = end.length === 1 && end[0] === 0;
      return sorted
        .filter((k) => Buffer.compare(k, start) >= 0 && (endless || Buffer.compare(k, end) < 0))
        .slice(0, limit);
    },
    get: async () => undefined,
  };
  return r;
}

async function allPages(r: KeyReader, prefix: string, size: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: { key: Buffer; dir: boolean } | undefined;
  for (let n = 0; n < 10_000; n++) {
    const p = await listChildren(r, Buffer.from(prefix), cursor, size);
    out.push(...p.entries.map((e) => `${e.key.toString()}${e.dir ? ' (dir)' : ''}`));
    const last = p.entries[p.entries.length - 1];
    if (!p.more || !last) return out;
    cursor = last;
  }
  throw new Error('no end');
}

test('prefixEnd is etcd GetPrefixRangeEnd', () => {
  assert.deepEqual(prefixEnd(Buffer.from('a/')), Buffer.from('a0'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixEnd(Buffer.from([0xff, 0xff])), Buffer.from([0]));
});

test('the tree: dirs and leaves in key order, every page size', async () => {
  const keys = ['a', 'a/', 'a/1', 'a/2/x', 'b/1', 'b/2', 'c', 'c/d/e', 'dd', 'z/'];
  const r = reader(keys);
  const want = ['a', 'a/ (dir)', 'b/ (dir)', 'c', 'c/ (dir)', 'dd', 'z/ (dir)'];
  for (const size of [1, 2, 3, 100]) assert.deepEqual(await allPages(r, '', size), want, `page size ${size}`);
  assert.deepEqual(await allPages(r, 'a/', 2), ['a/', 'a/1', 'a/2/ (dir)']);
  assert.deepEqual(await allPages(r, 'c/d/', 5), ['c/d/e']);
  assert.deepEqual(await allPages(r, 'nothing/', 5), []);
});

test('10,000 leaves page in order; a page costs a bounded number of reads', async () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `big/${String(i).padStart(5, '0')}`);
  const r = reader(keys);
  const seen = await allPages(r, 'big/', 100);
  assert.deepEqual(seen, keys);
  r.reads = 0;
  await listChildren(r, Buffer.from('big/'), { key: Buffer.from('big/05000'), dir: false }, 100);
  assert.equal(r.reads, 1, 'one batch read for a page of 100 leaves');
  assert.ok(TREE_BATCH >= 101);
});

test('a sub-tree of 10,000 keys costs one read', async () => {
  const keys = ['x/a', ...Array.from({ length: 10_000 }, (_, i) => `x/big/${i}`), 'x/c'];
  const r = reader(keys);
  const p = await listChildren(r, Buffer.from('x/'), undefined, 100);
  assert.deepEqual(
    p.entries.map((e) => e.key.toString()),
    ['x/a', 'x/big/', 'x/c'],
  );
  assert.ok(r.reads <= 3, `${r.reads} reads`);
});

function kv(value: string, mod: bigint, create: bigint, version: bigint): KeyVersion {
  return {
    key: Buffer.from('k'),
    value: Buffer.from(value),
    modRevision: mod,
    createRevision: create,
    version,
    lease: 0n,
  };
}

test('history walks back to the creating version, pages, and stops at compaction', async () => {
  // k: created at 3 (v1), put at 5 (v2), put at 9 (v3); revisions < 4 compacted in the second case.
  const versions = [kv('one', 3n, 3n, 1n), kv('two', 5n, 3n, 2n), kv('three', 9n, 3n, 3n)];
  const compacted = new Error('compacted');
  const mk = (compactedBelow: bigint): KeyReader => ({
    keys: async () => [],
    get: async (_k, rev) => {
      if (rev !== 0n && rev < compactedBelow) throw compacted;
      const at = rev === 0n ? 100n : rev;
      return [...versions].reverse().find((v) => v.modRevision <= at);
    },
  });
  const isC = (e: unknown) => e === compacted;
  const all = await keyHistory(mk(0n), Buffer.from('k'), 0n, 20, isC);
  assert.deepEqual(
    all.versions.map((v) => v.value.toString()),
    ['three', 'two', 'one'],
  );
  assert.equal(all.end, 'created');
  const page = await keyHistory(mk(0n), Buffer.from('k'), 0n, 2, isC);
  assert.equal(page.end, 'page');
  const rest = await keyHistory(mk(0n), Buffer.from('k'), page.versions[1]!.modRevision - 1n, 2, isC);
  assert.deepEqual(
    rest.versions.map((v) => v.value.toString()),
    ['one'],
  );
  // compacted below 6: reading at 8 gives 'two', reading at 4 is refused
  const cut = await keyHistory(mk(6n), Buffer.from('k'), 0n, 20, isC);
  assert.deepEqual(
    cut.versions.map((v) => v.value.toString()),
    ['three', 'two'],
  );
  assert.equal(cut.end, 'compacted');
  const none = await keyHistory(mk(0n), Buffer.from('k'), 2n, 20, isC);
  assert.equal(none.end, 'absent');
});
