// Goal: a damaged or foreign store file never crashes the process: MvccStore.open either opens it
// or throws StoreFileError naming the file; lmdb never gets to map what it would fault on.
// Method: build a store (small values, values over a page, enough keys for branch pages), then
// open seeded mutations of its data.mdb — truncation, bit flips (anywhere, and in page headers),
// zeroed pages, a bbolt file, random bytes — each in a child process (a SIGSEGV or SIGABRT there
// cannot take the test runner down) and check how it ended. Checked to fail without the
// validation: with validateStoreFile's call removed from openStoreEnv, zeroed interior pages end in
// SIGABRT/SIGSEGV and the bbolt case in SIGSEGV.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StoreFileError, validateStoreFile } from './store-file.js';
import { buildSampleStore } from './test-store.js';

const OPEN_SCRIPT = `
import { MvccStore } from ${JSON.stringify(fileURLToPath(new URL('./index.js', import.meta.url)))};
try {
  const s = await MvccStore.open({ dir: process.argv[1] });
  s.range(Buffer.from([0]), Buffer.from([0]));
  await s.close();
  console.log('opened');
} catch (e) {
  console.log(e.name === 'StoreFileError' ? 'refused ' + e.message : 'threw ' + e.name + ': ' + e.message);
}`;

test('damaged store files are refused or opened, never crash the process', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsetcd-store-file-'));
  try {
    const good = join(root, 'good');
    await buildSampleStore(good);
    const bytes = readFileSync(join(good, 'db', 'data.mdb'));
    const pageSize = 4096;
    const pages = bytes.length / pageSize;
    assert.ok(pages > 20, `a store of ${pages} pages`);

    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const cases: { what: string; data: Buffer }[] = [];
    const mutate = (what: string, f: (b: Buffer) => Buffer) =>
      cases.push({ what, data: f(Buffer.from(bytes)) });
    for (let i = 0; i < 3; i++) mutate('truncated', (b) => b.subarray(0, rnd(b.length)));
    for (let p = 0; p < pages; p += Math.max(1, Math.floor(pages / 5))) {
      mutate(`page ${p} zeroed`, (b) => b.fill(0, p * pageSize, (p + 1) * pageSize));
    }
    for (let i = 0; i < 5; i++) {
      // The page number, flags and bounds (bytes 8..17 are a txnid and padding lmdb does not read).
      const field = [0, 1, 2, 18, 19, 20, 21, 22, 23][rnd(9)]!;
      mutate('page header flip', (b) => {
        const at = rnd(pages) * pageSize + field;
        b[at] = b[at]! ^ (1 << rnd(8));
        return b;
      });
    }
    for (let i = 0; i < 3; i++) {
      mutate('flip', (b) => {
        const at = rnd(b.length);
        b[at] = b[at]! ^ (1 << rnd(8));
        return b;
      });
    }
    // An etcd (bbolt) file: meta page with bbolt's magic at offset 16, page size 4096.
    mutate('bbolt file', () => {
      const f = Buffer.alloc(4 * 4096);
      for (const m of [0, 1]) {
        f.writeBigUInt64LE(BigInt(m), m * 4096);
        f.writeUInt16LE(0x04, m * 4096 + 8);
        f.writeUInt32LE(0xed0cdaed, m * 4096 + 16);
        f.writeUInt32LE(2, m * 4096 + 20);
        f.writeUInt32LE(4096, m * 4096 + 24);
      }
      return f;
    });
    mutate('random bytes', () => Buffer.from(Array.from({ length: 3 * 4096 }, () => rnd(256))));

    const outcomes = new Map<string, number>();
    for (const [i, c] of cases.entries()) {
      const dir = join(root, `case-${i}`);
      cpSync(good, dir, { recursive: true });
      rmSync(join(dir, 'db', 'lock.mdb'), { force: true });
      writeFileSync(join(dir, 'db', 'data.mdb'), c.data);
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', OPEN_SCRIPT, dir], {
        encoding: 'utf8',
      });
      assert.equal(r.signal, null, `${c.what}: the process died with ${r.signal}\n${r.stderr.slice(-2000)}`);
      assert.equal(r.status, 0, `${c.what}: ${r.stderr.slice(-2000)}`);
      const out = r.stdout.trim();
      if (out.startsWith('refused'))
        assert.ok(out.includes(join(dir, 'db', 'data.mdb')), `${c.what}: names the file: ${out}`);
      if (process.env.STORE_FILE_VERBOSE) console.log(c.what, out.slice(0, 160));
      const kind = out.split(' ')[0]!;
      outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      rmSync(dir, { recursive: true, force: true });
      if (/^(truncated|page 0 zeroed|bbolt file|random bytes)$/.test(c.what))
        assert.ok(kind === 'refused', `${c.what}: ${out}`);
    }
    // Zeroed live pages are refused too; zeroed free pages and flips inside values cannot be seen.
    assert.ok((outcomes.get('refused') ?? 0) >= 8, JSON.stringify([...outcomes]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('validateStoreFile: a missing or empty file is a new store; a bbolt file is named as one', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsetcd-store-file-'));
  try {
    validateStoreFile(join(root, 'missing.mdb'));
    writeFileSync(join(root, 'empty.mdb'), '');
    validateStoreFile(join(root, 'empty.mdb'));
    const bbolt = Buffer.alloc(8192);
    bbolt.writeUInt32LE(0xed0cdaed, 16);
    writeFileSync(join(root, 'bbolt.mdb'), bbolt);
    assert.throws(
      () => validateStoreFile(join(root, 'bbolt.mdb')),
      (e: unknown) =>
        e instanceof StoreFileError &&
        e.message ===
          `mvcc: store file ${join(root, 'bbolt.mdb')} is not a usable lmdb database: it is a bbolt file (an etcd backend or snapshot?), not lmdb`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
