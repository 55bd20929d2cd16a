/**
 * Starting tsetcd on an etcd 3.4 data dir: one made by `etcdctl snapshot restore`, or a stopped etcd
 * member's. Called before the member opens its data dir; it does nothing on a tsetcd dir or an empty
 * one.
 *
 * Detection: etcd's backend `member/snap/db` is a FILE starting with a bbolt meta page; tsetcd's is a
 * directory (an lmdb environment). The import then does what etcd 3.4 does at start, read-only:
 *
 *   1. the WAL's valid snapshot markers (at or below the newest hard state's commit), and the newest
 *      `.snap` file matching one of them (the v2 store in it holds the member table);
 *   2. the WAL from that snapshot on: member id and cluster id (metadata), hard state, entries;
 *   3. the backend's consistent index C (the last entry whose writes the db holds);
 *   4. the member table at C: the snapshot's, plus the conf changes and attribute updates of the
 *      entries up to C, validated as etcd validates them.
 *
 * and writes a tsetcd member dir holding the same state: the store from the db (keys with their
 * revisions, compaction, leases, auth, alarms, the table at C, etcd's member id and cluster id), a
 * raft snapshot at C (term of entry C, configuration of the table) and a WAL with etcd's hard state
 * and entries C+1.. rewritten for tsetcd (etcd-members.ts), which tsetcd applies at start as etcd
 * would have. Membership, identity and raft position come from etcd's files, not the flags, exactly
 * as when etcd restarts on a dir with a WAL.
 *
 * Atomic, and etcd's files are never changed: the tsetcd dir is built in `<data-dir>/.tsetcd-import`
 * (and `<wal-dir>.tsetcd-import`), made durable, and marked complete; then `member` is renamed
 * `member.etcd` (etcd's files kept, for going back), the new one renamed into place (the WAL dir
 * likewise). A start finding an unmarked build deletes it and imports again; one finding a marked
 * build finishes the renames. A damaged file is refused with its name (EtcdDirError) and nothing is
 * left behind.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BBOLT_MAGIC, BboltError, BboltReader, etcdMeta } from '../../bbolt/index.js';
import { StoreImportError } from '../../mvcc/index.js';
import { Snapshotter, Wal } from '../../wal/index.js';
import { dataDirLayout } from '../data-dir.js';
import type { Logger } from '../logger.js';
import { importEtcdBackend } from './backend-import.js';
import { EtcdDirError } from './errors.js';
import { EtcdMembership, toTsetcdEntry } from './etcd-members.js';
import { loadNewestEtcdSnapshot } from './etcd-snap.js';
import { etcdValidSnapshotMarks, etcdWalSegments, looksLikeEtcdWal, readEtcdWal } from './etcd-wal.js';

/** Entries written per WAL save while importing (bounds one write's buffer). */
export const IMPORT_ENTRIES_PER_SAVE = 4096;

const IMPORT_DIR = '.tsetcd-import';
const COMPLETE = 'complete';

export interface EtcdDirImportOptions {
  dataDir: string;
  /** --wal-dir, when the WAL lives outside the data dir. */
  walDir?: string;
  logger: Pick<Logger, 'info' | 'warn'>;
}

/** What an import did. */
export interface EtcdDirImportResult {
  memberId: bigint;
  clusterId: bigint;
  /** The db's consistent index: the raft snapshot of the new dir. */
  consistentIndex: number;
  revision: number;
  /** Entries after the consistent index, left in tsetcd's WAL for it to apply. */
  entriesToApply: number;
  members: number;
  /** Where etcd's member dir (and WAL dir) were moved. */
  kept: string[];
}

