/**
 * A WalFs over the real file system whose open files pass through `wrap`: the base of the test and
 * fault-injection file systems that change what one file operation does (hold or fail fdatasync)
 * and leave every directory operation to `nodeWalFs`.
 */
import { nodeWalFs, type WalFile, type WalFs } from './fs.js';

export abstract class WrappingWalFs implements WalFs {
  /** Returns the file the WAL will use in place of the real `f`. */
  protected abstract wrap(f: WalFile): WalFile;

  openReadWrite = async (p: string) => this.wrap(await nodeWalFs.openReadWrite(p));
  create = async (p: string) => this.wrap(await nodeWalFs.create(p));
  readFile = (p: string) => nodeWalFs.readFile(p);
  readdir = (p: string) => nodeWalFs.readdir(p);
  mkdirp = (p: string) => nodeWalFs.mkdirp(p);
  rename = (a: string, b: string) => nodeWalFs.rename(a, b);
  unlink = (p: string) => nodeWalFs.unlink(p);
  fsyncDir = (p: string) => nodeWalFs.fsyncDir(p);
  exists = (p: string) => nodeWalFs.exists(p);
}
