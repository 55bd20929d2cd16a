// Goal: the quick store-file check (clean-close.ts) is used only for a file this software closed
// cleanly and nothing touched since, and it still refuses what it can see. Method: real stores
// closed and reopened; the check each open used is read from the store's open log line. The
// trade-off is tested as such: damage to an interior page after a clean close with the stamp
// forged to match is not seen by quick mode (the full walk sees it); a real write to the file
// always voids the stamp. Checked to fail: with takeCleanCloseStamp returning true always, the
// "written after the clean close" and "copied" cases get 'quick' and fail; with the stamp not
// removed at open, "killed after open" gets 'quick' and fails; with quick mode skipping the root
// pages, the zeroed-root case is not refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLEAN_CLOSE_FILE, storeDataFile } from './clean-close.js';
import { MvccStore } from './index.js';
import { StoreFileError, validateStoreFile } from './store-file.js';
import { buildSampleStore } from './test-store.js';

const PAGE = 4096;

/** Opens the store in `dir`, returns how its file was checked, and closes it (cleanly). */
async function openClose(dir: string): Promise<string> {
  let check = '';
  const logger = {
    info: (o: unknown, msg?: string) => {
      if (msg === 'mvcc: opened store') check = (o as { fileCheck: string }).fileCheck;
    },
    warn: () => {},
    error: () => {},
  };
  const s = await MvccStore.open({ dir, logger });
  await s.close();
  return check;
}

/** Overwrites `bytes` at `at` in place (same inode; mtime and ctime move). */
function patch(file: string, at: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

/** Page numbers of the main database's root and of one branch page's first child. */
function pages(file: string): { mainRoot: number; interior: number } {
  const b = readFileSync(file);
  const meta = (p: number) => ({ txn: b.readBigUInt64LE(p * PAGE + 24 + 128), at: p * PAGE });
  const m = meta(0).txn >= meta(1).txn ? meta(0) : meta(1);
  const mainRoot = Number(b.readBigUInt64LE(m.at + 24 + 24 + 48 + 40));
  // an interior page: a child of some branch page (flags 0x01) other than a root
  for (let p = 2; p < b.length / PAGE; p++) {
    if (b.readUInt16LE(p * PAGE + 18) !== 0x01) continue;
    const node = b.readUInt16LE(p * PAGE + 24) + 24 + p * PAGE;
    const child = b.readUInt16LE(node) + (b.readUInt16LE(node + 2) << 16);
    return { mainRoot, interior: child };
  }
  throw new Error('no branch page in the test store');
}

test('clean-close stamp: quick check only for an untouched, cleanly closed file', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsetcd-clean-close-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'store');
  assert.equal(await openClose(dir), 'new');
  await buildSampleStore(dir);
  assert.ok(existsSync(join(dir, CLEAN_CLOSE_FILE)), 'a clean close writes the stamp');
  assert.equal(await openClose(dir), 'quick', 'reopened after a clean close');
  assert.equal(await openClose(dir), 'quick', 'and again');

  // Killed after open: the stamp was taken at open, so the next open walks the file.
  const script = `
    import { MvccStore } from ${JSON.stringify(fileURLToPath(new URL('./index.js', import.meta.url)))};
    const s = await MvccStore.open({ dir: process.argv[1] });
    const w = s.write(5); w.put(Buffer.from('k'), Buffer.from('v'), 0n); w.end();
    await s.commit();
    process.kill(process.pid, 'SIGKILL');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], { encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.equal(existsSync(join(dir, CLEAN_CLOSE_FILE)), false, 'no stamp survives an open');
  rmSync(join(dir, 'db', 'lock.mdb'), { force: true });
  assert.equal(await openClose(dir), 'full', 'killed after open: full walk');
  assert.equal(await openClose(dir), 'quick');

  // A copy (another inode) with the stamp beside it: full walk.
  const copy = join(root, 'copy');
  cpSync(dir, copy, { recursive: true });
  assert.ok(existsSync(join(copy, CLEAN_CLOSE_FILE)));
  assert.equal(await openClose(copy), 'full', 'copied store');

  // Written after the clean close: an interior page zeroed in place. The stamp no longer matches,
  // the full walk runs and refuses the file.
  const file = storeDataFile(dir);
  const { mainRoot, interior } = pages(file);
  assert.ok(interior !== mainRoot);
  patch(file, interior * PAGE, Buffer.alloc(PAGE));
  await assert.rejects(MvccStore.open({ dir }), StoreFileError, 'damage after a clean close is refused');
  assert.equal(existsSync(join(dir, CLEAN_CLOSE_FILE)), false);
});

test('quick mode: what it still refuses, and what it cannot see (the documented trade-off)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsetcd-clean-close-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'store');
  await buildSampleStore(dir);
  const good = readFileSync(storeDataFile(dir));
  const { mainRoot, interior } = pages(storeDataFile(dir));
  const variant = (name: string, f: (b: Buffer) => Buffer): string => {
    const d = join(root, name);
    cpSync(dir, d, { recursive: true });
    const file = storeDataFile(d);
    const b = f(Buffer.from(good));
    rmSync(file);
    const fd = openSync(file, 'w');
    writeSync(fd, b);
    closeSync(fd);
    return file;
  };
  const refusedQuick = (file: string) =>
    assert.throws(() => validateStoreFile(file, { quick: true }), StoreFileError, file);
  refusedQuick(variant('meta0', (b) => b.fill(0, 0, PAGE)));
  refusedQuick(variant('metas', (b) => b.fill(7, PAGE + 24, PAGE + 200)));
  refusedQuick(variant('root', (b) => b.fill(0, mainRoot * PAGE, (mainRoot + 1) * PAGE)));
  refusedQuick(variant('truncated', (b) => b.subarray(0, b.length - 3 * PAGE)));
  // The miss: a zeroed interior page passes the quick check (the full walk refuses it). Only a
  // change below the file system (no new mtime, ctime or inode) can leave a matching stamp on such
  // a file, so this is what quick mode trusts the disk for.
  const damaged = variant('interior', (b) => b.fill(0, interior * PAGE, (interior + 1) * PAGE));
  assert.equal(validateStoreFile(damaged, { quick: true }), 'quick');
  assert.throws(() => validateStoreFile(damaged), StoreFileError);
});
