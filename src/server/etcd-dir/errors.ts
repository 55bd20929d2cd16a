/**
 * The one error of an etcd data dir import: the file (or directory) at fault is named first, then
 * what is wrong with it in etcd's own words where etcd has them ("wal: crc mismatch", "snap: crc
 * mismatch"), so an operator knows which file to look at:
 *
 *   etcd data dir: /var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal: offset 4096: wal: crc mismatch
 */

/** An etcd data dir that cannot be imported (damaged, truncated, or a state tsetcd cannot take). */
export class EtcdDirError extends Error {
  override name = 'EtcdDirError';

  constructor(
    /** The file or directory the error is about. */
    readonly file: string,
    what: string,
  ) {
    super(`etcd data dir: ${file}: ${what}`);
  }
}