/** Which kind of member dir `dataDir` holds. */
export function dataDirKind(dataDir: string, walDir?: string): 'etcd' | 'tsetcd-or-empty' {
  const layout = dataDirLayout(dataDir, walDir);
  const db = join(layout.snapDir, 'db');
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(db);
  } catch {
    st = undefined;
  }
  if (st?.isFile()) {
    const head = Buffer.alloc(64);
    const fd = openSync(db, 'r');
    let n: number;
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    if (n >= 20 && head.readUInt32LE(16) === BBOLT_MAGIC) return 'etcd';
    throw new EtcdDirError(db, "neither tsetcd's store (a directory) nor etcd's backend (a bbolt file)");
  }
  if (st === undefined && existsSync(layout.walDir)) {
    const first = etcdWalSegments(layout.walDir)[0];
    if (first && looksLikeEtcdWal(join(layout.walDir, first.name)))
      throw new EtcdDirError(db, "an etcd member dir without its backend: etcd's database file is missing");
  }
  return 'tsetcd-or-empty';
}

/**
 * Finishes or discards an interrupted import, then imports `dataDir` if it is an etcd member dir.
 * Returns undefined when there was nothing to import. Throws EtcdDirError on a damaged etcd dir.
 */
export async function importEtcdDataDir(o: EtcdDirImportOptions): Promise<EtcdDirImportResult | undefined> {
  const paths = importPaths(o.dataDir, o.walDir);
  recoverInterrupted(paths, o.logger);
  if (dataDirKind(o.dataDir, o.walDir) !== 'etcd') return undefined;
  o.logger.info(
    { 'data-dir': o.dataDir, 'wal-dir': paths.walDir, db: paths.db },
    'found an etcd data dir (member/snap/db is a bbolt file); importing it into tsetcd (etcd files are kept as they are)',
  );
  const started = Date.now();
  let result: EtcdDirImportResult;
  try {
    result = await build(paths, o.logger);
  } catch (e) {
    // Nothing was renamed yet: drop the partial build; etcd's files are as they were.
    rmSync(paths.tmpRoot, { recursive: true, force: true });
    if (paths.tmpWal) rmSync(paths.tmpWal, { recursive: true, force: true });
    if (e instanceof BboltError) throw new EtcdDirError(paths.db, e.message);
    if (e instanceof StoreImportError) throw new EtcdDirError(paths.db, `bucket key: ${e.message}`);
    throw e;
  }
  // The build is durable and marked complete: a failure from here on is finished at the next start.
  commit(paths);
  o.logger.info(
    {
      'member-id': result.memberId.toString(16),
      'cluster-id': result.clusterId.toString(16),
      'consistent-index': result.consistentIndex,
      revision: result.revision,
      'entries-to-apply': result.entriesToApply,
      members: result.members,
      'etcd-files-kept-in': result.kept,
      'took-ms': Date.now() - started,
    },
    'imported the etcd data dir; tsetcd starts on it (delete the kept etcd files once no longer needed)',
  );
  return result;
}

interface ImportPaths {
  dataDir: string;
  member: string;
  walDir: string;
  /** Set with --wal-dir (the WAL is then outside `member`). */
  separateWal: boolean;
  db: string;
  snapDir: string;
  tmpRoot: string;
  tmpWal: string | undefined;
  marker: string;
}

function importPaths(dataDir: string, walDir?: string): ImportPaths {
  const layout = dataDirLayout(dataDir, walDir);
  const separateWal = !!walDir;
  const tmpRoot = join(dataDir, IMPORT_DIR);
  return {
    dataDir,
    member: join(dataDir, 'member'),
    walDir: layout.walDir,
    separateWal,
    db: join(layout.snapDir, 'db'),
    snapDir: layout.snapDir,
    tmpRoot,
    tmpWal: separateWal
      ? join(dirname(resolve(layout.walDir)), `${basename(layout.walDir)}${IMPORT_DIR}`)
      : undefined,
    marker: join(tmpRoot, COMPLETE),
  };
}

