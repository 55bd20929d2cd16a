/**
 * The clean-close stamp: what lets a restart skip the full walk of the store file (store-file.ts)
 * without trusting a file it has not seen.
 *
 * When a store closes cleanly (lmdb closed, the file fdatasync'ed, no failed write), `stampCleanClose`
 * writes `<dir>/clean-close.json` with the file's device, inode, size, mtime and ctime (nanoseconds)
 * and a SHA-256 of its first pages (both meta pages: lmdb rewrites one at every commit). The next
 * open takes the stamp (`takeCleanCloseStamp`): reads it, deletes it durably (unlink + fsync of the
 * directory) before lmdb maps the file for writing, and trusts the file only if every field still
 * matches. A crash, a kill, a failed store, a copied or renamed-in file (another inode), any write
 * to it (mtime and ctime; ctime cannot be set back from user space) or a commit that did reach the
 * file (meta pages) all mean no usable stamp, and the full walk runs as before.
 *
 * What a matching stamp cannot see: bytes of the file changed below the file system after the clean
 * close (a disk or controller corrupting a block, a raw write to the device), which change neither
 * times nor inode. For those the open still checks the meta pages and every database's root page
 * (validateStoreFile's quick mode); damage to an interior page then reaches lmdb as it would have
 * reached it through a running member. Values were never covered: lmdb has no checksums.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Name of the stamp file in the store directory (next to lmdb's `db/`). */
export const CLEAN_CLOSE_FILE = 'clean-close.json';
/** Bytes at the start of the file whose hash the stamp keeps (two meta pages of the largest size). */
const HASHED_PREFIX_BYTES = 2 * 65536;

interface Stamp {
  v: 1;
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  prefixSha256: string;
}

/** The lmdb data file of the store in `dir`. */
export function storeDataFile(dir: string): string {
  return join(dir, 'db', 'data.mdb');
}

function stampOf(file: string): Stamp | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const head = Buffer.alloc(
      Number(st.size < BigInt(HASHED_PREFIX_BYTES) ? st.size : BigInt(HASHED_PREFIX_BYTES)),
    );
    let done = 0;
    while (done < head.length) {
      const got = readSync(fd, head, done, head.length - done, done);
      if (got === 0) return undefined;
      done += got;
    }
    return {
      v: 1,
      dev: String(st.dev),
      ino: String(st.ino),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      prefixSha256: createHash('sha256').update(head).digest('hex'),
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the stamp of the store in `dir`, whose lmdb environment is closed. The data file is
 * fdatasync'ed first, so the stamp never describes bytes that are not on disk. Best effort: a stamp
 * that is not written only costs the next open a full walk.
 */
export function stampCleanClose(dir: string): void {
  const file = storeDataFile(dir);
  try {
    const fd = openSync(file, 'r+');
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const stamp = stampOf(file);
    if (stamp === undefined) return;
    const tmp = join(dir, `${CLEAN_CLOSE_FILE}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(stamp)}\n`);
    renameSync(tmp, join(dir, CLEAN_CLOSE_FILE));
  } catch {
    // no stamp: the next open walks the whole file
  }
}

/**
 * Takes the stamp of the store in `dir`: removes it durably (it must not outlive this open) and
 * says whether it matched the data file as it is now. false when there was none, it was unreadable,
 * or anything about the file differs.
 */
export function takeCleanCloseStamp(dir: string): boolean {
  const path = join(dir, CLEAN_CLOSE_FILE);
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    saved = undefined; // torn or foreign: removed below, not trusted
  }
  unlinkSync(path);
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
  const now = stampOf(storeDataFile(dir));
  if (now === undefined || typeof saved !== 'object' || saved === null) return false;
  const s = saved as Record<string, unknown>;
  return (Object.keys(now) as (keyof Stamp)[]).every((k) => s[k] === now[k]);
}
