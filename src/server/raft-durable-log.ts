/**
 * The Raft driver's persistence step: the member's durable Raft log (WAL + snapshot files) and the
 * in-memory log the core reads (`RaftLogStorage`), kept in step. The driver (raft-driver.ts) decides
 * when; this module does each step in its one safe order:
 *
 *   open      replay the WAL (and its newest snapshot) into the in-memory log, or create a new WAL
 *   persist   entries + hard state with ONE wal.save (one write, one fdatasync), then the memory log
 *   install   a leader's snapshot: file, then WAL marker (saveSnapshot) ... then the memory log
 *             (applySnapshot); the driver's crash points sit between the two
 *   snapshot  a local snapshot: file, WAL marker, release old segments, compact the memory log
 *             (keeping catch-up entries), purge old snapshot files
 *
 * The in-memory log only ever holds what is durable: `persist` appends after the fdatasync.
 */
import {
  type ConfState,
  type Entry,
  type HardState,
  NONE,
  type Snapshot,
  type SnapshotMetadata,
} from '../raft/index.js';
import {
  memberSnapDir,
  memberWalDir,
  nodeWalFs,
  RaftLogStorage,
  type SnapshotSaveTimes,
  Snapshotter,
  Wal,
  type WalFs,
} from '../wal/index.js';
import type { Logger } from './logger.js';

/** What `DurableLog.open` needs: where, which file system, and the WAL's and snapshots' limits. */
export interface DurableLogOptions {
  dataDir: string;
  /** etcd --wal-dir; empty = <data-dir>/member/wal. */
  walDir?: string;
  /** The WAL's file-system seam (tests inject faults); default: the real one. */
  walFs?: WalFs;
  /** WAL segment size (default 64 MiB). */
  walSegmentBytes?: number;
  /** WalOptions.syncInlineEntriesMax. */
  walSyncInlineEntriesMax: number;
  memberId: bigint;
  clusterId: bigint;
  maxSnapshots: number;
  maxWals: number;
  /** The index the member's store has already applied; a WAL-less data dir must have none. */
  storeAppliedIndex: number;
  /** Joining an existing cluster: a WAL-less start does not bootstrap. */
  join?: boolean;
  logger: Logger;
  onFsync?(seconds: number): void;
  /** Times of each snapshot file saved (etcd_debugging_snap_save_* metrics). */
  onSnapshotSave?(t: SnapshotSaveTimes): void;
}