/** Where etcd's files go: `member.etcd` (and `<wal>.etcd`), or the first free `.etcd-N`. */
function backupNames(p: ImportPaths): { member: string; wal?: string } {
  for (let n = 0; ; n++) {
    const suffix = n === 0 ? '.etcd' : `.etcd-${n}`;
    const member = `${p.member}${suffix}`;
    const wal = p.separateWal ? `${p.walDir}${suffix}` : undefined;
    if (!existsSync(member) && (wal === undefined || !existsSync(wal))) return { member, wal };
  }
}

async function build(p: ImportPaths, logger: EtcdDirImportOptions['logger']): Promise<EtcdDirImportResult> {
  if (!existsSync(p.walDir)) {
    throw new EtcdDirError(
      p.walDir,
      'no WAL beside the etcd db: for a bare db file, use `tsetcd snapshot restore <db> --skip-hash-check`',
    );
  }
  // 1-2: etcd's raft state, as etcd's NewServer reads it on a restart.
  const marks = etcdValidSnapshotMarks(p.walDir);
  const snap = loadNewestEtcdSnapshot(p.snapDir, marks, (file, why) =>
    logger.warn({ file, err: why }, 'skipping an etcd snapshot file that does not load (etcd skips it too)'),
  );
  const start = snap ? { index: snap.index, term: snap.term } : { index: 0, term: 0 };
  const wal = readEtcdWal(p.walDir, start);
  if (wal.tornTail) {
    logger.warn(
      { file: wal.tornTail.file, offset: wal.tornTail.offset },
      'the etcd WAL ends in a torn write; reading up to it (etcd repairs it the same way), the file is left as it is',
    );
  }
  const lastIndex = start.index + wal.entries.length;
  // 3: the backend.
  const db = BboltReader.open(p.db);
  try {
    const c = etcdMeta(db).consistentIndex;
    if (c < start.index) {
      throw new EtcdDirError(
        p.db,
        `consistent index ${c} is behind the raft snapshot at index ${start.index} (etcd was installing a snapshot from its leader): start etcd once to finish it`,
      );
    }
    if (c > lastIndex) {
      throw new EtcdDirError(
        p.walDir,
        `the WAL ends at index ${lastIndex} but the backend has applied index ${c}: the WAL is truncated or lost`,
      );
    }
    const commit = Math.max(wal.hardState.commit, c);
    if (commit > lastIndex) {
      throw new EtcdDirError(
        p.walDir,
        `the hard state commits index ${commit} but the WAL ends at index ${lastIndex}: the WAL is truncated or lost`,
      );
    }
    const walFile = p.walDir;
    // 4: the member table at C.
    const membership = new EtcdMembership(snap);
    for (const e of wal.entries) {
      if (e.index > c) break;
      membership.applyEntry(e, walFile);
    }
    const tail = wal.entries.filter((e) => e.index > c).map((e) => toTsetcdEntry(e, walFile));
    const termAtC = c === start.index ? start.term : wal.entries[c - start.index - 1]!.term;
    let table = membership;
    if (table.list().length === 0) {
      // etcd had applied nothing to its db (C = 0, no snapshot): its members are all in the log,
      // which tsetcd replays. The table is seeded with the log's, else tsetcd would fill it from the
      // flags (replaying the add of a member already present changes nothing).
      table = new EtcdMembership();
      for (const e of wal.entries) {
        if (e.index > commit) break;
        table.applyEntry(e, walFile);
      }
    }
    const members = table.list();
    if (members.length === 0) throw new EtcdDirError(p.walDir, 'no members in the snapshot or the WAL');

    // The new member dir, beside the old one.
    rmSync(p.tmpRoot, { recursive: true, force: true });
    if (p.tmpWal) rmSync(p.tmpWal, { recursive: true, force: true });
    const tmp = dataDirLayout(p.tmpRoot, p.tmpWal);
    mkdirSync(tmp.storeDir, { recursive: true });
    const imported = await importEtcdBackend(db, tmp.storeDir, {
      members,
      removed: [...table.removed],
      memberId: wal.memberId,
      clusterId: wal.clusterId,
    });
    rmSync(join(tmp.storeDir, 'db', 'lock.mdb'), { force: true });
    const metadata = { index: c, term: termAtC, confState: membership.confState() };
    if (c > 0) await new Snapshotter(tmp.snapDir).save({ metadata, data: new Uint8Array(0) });
    const w = await Wal.create(tmp.walDir, { memberId: wal.memberId, clusterId: wal.clusterId });
    try {
      if (c > 0) await w.saveSnapshot(metadata);
      for (let i = 0; i < tail.length; i += IMPORT_ENTRIES_PER_SAVE) {
        await w.save(undefined, tail.slice(i, i + IMPORT_ENTRIES_PER_SAVE));
      }
      await w.save({ term: Math.max(wal.hardState.term, termAtC), vote: wal.hardState.vote, commit }, []);
    } finally {
      await w.close();
    }
    const kept = backupNames(p);
    writeFileSync(p.marker, JSON.stringify({ keptMember: kept.member, keptWal: kept.wal }));
    fsyncPath(p.marker);
    fsyncPath(p.tmpRoot);
    fsyncPath(p.dataDir);
    if (p.tmpWal) fsyncPath(dirname(p.tmpWal));
    logger.info(
      {
        'snapshot-index': start.index,
        'consistent-index': c,
        'last-index': lastIndex,
        commit,
        term: wal.hardState.term,
        leases: imported.leases,
        auth: imported.auth,
        alarms: imported.alarms,
      },
      'built the tsetcd member dir from the etcd data dir',
    );
    return {
      memberId: wal.memberId,
      clusterId: wal.clusterId,
      consistentIndex: c,
      revision: imported.revision,
      entriesToApply: tail.length,
      members: members.length,
      kept: [kept.member, ...(kept.wal ? [kept.wal] : [])],
    };
  } finally {
    db.close();
  }
}

