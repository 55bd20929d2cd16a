/**
 * The one description of a member's data dir, as etcd lays it out, so no other file joins
 * `member/snap/...` by hand:
 *
 *   <data-dir>/member/wal/                WAL segments (or --wal-dir)
 *   <data-dir>/member/snap/               Raft snapshot files (*.snap)
 *   <data-dir>/member/snap/db/            the MVCC store (lmdb: db/data.mdb, db/lock.mdb)
 *   <data-dir>/member/snap/defrag/        a defragmenting copy, while Defragment runs
 *   <data-dir>/member/snap/incoming/      a database received with a leader's snapshot
 *   <data-dir>/member/snap/outgoing-*     a database copy on its way to a follower
 */
import { join } from 'node:path';
import { memberSnapDir, memberWalDir } from '../wal/index.js';

export interface DataDirLayout {
  /** WAL segments: `<data-dir>/member/wal`, or --wal-dir when given. */
  walDir: string;
  /** Raft snapshot files, and the folders below. */
  snapDir: string;
  /** The directory the MVCC store is opened on. */
  storeDir: string;
  /** The store's lmdb file inside `storeDir` (what a swap renames a new database onto). */
  storeFile: string;
  /** Where Defragment writes its compacted copy. */
  defragDir: string;
  /** Where a snapshot's database from the leader is received, in a store layout of its own. */
  incomingDir: string;
  /** The received database file inside `incomingDir`. */
  incomingFile: string;
  /** Where the database copy for follower `to` is made (`stamp` keeps concurrent sends apart). */
  outgoingDir(to: bigint, stamp: number): string;
}

/** The layout of data dir `dataDir` (with `walDir` from --wal-dir, empty or absent = the default). */
export function dataDirLayout(dataDir: string, walDir?: string): DataDirLayout {
  const snapDir = memberSnapDir(dataDir);
  const storeDir = join(snapDir, 'db');
  const incomingDir = join(snapDir, 'incoming');
  return {
    walDir: memberWalDir(dataDir, walDir),
    snapDir,
    storeDir,
    storeFile: join(storeDir, 'db', 'data.mdb'),
    defragDir: join(snapDir, 'defrag'),
    incomingDir,
    incomingFile: join(incomingDir, 'db', 'data.mdb'),
    outgoingDir: (to, stamp) => join(snapDir, `outgoing-${to.toString(16)}-${stamp}`),
  };
}