export class DurableLog {
  private constructor(
    private readonly wal: Wal,
    /** The in-memory log the Raft core reads; only ever holds durable entries. */
    readonly storage: RaftLogStorage,
    private readonly snapshotter: Snapshotter,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the member's log: replays an existing WAL (and its newest snapshot), or creates a new one.
   * `bootstrap` is true when the member must bootstrap the cluster (a founding member with no WAL,
   * or one whose WAL holds no promise yet). Refuses a data dir whose store has data but whose WAL
   * is missing.
   */
  static async open(opts: DurableLogOptions): Promise<{ log: DurableLog; bootstrap: boolean }> {
    const walDir = memberWalDir(opts.dataDir, opts.walDir);
    const snapDir = memberSnapDir(opts.dataDir);
    const walOpts = {
      fs: opts.walFs,
      segmentBytes: opts.walSegmentBytes,
      logger: opts.logger,
      maxWals: opts.maxWals,
      onFsync: opts.onFsync,
      syncInlineEntriesMax: opts.walSyncInlineEntriesMax,
    };
    const fs = opts.walFs ?? nodeWalFs;
    const snapshotter = new Snapshotter(snapDir, {
      fs,
      logger: opts.logger,
      maxSnapshots: opts.maxSnapshots,
      onSave: opts.onSnapshotSave,
    });
    const hasWal = (await fs.exists(walDir)) && (await fs.readdir(walDir)).some((f) => f.endsWith('.wal'));
    if (!hasWal) {
      if (opts.storeAppliedIndex > 0) {
        throw new Error(
          `${walDir} holds no WAL but the backend has applied index ${opts.storeAppliedIndex}: refusing to start on a half data dir`,
        );
      }
      const wal = await Wal.create(walDir, { memberId: opts.memberId, clusterId: opts.clusterId }, walOpts);
      const log = new DurableLog(wal, new RaftLogStorage(), snapshotter, opts.logger);
      return { log, bootstrap: !opts.join };
    }
    // As etcd, the replay starts at the newest snapshot (older segments hold only entries it covers).
    const newestSnap = (await snapshotter.list())[0];
    const replay = await Wal.open(walDir, walOpts, { fromIndex: newestSnap?.index ?? 0 });
    if (replay.metadata.memberId !== opts.memberId || replay.metadata.clusterId !== opts.clusterId) {
      opts.logger.warn(
        {
          'wal-member-id': replay.metadata.memberId.toString(16),
          'wal-cluster-id': replay.metadata.clusterId.toString(16),
        },
        'the WAL belongs to this data dir; bootstrap flags are ignored on restart',
      );
    }
    if (replay.repaired) opts.logger.warn({ ...replay.repaired }, 'repaired a torn WAL tail');
    const snapshot =
      replay.snapshot && replay.snapshot.index > 0 ? await snapshotter.load(replay.snapshot) : undefined;
    const storage = RaftLogStorage.fromReplay({
      hardState: replay.hardState,
      entries: replay.entries,
      snapshot,
    });
    opts.logger.info(
      {
        'last-index': storage.lastIndex(),
        'snapshot-index': snapshot?.metadata.index ?? 0,
        term: replay.hardState.term,
        'segments-read': replay.segmentsRead,
      },
      'replayed the WAL',
    );
    // A founding member that crashed after creating its WAL but before its bootstrap entries were
    // durable has promised nothing (no vote, no entry, no snapshot): it bootstraps again, as with
    // no WAL at all. Otherwise it would wait forever for a configuration (found by test/sim's
    // driver simulator: a lone founding member killed inside its first fdatasync).
    const untouched =
      storage.lastIndex() === 0 && replay.hardState.term === 0 && replay.hardState.vote === NONE && !snapshot;
    const log = new DurableLog(replay.wal, storage, snapshotter, opts.logger);
    return { log, bootstrap: untouched && !opts.join };
  }

  /**
   * Makes a Ready's entries and hard state durable with one save (one fdatasync), then hands them
   * to the in-memory log. A hard state alone is written only when the core says it must be
   * (`mustSync`: term, vote or a commit that moved with entries); otherwise it is kept in memory.
   */
  async persist(
    hardState: HardState | undefined,
    entries: readonly Entry[],
    mustSync: boolean,
  ): Promise<void> {
    if (entries.length > 0 || (hardState && mustSync)) {
      await this.wal.save(hardState, entries);
      if (entries.length > 0) this.storage.append(entries);
    }
    if (hardState) this.storage.setHardState(hardState);
  }

  /** A leader's snapshot, first step: its file, then its WAL marker, both durable. */
  async saveSnapshot(snap: Snapshot): Promise<void> {
    await this.snapshotter.save(snap);
    await this.wal.saveSnapshot(snap.metadata);
  }

  /** A leader's snapshot, last step: the in-memory log restarts from it. */
  applySnapshot(snap: Snapshot): void {
    this.storage.applySnapshot(snap);
  }

  /**
   * A local snapshot at `index` (the member's store is already durable up to it): its file and
   * WAL marker, then older WAL segments released. `afterRelease` runs there (a crash point); then
   * the in-memory log is compacted, keeping `catchUpEntries` for slow followers, and old snapshot
   * files are purged. Resolves with the snapshot's metadata.
   */
  async snapshot(
    index: number,
    confState: ConfState,
    catchUpEntries: number,
    afterRelease: () => void,
  ): Promise<SnapshotMetadata> {
    const snap = this.storage.createSnapshot(index, confState, new Uint8Array(0));
    await this.snapshotter.save(snap);
    await this.wal.saveSnapshot(snap.metadata);
    await this.wal.releaseTo(index);
    afterRelease();
    const compactTo = index - catchUpEntries;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    await this.snapshotter.purge();
    this.logger.info({ index, term: snap.metadata.term }, 'saved snapshot');
    return snap.metadata;
  }

  /** Waits for queued saves, then closes the WAL. */
  close(): Promise<void> {
    return this.wal.close();
  }
}
