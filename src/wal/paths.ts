/** Where a member keeps its WAL and snapshots, as etcd lays out a data dir. */

/** `<dataDir>/member/wal`, or `walDir` when the --wal-dir flag gives one. */
export function memberWalDir(dataDir: string, walDir?: string): string {
  return walDir && walDir.length > 0 ? walDir : `${dataDir.replace(/\/+$/, '')}/member/wal`;
}

/** `<dataDir>/member/snap`: snapshot files (and, in etcd, the backend database `db`). */
export function memberSnapDir(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}/member/snap`;
}