/**
 * The renames, each done only if not done yet, so a start interrupted among them finishes them:
 * etcd's WAL dir and member dir are moved aside (kept), the built ones moved into place.
 */
function commit(p: ImportPaths): void {
  const { keptMember, keptWal } = JSON.parse(readFileSync(p.marker, 'utf8')) as {
    keptMember: string;
    keptWal?: string;
  };
  const builtMember = join(p.tmpRoot, 'member');
  if (p.tmpWal && keptWal) {
    if (existsSync(p.tmpWal) && existsSync(p.walDir) && !existsSync(keptWal)) renameSync(p.walDir, keptWal);
    if (existsSync(p.tmpWal) && !existsSync(p.walDir)) renameSync(p.tmpWal, p.walDir);
    fsyncPath(dirname(resolve(p.walDir)));
  }
  if (existsSync(builtMember) && existsSync(p.member) && !existsSync(keptMember))
    renameSync(p.member, keptMember);
  if (existsSync(builtMember) && !existsSync(p.member)) renameSync(builtMember, p.member);
  fsyncPath(p.dataDir);
  rmSync(p.tmpRoot, { recursive: true, force: true });
  fsyncPath(p.dataDir);
}

/** A start after an interrupted import: finish a complete build, delete an incomplete one. */
function recoverInterrupted(p: ImportPaths, logger: EtcdDirImportOptions['logger']): void {
  if (existsSync(p.marker)) {
    logger.warn({ dir: p.tmpRoot }, 'finishing an interrupted import of an etcd data dir');
    commit(p);
    return;
  }
  if (existsSync(p.tmpRoot) || (p.tmpWal && existsSync(p.tmpWal))) {
    logger.warn({ dir: p.tmpRoot }, 'removing an unfinished import of an etcd data dir; importing again');
    rmSync(p.tmpRoot, { recursive: true, force: true });
    if (p.tmpWal) rmSync(p.tmpWal, { recursive: true, force: true });
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
