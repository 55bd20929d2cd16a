// Goal: what writeBbolt writes, BboltReader reads back exactly (table of shapes: empty bucket, one
// key, values over a page, thousands of keys over several branch levels with long keys), and the
// reader's errors for a file that is not bbolt name the file. Method: seeded data, round trip
// through a temp file, compare entry lists; etcd's own reading of our files is in
// test/e2e/etcd-bbolt-save.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SeededRng } from '../pkg/index.js';
import { BboltError, BboltReader, writeBbolt } from './index.js';

function entries(
  rng: SeededRng,
  n: number,
  maxValue: number,
  keyBytes = 8,
): { key: Buffer; value: Buffer }[] {
  const m = new Map<string, Buffer>();
  while (m.size < n) {
    const key = Buffer.alloc(1 + rng.int(keyBytes));
    for (let i = 0; i < key.length; i++) key[i] = rng.int(256);
    m.set(key.toString('hex'), Buffer.alloc(rng.int(maxValue + 1), rng.int(256)));
  }
  return [...m]
    .map(([k, value]) => ({ key: Buffer.from(k, 'hex'), value }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
}

test('writeBbolt then BboltReader: every bucket and entry comes back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-bbolt-'));
  try {
    const rng = new SeededRng(42);
    const buckets = [
      { name: 'empty', entries: [] as { key: Buffer; value: Buffer }[] },
      { name: 'one', entries: [{ key: Buffer.from('k'), value: Buffer.from('v') }] },
      { name: 'big', entries: entries(rng, 20, 3 * 4096 + 100) },
      { name: 'many', entries: entries(rng, 8000, 40) },
      { name: 'longkeys', entries: entries(rng, 3000, 10, 900) },
    ];
    for (const pageSize of [4096, 1024]) {
      const file = join(dir, `db-${pageSize}`);
      const res = await writeBbolt(file, buckets, { pageSize });
      const db = BboltReader.open(file);
      try {
        assert.equal(db.size, res.bytes);
        assert.deepEqual(db.root().bucketNames().map(String), buckets.map((b) => b.name).sort());
        for (const b of buckets) {
          const got = [...db.bucket(b.name)!.entries()].map((e) => ({
            key: Buffer.from(e.key),
            value: Buffer.from(e.value),
          }));
          assert.equal(got.length, b.entries.length, `${b.name} @ ${pageSize}`);
          assert.deepEqual(got, b.entries, `${b.name} @ ${pageSize}`);
        }
        assert.deepEqual(db.bucket('one')!.get('k'), Buffer.from('v'));
        assert.equal(db.bucket('one')!.get('x'), undefined);
        assert.equal(db.bucket('missing'), undefined);
      } finally {
        db.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('not a bbolt file: BboltError naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-bbolt-'));
  try {
    const cases: [string, Buffer, RegExp][] = [
      ['tiny', Buffer.from('hi'), /file size too small \(2 bytes\)/],
      ['zeros', Buffer.alloc(16384), /invalid database: meta page 0: invalid database \(bad magic\)/],
      [
        'lmdb-ish',
        Buffer.concat([Buffer.alloc(24), Buffer.from([0xde, 0xc0, 0xef, 0xbe]), Buffer.alloc(8192)]),
        /bad magic/,
      ],
    ];
    for (const [name, data, want] of cases) {
      const file = join(dir, name);
      writeFileSync(file, data);
      assert.throws(
        () => BboltReader.open(file),
        (e: unknown) =>
          e instanceof BboltError && e.message.startsWith(`bbolt: ${file}: `) && want.test(e.message),
        name,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
