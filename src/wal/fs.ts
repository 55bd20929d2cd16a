/**
 * The file-system seam of the WAL and the snapshot store. `nodeWalFs` is the real one
 * (node:fs/promises, fdatasync); `fs-faulty.ts` holds a simulated one that tears writes, fails
 * fsync and fills the disk, for tests.
 *
 * Paths are absolute or relative to the process cwd; directories use '/' as in POSIX.
 */

import { fdatasyncSync, writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';

/** An open file. Positions and lengths are in bytes. */
export interface WalFile {
  /**
   * Writes up to `length` bytes of `buf[offset..]` at file position `position`; resolves with the
   * count actually written (may be short: callers loop). Rejects with the OS error (EIO, ENOSPC).
   */
  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; resolves with the count read. */
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Optional synchronous pwrite(2) into the page cache, for small writes: it saves the WAL a
   * round trip through the thread pool per save (the fdatasync still runs there). Same contract
   * as `write`, but throws instead of rejecting.
   */
  writeNow?(buf: Uint8Array, offset: number, length: number, position: number): number;
  /** fdatasync(2): the written data (and the size, when it changed) are durable on resolve. */
  datasync(): Promise<void>;
  /**
   * Optional synchronous fdatasync(2) on the calling thread, for small batches at low load (see
   * WalOptions.syncInlineEntriesMax). Same contract as `datasync`, but throws instead of rejecting.
   */
  datasyncNow?(): void;
  /** ftruncate(2): shrinks, or extends with zeros. */
  truncate(length: number): Promise<void>;
  /** Current size in bytes. */
  size(): Promise<number>;
  close(): Promise<void>;
}

/** The file-system operations the WAL and snapshot store use. */
export interface WalFs {
  /** Opens an existing file for reading and writing; rejects (ENOENT) if missing. */
  openReadWrite(path: string): Promise<WalFile>;
  /** Creates a new empty file for writing; rejects (EEXIST) if it exists. */
  create(path: string): Promise<WalFile>;
  /** The whole content of a file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Names (not paths) in a directory; rejects (ENOENT) if missing. */
  readdir(path: string): Promise<string[]>;
  /** mkdir -p. */
  mkdirp(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory, making creations, renames and unlinks in it durable. */
  fsyncDir(path: string): Promise<void>;
  /** Whether a path exists. */
  exists(path: string): Promise<boolean>;
}

class NodeWalFile implements WalFile {
  constructor(private readonly fh: fsp.FileHandle) {}
  async write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const r = await this.fh.write(buf, offset, length, position);
    return r.bytesWritten;
  }
  writeNow(buf: Uint8Array, offset: number, length: number, position: number): number {
    return writeSync(this.fh.fd, buf, offset, length, position);
  }
  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const r = await this.fh.read(buf, offset, length, position);
    return r.bytesRead;
  }
  datasync(): Promise<void> {
    return this.fh.datasync();
  }
  datasyncNow(): void {
    fdatasyncSync(this.fh.fd);
  }
  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }
  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The real file system. */
export const nodeWalFs: WalFs = {
  async openReadWrite(path) {
    return new NodeWalFile(await fsp.open(path, 'r+'));
  },
  async create(path) {
    return new NodeWalFile(await fsp.open(path, 'wx+', 0o600));
  },
  async readFile(path) {
    return new Uint8Array(await fsp.readFile(path));
  },
  readdir(path) {
    return fsp.readdir(path);
  },
  async mkdirp(path) {
    await fsp.mkdir(path, { recursive: true, mode: 0o700 });
  },
  rename(from, to) {
    return fsp.rename(from, to);
  },
  unlink(path) {
    return fsp.unlink(path);
  },
  async fsyncDir(path) {
    const fh = await fsp.open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async exists(path) {
    try {
      await fsp.stat(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  },
};
