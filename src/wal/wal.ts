/**
 * The write-ahead log: segmented, append-only files of framed records (see record.ts), written
 * with group commit and replayed with torn-tail repair. See README.md for the format and rules.
 *
 *   save() / saveSnapshot()          flush loop (one at a time)
 *   ─────────────────────────        ─────────────────────────────────────────────
 *   queue item, return promise  ──▶  take every queued item ─▶ encode one buffer
 *                                    ─▶ cut segment if full ─▶ one write ─▶ one fdatasync
 *                                    ─▶ resolve every item of the batch; loop while queued
 *
 * Saves queued while an fsync is in flight go out together in the next write + fdatasync. Any
 * write or fsync error fails the WAL for good: the batch and every later save reject with a
 * `WalError`; nothing is reported durable that was not fdatasync'ed.
 */
import { performance } from 'node:perf_hooks';
import type { Entry, HardState, SnapshotMetadata } from '../raft/types.js';
import { WalError } from './errors.js';
import { failpoint } from './failpoint.js';
import { nodeWalFs, type WalFile, type WalFs } from './fs.js';
import {
  encodeRecords,
  frameBytes,
  payloadBytes,
  RECORD_BYTES_MAX,
  RecordType,
  type WalMetadata,
  type WalRecord,
} from './record.js';
import { scanSegment } from './scan.js';
import { parseSegmentName, type SegmentName, segmentFileName } from './segment-name.js';

/** etcd's SegmentSizeBytes: 64 MiB. */
export const SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024;
/** etcd warns when one fdatasync takes longer than this. */
export const SLOW_FSYNC_SECONDS_DEFAULT = 1;
/** etcd's default --max-wals: released segments beyond this many files are deleted. */
export const MAX_WALS_DEFAULT = 5;
/**
 * Default of `syncInlineEntriesMax`: 0, every fdatasync goes to the thread pool. The member turns
 * the inline path on (src/server/raft-driver.ts).
 */
export const SYNC_INLINE_ENTRIES_MAX_DEFAULT = 0;
/**
 * The inline fdatasync is taken only after this many small batches in a row (this one included):
 * sustained low load, not a lull inside a busy stream where the event loop has requests to take in.
 */
export const SYNC_INLINE_STREAK = 4;
/** Zero-fill chunk used when preallocating a segment. */
const ZERO_CHUNK_BYTES = 1024 * 1024;

/** A pino-compatible logger (only these methods are used). */
export interface WalLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

const silentLogger: WalLogger = { warn() {}, info() {} };

/** Options of `Wal.create` and `Wal.open`. Every field is optional. */
export interface WalOptions {
  /** File-system seam. Default: the real one (node:fs/promises). */
  fs?: WalFs;
  /**
   * Size a segment is preallocated to and cut at, in bytes. Default 64 MiB (etcd). Smaller
   * values mean more, smaller files (tests use a few KiB to exercise cutting).
   */
  segmentBytes?: number;
  /**
   * Preallocate by writing zeros (true, default) or by extending sparsely with ftruncate (false).
   * Node has no fallocate; writing zeros makes later fdatasyncs cheaper (no block allocation),
   * at the cost of writing segmentBytes once per segment.
   */
  preallocate?: boolean;
  /** Logger for repairs, cuts and slow fsyncs. Default: silent. */
  logger?: WalLogger;
  /** Called with the duration in seconds of every WAL fdatasync (for a histogram metric). */
  onFsync?: (seconds: number) => void;
  /** Fsyncs slower than this (seconds) are logged as "slow fdatasync". Default 1 (etcd). */
  slowFsyncSeconds?: number;
  /**
   * Released segments are deleted only while more than this many segment files exist
   * (etcd --max-wals). 0 keeps every file. Default 5.
   */
  maxWals?: number;
  /** Monotonic clock in milliseconds, for fsync timing. Default performance.now. */
  now?: () => number;
  /**
   * A batch of at most this many entries, with no other save queued behind it, is made durable
   * with a synchronous fdatasync on the calling (event-loop) thread when the file offers one
   * (`WalFile.datasyncNow`), instead of a round trip through the thread pool: at low load that
   * hand-off and its wake-ups cost more CPU than the sync itself (issue 15). The ordering is the
   * same: the batch's saves resolve only after the fdatasync returned. The trade-off: the event
   * loop does nothing else for the fsync's duration, so only small batches (a lightly loaded
   * member, where there is nothing else to do) take this path, and only after SYNC_INLINE_STREAK
   * of them in a row. Default 0: never.
   */
  syncInlineEntriesMax?: number;
}

interface ResolvedOptions {
  fs: WalFs;
  segmentBytes: number;
  preallocate: boolean;
  logger: WalLogger;
  onFsync: (seconds: number) => void;
  slowFsyncSeconds: number;
  maxWals: number;
  now: () => number;
  syncInlineEntriesMax: number;
}

function resolveOptions(o: WalOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    fs: o.fs ?? nodeWalFs,
    segmentBytes: o.segmentBytes ?? SEGMENT_BYTES_DEFAULT,
    preallocate: o.preallocate ?? true,
    logger: o.logger ?? silentLogger,
    onFsync: o.onFsync ?? (() => {}),
    slowFsyncSeconds: o.slowFsyncSeconds ?? SLOW_FSYNC_SECONDS_DEFAULT,
    maxWals: o.maxWals ?? MAX_WALS_DEFAULT,
    now: o.now ?? (() => performance.now()),
    syncInlineEntriesMax: o.syncInlineEntriesMax ?? SYNC_INLINE_ENTRIES_MAX_DEFAULT,
  };
  if (!Number.isSafeInteger(r.segmentBytes) || r.segmentBytes < 4096) {
    throw new RangeError(`wal: segmentBytes ${r.segmentBytes} must be an integer >= 4096`);
  }
  return r;
}

/** Where `Wal.open` repaired a torn tail. */
export interface WalRepair {
  file: string;
  /** Offset the segment was truncated to. */
  offset: number;
  /** Bytes from `offset` to the last non-zero byte that were dropped. */
  droppedBytes: number;
  reason: string;
}

/** What `Wal.open` replayed. */
export interface WalReplay {
  wal: Wal;
  metadata: WalMetadata;
  /** The last hard state written (empty if none). */
  hardState: HardState;
  /** Entries after the newest snapshot marker, contiguous from `snapshot.index + 1` (or 1). */
  entries: Entry[];
  /** The newest snapshot marker; undefined if no snapshot was ever marked (index 0). */
  snapshot?: SnapshotMetadata;
  /** Set when a torn tail was truncated. */
  repaired?: WalRepair;
  /** Segments read (the newest ones); older segments were skipped when `fromIndex` allowed it. */
  segmentsRead: number;
}

/** What reading segments found (Wal.replaySegments). */
interface SegmentsRead {
  metadata: WalMetadata | undefined;
  hardState: HardState;
  snapshot: SnapshotMetadata | undefined;
  ents: Entry[];
  repaired: WalRepair | undefined;
  tail: { offset: number; crc: number; size: number };
}

interface QueueItem {
  hardState: HardState | undefined;
  entries: readonly Entry[];
  snapshot: SnapshotMetadata | undefined;
  resolve: () => void;
  reject: (e: Error) => void;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function emptySnapshot(): SnapshotMetadata {
  return { index: 0, term: 0, confState: { voters: [], learners: [] } };
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function osError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code ? String(code) : String((e as Error | undefined)?.message ?? e);
}

/** Writes all of `buf` at `position`, looping over short writes. A zero-byte write is an error. */
/** Writes up to this many bytes synchronously (WalFile.writeNow) when the file offers it. */
const WRITE_NOW_BYTES_MAX = 256 * 1024;

async function writeFully(file: WalFile, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  if (file.writeNow && buf.length <= WRITE_NOW_BYTES_MAX) {
    while (done < buf.length) {
      const n = file.writeNow(buf, done, buf.length - done, position + done);
      if (n <= 0) throw new Error('write made no progress');
      done += n;
    }
    return;
  }
  while (done < buf.length) {
    const n = await file.write(buf, done, buf.length - done, position + done);
    if (n <= 0) throw new Error('write made no progress');
    done += n;
  }
}

async function zeroFill(file: WalFile, from: number, to: number): Promise<void> {
  const zeros = new Uint8Array(Math.min(ZERO_CHUNK_BYTES, Math.max(0, to - from)));
  for (let p = from; p < to; p += zeros.length) {
    await writeFully(file, zeros.subarray(0, Math.min(zeros.length, to - p)), p);
  }
}

/**
 * The write-ahead log of one member. Create with `Wal.create` (a new data dir) or `Wal.open`
 * (restart: replays and repairs). Not safe for two processes on one directory (no file lock).
 */
export class Wal {
  private readonly queue: QueueItem[] = [];
  private flushing: Promise<void> | undefined;
  /** Small batches written in a row (see SYNC_INLINE_STREAK). */
  private smallBatchStreak = 0;
  private failure: WalError | undefined;
  private closed = false;
  /** The next segment's file, being preallocated in the background (etcd's filePipeline). */
  private next: Promise<PreparedSegment | undefined> | undefined;
  /** Index of the last entry queued (for gap checks at save time). */
  private queuedLastIndex: number;

  private constructor(
    private readonly dir: string,
    private readonly opts: ResolvedOptions,
    private readonly metadata: WalMetadata,
    /** Segment files on disk, oldest first; the last one is being appended to. */
    private readonly segments: SegmentName[],
    private file: WalFile,
    /** Write position in the active segment. */
    private offset: number,
    /** Checksum chain value after the last record written. */
    private crc: number,
    /** Index of the last entry written (durable once the in-flight batch is synced). */
    private lastIndex: number,
    private hardState: HardState,
    private snapshot: SnapshotMetadata,
  ) {
    this.queuedLastIndex = lastIndex;
    this.prepareNext();
  }

  /**
   * Starts preallocating the next segment file (zero-filled, synced) in the background, so a cut
   * only writes a header and renames. A failure here is logged; the cut then creates inline.
   */
  private prepareNext(): void {
    if (!this.opts.preallocate || this.next || this.closed) return;
    const fs = this.opts.fs;
    const path = join(this.dir, NEXT_SEGMENT_TMP);
    this.next = (async () => {
      try {
        if (await fs.exists(path)) await fs.unlink(path);
        const file = await fs.create(path);
        try {
          await zeroFill(file, 0, this.opts.segmentBytes);
          await file.datasync();
          return { file, path };
        } catch (e) {
          await file.close().catch(() => {});
          await fs.unlink(path).catch(() => {});
          throw e;
        }
      } catch (e) {
        this.opts.logger.warn({ path, err: osError(e) }, 'wal: preallocating the next segment failed');
        return undefined;
      }
    })();
  }

  /**
   * Creates a new WAL in `dir` (created if missing) for `metadata`. Rejects with WalError 'exists'
   * if `dir` already holds segment files.
   */
  static async create(dir: string, metadata: WalMetadata, options: WalOptions = {}): Promise<Wal> {
    const opts = resolveOptions(options);
    try {
      return await Wal.createIn(dir, metadata, opts);
    } catch (e) {
      if (e instanceof WalError) throw e;
      throw new WalError(
        'write-failed',
        `wal: creating a WAL in ${dir} failed: ${osError(e)}`,
        dir,
        undefined,
        {
          cause: e,
        },
      );
    }
  }

  private static async createIn(dir: string, metadata: WalMetadata, opts: ResolvedOptions): Promise<Wal> {
    const fs = opts.fs;
    if (await fs.exists(dir)) {
      const names = await fs.readdir(dir);
      if (names.some((n) => parseSegmentName(n)))
        throw new WalError('exists', `wal: ${dir} already holds a WAL`);
    }
    await fs.mkdirp(dir);
    const parentDir = dir.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
    if (parentDir.length > 0) await fs.fsyncDir(parentDir); // make the new directory's entry durable
    const snap = emptySnapshot();
    const header: WalRecord[] = [
      { type: RecordType.Crc, crc: 0 },
      { type: RecordType.Metadata, metadata },
      { type: RecordType.Snapshot, snapshot: snap },
    ];
    const name = segmentFileName(0, 0);
    const { file, offset, crc } = await createSegment(opts, dir, name, header, 0, undefined);
    return new Wal(dir, opts, metadata, [{ seq: 0, index: 0, name }], file, offset, crc, 0, emptyHs(), snap);
  }

  /**
   * Opens the WAL in `dir`, replays it, repairs a torn tail of the last segment (logged), and
   * returns the WAL ready for appends with what it replayed. Rejects with WalError:
   * 'not-found' (no segment), 'bad-layout' (sequence gap, metadata mismatch, entry gap),
   * 'corrupt' (damage before the tail; `file` and `offset` name it).
   */
  static async open(
    dir: string,
    options: WalOptions = {},
    from: { fromIndex?: number } = {},
  ): Promise<WalReplay> {
    const opts = resolveOptions(options);
    try {
      return await Wal.openIn(dir, opts, from.fromIndex ?? 0);
    } catch (e) {
      if (e instanceof WalError) throw e;
      throw new WalError(
        'read-failed',
        `wal: opening the WAL in ${dir} failed: ${osError(e)}`,
        dir,
        undefined,
        {
          cause: e,
        },
      );
    }
  }

  /**
   * `fromIndex` (> 0: the index of the newest snapshot file, as etcd opens its WAL at the newest
   * snapshot) lets the replay start at the last segment whose first index is at or below it. The
   * skipped segments hold only entries below that segment's first index; they are dropped only if
   * the newest snapshot marker read covers all of them (index >= first index - 1), else (a snapshot
   * file whose WAL marker never became durable) every segment is read, as without `fromIndex`.
   */
  private static async openIn(dir: string, opts: ResolvedOptions, fromIndex: number): Promise<WalReplay> {
    const fs = opts.fs;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      throw new WalError('not-found', `wal: cannot read ${dir}: ${osError(e)}`, dir, undefined, { cause: e });
    }
    for (const n of names) {
      if (n.endsWith('.tmp')) {
        opts.logger.warn({ file: join(dir, n) }, 'removing unfinished WAL segment');
        await fs.unlink(join(dir, n));
      }
    }
    const segments = names.map(parseSegmentName).filter((s): s is SegmentName => s !== undefined);
    segments.sort((a, b) => a.seq - b.seq);
    if (segments.length === 0) throw new WalError('not-found', `wal: no WAL segment in ${dir}`, dir);
    for (let i = 1; i < segments.length; i++) {
      if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
        throw new WalError(
          'bad-layout',
          `wal: segment sequence gap before ${segments[i]!.name}`,
          join(dir, segments[i]!.name),
        );
      }
    }

    let first = 0;
    if (fromIndex > 0) {
      for (let i = 0; i < segments.length; i++) if (segments[i]!.index <= fromIndex) first = i;
    }
    let read = await Wal.replaySegments(dir, opts, segments, first);
    if (first > 0 && (read.snapshot?.index ?? 0) < segments[first]!.index - 1) {
      // The skipped segments are not all below the newest marker: read them too.
      first = 0;
      read = await Wal.replaySegments(dir, opts, segments, 0);
    }
    const { metadata, hardState, snapshot, ents, repaired, tail } = read;
    if (!metadata) throw new WalError('bad-layout', `wal: no metadata record in ${dir}`, dir);
    if (!snapshot) throw new WalError('bad-layout', `wal: no snapshot marker in ${dir}`, dir);
    if (ents.length > 0 && ents[0]!.index !== snapshot.index + 1) {
      throw new WalError(
        'bad-layout',
        `wal: entries start at ${ents[0]!.index} but the newest snapshot marker is at ${snapshot.index} in ${dir}`,
        dir,
      );
    }

    const last = segments[segments.length - 1]!;
    const file = await fs.openReadWrite(join(dir, last.name));
    try {
      if (repaired || tail.size < opts.segmentBytes) {
        // Drop the torn bytes, then restore the zeroed preallocation so a later scan ends cleanly.
        await file.truncate(tail.offset);
        if (opts.preallocate) await zeroFill(file, tail.offset, Math.max(opts.segmentBytes, tail.offset));
        else await file.truncate(Math.max(opts.segmentBytes, tail.offset));
        await file.datasync();
      }
    } catch (e) {
      await file.close();
      throw new WalError(
        'write-failed',
        `wal: repairing ${last.name} failed: ${osError(e)}`,
        join(dir, last.name),
        tail.offset,
        {
          cause: e,
        },
      );
    }
    const lastIndex = snapshot.index + ents.length;
    const wal = new Wal(
      dir,
      opts,
      metadata,
      segments,
      file,
      tail.offset,
      tail.crc,
      lastIndex,
      hardState,
      snapshot,
    );
    const out: WalReplay = { wal, metadata, hardState, entries: ents, segmentsRead: segments.length - first };
    if (snapshot.index > 0) out.snapshot = snapshot;
    if (repaired) out.repaired = repaired;
    return out;
  }

  private static async replaySegments(
    dir: string,
    opts: ResolvedOptions,
    segments: SegmentName[],
    first: number,
  ): Promise<SegmentsRead> {
    const fs = opts.fs;
    let metadata: WalMetadata | undefined;
    let hardState = emptyHs();
    let snapshot: SnapshotMetadata | undefined;
    let ents: Entry[] = [];
    let prevCrc: number | undefined;
    let repaired: WalRepair | undefined;
    let tail = { offset: 0, crc: 0, size: 0 };

    for (let si = first; si < segments.length; si++) {
      const seg = segments[si]!;
      const path = join(dir, seg.name);
      const isLast = si === segments.length - 1;
      const buf = await fs.readFile(path);
      const scan = scanSegment(buf, isLast);
      const corrupt = (offset: number, reason: string): WalError =>
        new WalError(
          'corrupt',
          `wal: corrupt record in ${path} at offset ${offset}: ${reason}`,
          path,
          offset,
        );
      if (scan.stop.kind === 'corrupt') throw corrupt(scan.validEnd, scan.stop.reason);
      if (scan.seedCrc === undefined || scan.records[0]?.record.type !== RecordType.Crc) {
        if (isLast && scan.records.length === 0 && scan.stop.kind === 'torn') {
          throw corrupt(0, `segment header lost (${scan.stop.reason})`);
        }
        throw corrupt(0, 'segment does not start with a crc record');
      }
      if (prevCrc !== undefined && scan.seedCrc !== prevCrc) {
        throw corrupt(
          0,
          `crc chain broken: segment starts from ${scan.seedCrc}, previous ended at ${prevCrc}`,
        );
      }
      for (const { record: r, offset } of scan.records) {
        switch (r.type) {
          case RecordType.Crc:
            if (offset !== 0) throw corrupt(offset, 'crc record inside a segment');
            break;
          case RecordType.Metadata:
            if (!metadata) metadata = r.metadata;
            else if (
              metadata.memberId !== r.metadata.memberId ||
              metadata.clusterId !== r.metadata.clusterId
            ) {
              throw new WalError('bad-layout', `wal: metadata mismatch in ${path}`, path, offset);
            }
            break;
          case RecordType.HardState:
            hardState = r.hardState;
            break;
          case RecordType.Snapshot: {
            const s = r.snapshot;
            if (snapshot && s.index < snapshot.index) break; // a header's copy of an older marker
            // The log restarts after the snapshot: keep only the entries above it.
            ents = ents.filter((e) => e.index > s.index);
            snapshot = s;
            break;
          }
          case RecordType.Entry: {
            const e = r.entry;
            if (!snapshot)
              throw new WalError(
                'bad-layout',
                `wal: entry before any snapshot marker in ${path}`,
                path,
                offset,
              );
            if (e.index <= snapshot.index) break;
            // The first retained segment may begin mid-log (older segments released): the log then
            // starts at the first entry seen; that it reaches the newest marker is checked at the end.
            const pos = ents.length === 0 ? 0 : e.index - ents[0]!.index;
            if (pos > ents.length) {
              throw new WalError(
                'bad-layout',
                `wal: entry ${e.index} in ${path} at offset ${offset} leaves a gap after ${ents[0]!.index + ents.length - 1}`,
                path,
                offset,
              );
            }
            if (pos < 0) ents = [];
            else ents.length = pos;
            ents.push(e);
            break;
          }
        }
      }
      if (scan.stop.kind === 'torn') {
        repaired = {
          file: path,
          offset: scan.validEnd,
          droppedBytes: scan.stop.droppedBytes,
          reason: scan.stop.reason,
        };
        opts.logger.warn(repaired, 'wal: repairing torn tail of the last segment');
      }
      prevCrc = scan.crc;
      tail = { offset: scan.validEnd, crc: scan.crc, size: buf.length };
    }
    return { metadata, hardState, snapshot, ents, repaired, tail };
  }

  /**
   * Appends `entries` (and then `hardState`, when given) and resolves once they are durable
   * (written and fdatasync'ed, together with every save queued alongside). Entries must be
   * consecutive; the first may be at or below the last saved index, which replaces the log from
   * there on (conflict truncation, replayed the same way). Rejects with WalError: 'failed' or
   * 'closed' (the WAL cannot write), 'write-failed'/'fsync-failed' (this batch's I/O failed;
   * the WAL is failed from now on), 'out-of-order' (a gap), 'record-too-large'.
   */
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (entries.length > 0) {
      const first = entries[0]!.index;
      if (first > this.queuedLastIndex + 1 || first <= this.snapshot.index) {
        return Promise.reject(
          new WalError(
            'out-of-order',
            `wal: entry ${first} does not follow ${this.queuedLastIndex} (snapshot ${this.snapshot.index})`,
          ),
        );
      }
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (e.index !== first + i)
          return Promise.reject(new WalError('out-of-order', `wal: entries not consecutive at ${e.index}`));
        if (17 + e.data.length > RECORD_BYTES_MAX) {
          return Promise.reject(
            new WalError('record-too-large', `wal: entry ${e.index} of ${e.data.length} bytes is too large`),
          );
        }
      }
      this.queuedLastIndex = entries[entries.length - 1]!.index;
    }
    return this.enqueue(hardState, entries, undefined);
  }

  /**
   * Writes a snapshot marker (after the snapshot itself is saved in the snapshot store) and
   * resolves once it is durable. Replay then starts the log after `meta.index`. Rejects like
   * `save`, and with 'out-of-order' for a marker older than the newest one.
   */
  saveSnapshot(meta: SnapshotMetadata): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (meta.index < this.snapshot.index) {
      return Promise.reject(
        new WalError('out-of-order', `wal: snapshot ${meta.index} older than ${this.snapshot.index}`),
      );
    }
    if (meta.index > this.queuedLastIndex) this.queuedLastIndex = meta.index;
    return this.enqueue(undefined, [], meta);
  }

  /**
   * Releases segments whose entries all lie at or below `index` (normally the newest snapshot's
   * index; clamped to the newest durable snapshot marker so replay never loses an entry) and
   * deletes released segments, oldest first, while more than `maxWals` segment files exist.
   * Resolves with the names of the deleted files.
   */
  async releaseTo(index: number): Promise<string[]> {
    const refused = this.refusal();
    if (refused) throw refused;
    const upTo = Math.min(index, this.snapshot.index);
    // Segment i holds no live entry above (start of segment i+1) - 1, so it may go when that <= upTo.
    let releasable = 0;
    while (releasable + 1 < this.segments.length && this.segments[releasable + 1]!.index <= upTo + 1)
      releasable++;
    const deleted: string[] = [];
    const keep = this.opts.maxWals;
    while (deleted.length < releasable && (keep === 0 ? false : this.segments.length > keep)) {
      const seg = this.segments.shift()!;
      deleted.push(seg.name);
    }
    for (const name of deleted) await this.opts.fs.unlink(join(this.dir, name));
    if (deleted.length > 0) {
      await this.opts.fs.fsyncDir(this.dir);
      this.opts.logger.info({ dir: this.dir, deleted }, 'wal: purged released segments');
    }
    return deleted;
  }

  /** Segment file names on disk, oldest first (for tests and tooling). */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name);
  }

  /** The error that failed this WAL, if any. */
  failedWith(): WalError | undefined {
    return this.failure;
  }

  /**
   * Waits for queued saves to finish, then closes the active segment. Later calls reject with
   * 'closed'. Resolves even if the WAL has failed.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing.catch(() => {});
    await this.file.close().catch(() => {});
    const prepared = await this.next;
    this.next = undefined;
    if (prepared) {
      await prepared.file.close().catch(() => {});
      await this.opts.fs.unlink(prepared.path).catch(() => {});
    }
  }

  private refusal(): WalError | undefined {
    if (this.closed) return new WalError('closed', 'wal: closed');
    if (this.failure) {
      return new WalError(
        'failed',
        `wal: failed earlier (${this.failure.message})`,
        this.failure.file,
        this.failure.offset,
        {
          cause: this.failure,
        },
      );
    }
    return undefined;
  }

  private enqueue(
    hardState: HardState | undefined,
    entries: readonly Entry[],
    snapshot: SnapshotMetadata | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ hardState, entries, snapshot, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    // Let the current turn of the event loop queue more saves before the first write.
    await Promise.resolve();
    try {
      while (this.queue.length > 0) await this.flushOnce();
    } finally {
      // Cleared in the same microtask as the last empty-queue check, so no save is stranded.
      this.flushing = undefined;
    }
  }

  private async flushOnce(): Promise<void> {
    {
      const batch = this.queue.splice(0);
      if (this.failure) {
        const err = this.refusal()!;
        for (const it of batch) it.reject(err);
        return;
      }
      try {
        await this.writeBatch(batch);
      } catch (e) {
        const err =
          e instanceof WalError
            ? e
            : new WalError('write-failed', `wal: ${osError(e)}`, undefined, undefined, { cause: e });
        this.failure = err;
        this.opts.logger.warn({ err: err.message, code: err.code }, 'wal: failed; refusing further saves');
        for (const it of batch) it.reject(err);
      }
    }
  }

  private async writeBatch(batch: QueueItem[]): Promise<void> {
    const records: WalRecord[] = [];
    let hs: HardState | undefined;
    let snap: SnapshotMetadata | undefined;
    let lastIndex = this.lastIndex;
    let entries = 0;
    for (const it of batch) {
      entries += it.entries.length;
      for (const e of it.entries) records.push({ type: RecordType.Entry, entry: e });
      if (it.entries.length > 0) lastIndex = it.entries[it.entries.length - 1]!.index;
      if (it.snapshot) {
        records.push({ type: RecordType.Snapshot, snapshot: it.snapshot });
        snap = it.snapshot;
        if (snap.index > lastIndex) lastIndex = snap.index;
      }
      if (it.hardState) hs = it.hardState;
    }
    // Only the newest hard state of a batch matters; it goes last, after the entries it may commit.
    if (hs && !sameHardState(hs, this.hardState)) records.push({ type: RecordType.HardState, hardState: hs });
    if (records.length > 0) {
      let bytes = 0;
      for (const r of records) bytes += frameBytes(payloadBytes(r));
      if (this.offset + bytes > this.opts.segmentBytes && this.segmentHasData()) await this.cut();
      const enc = encodeRecords(records, this.crc);
      failpoint('walBeforeWrite');
      const path = join(this.dir, this.segments[this.segments.length - 1]!.name);
      try {
        await writeFully(this.file, enc.bytes, this.offset);
      } catch (e) {
        throw new WalError('write-failed', `wal: write to ${path} failed: ${osError(e)}`, path, this.offset, {
          cause: e,
        });
      }
      failpoint('walAfterWrite');
      const small = entries <= this.opts.syncInlineEntriesMax && this.queue.length === 0;
      this.smallBatchStreak = small ? this.smallBatchStreak + 1 : 0;
      await this.sync(path, small && this.smallBatchStreak >= SYNC_INLINE_STREAK);
      failpoint('walAfterSync');
      this.offset += enc.bytes.length;
      this.crc = enc.crc;
      this.lastIndex = lastIndex;
      if (hs) this.hardState = hs;
      if (snap) this.snapshot = snap;
    }
    for (const it of batch) it.resolve();
  }

  /** fdatasync of the active segment; `inline`: on this thread when the file offers it. */
  private async sync(path: string, inline = false): Promise<void> {
    const t0 = this.opts.now();
    try {
      if (inline && this.file.datasyncNow) this.file.datasyncNow();
      else await this.file.datasync();
    } catch (e) {
      throw new WalError(
        'fsync-failed',
        `wal: fdatasync of ${path} failed: ${osError(e)}`,
        path,
        this.offset,
        { cause: e },
      );
    }
    const seconds = (this.opts.now() - t0) / 1000;
    this.opts.onFsync(seconds);
    if (seconds > this.opts.slowFsyncSeconds) {
      this.opts.logger.warn(
        {
          took: `${(seconds * 1000).toFixed(1)}ms`,
          'expected-duration': `${this.opts.slowFsyncSeconds * 1000}ms`,
        },
        'slow fdatasync',
      );
    }
  }

  /** Whether the active segment holds anything beyond the header records a cut writes. */
  private segmentHasData(): boolean {
    return this.offset > this.headerBytes();
  }

  private headerBytes(): number {
    return this.headerRecords(0).reduce((n, r) => n + frameBytes(payloadBytes(r)), 0);
  }

  private headerRecords(prevCrc: number): WalRecord[] {
    const out: WalRecord[] = [
      { type: RecordType.Crc, crc: prevCrc },
      { type: RecordType.Metadata, metadata: this.metadata },
      { type: RecordType.Snapshot, snapshot: this.snapshot },
    ];
    if (!isEmptyHs(this.hardState)) out.push({ type: RecordType.HardState, hardState: this.hardState });
    return out;
  }

  /**
   * Seals the active segment (truncated to its data, synced) and starts the next one, named
   * (seq + 1, lastIndex + 1), whose header repeats the metadata, the newest snapshot marker and
   * hard state so that older segments can be released.
   */
  private async cut(): Promise<void> {
    failpoint('walBeforeCut');
    const prev = this.segments[this.segments.length - 1]!;
    const prevPath = join(this.dir, prev.name);
    try {
      await this.file.truncate(this.offset);
    } catch (e) {
      throw new WalError(
        'write-failed',
        `wal: sealing ${prevPath} failed: ${osError(e)}`,
        prevPath,
        this.offset,
        { cause: e },
      );
    }
    await this.sync(prevPath);
    await this.file.close();
    const seg: SegmentName = {
      seq: prev.seq + 1,
      index: this.lastIndex + 1,
      name: segmentFileName(prev.seq + 1, this.lastIndex + 1),
    };
    try {
      const prepared = await this.next;
      this.next = undefined;
      const made = await createSegment(
        this.opts,
        this.dir,
        seg.name,
        this.headerRecords(this.crc),
        this.crc,
        prepared,
      );
      this.file = made.file;
      this.offset = made.offset;
      this.crc = made.crc;
    } catch (e) {
      if (e instanceof WalError) throw e;
      throw new WalError(
        'write-failed',
        `wal: creating ${seg.name} failed: ${osError(e)}`,
        join(this.dir, seg.name),
        0,
        { cause: e },
      );
    }
    this.segments.push(seg);
    this.opts.logger.info({ path: join(this.dir, seg.name), prev: prevPath }, 'created a new WAL segment');
    this.prepareNext();
  }
}

function emptyHs(): HardState {
  return { term: 0, vote: 0n, commit: 0 };
}

function isEmptyHs(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0n && hs.commit === 0;
}

/** A preallocated, synced, still unnamed file for the next segment. */
interface PreparedSegment {
  file: WalFile;
  path: string;
}

/** File name of the segment being preallocated in the background. */
const NEXT_SEGMENT_TMP = 'next.wal.tmp';

/**
 * Creates segment `name` in `dir`: header records written to a temporary file (the `prepared`
 * preallocated one, or `name.tmp` made and preallocated here), synced, then renamed into place
 * and the directory synced — so a segment file either exists whole with its header or not at all.
 */
async function createSegment(
  opts: ResolvedOptions,
  dir: string,
  name: string,
  header: WalRecord[],
  prevCrc: number,
  prepared: PreparedSegment | undefined,
): Promise<{ file: WalFile; offset: number; crc: number }> {
  const fs = opts.fs;
  let tmp: string;
  let file: WalFile;
  if (prepared) {
    tmp = prepared.path;
    file = prepared.file;
  } else {
    tmp = join(dir, `${name}.tmp`);
    if (await fs.exists(tmp)) await fs.unlink(tmp);
    file = await fs.create(tmp);
  }
  try {
    const enc = encodeRecords(header, prevCrc);
    await writeFully(file, enc.bytes, 0);
    const size = Math.max(opts.segmentBytes, enc.bytes.length);
    if (!prepared) {
      // Without a background-prepared file (the first segment, or a cut that outran the pipeline)
      // extend sparsely: zero-filling 64 MiB here would stall start-up or the writers for seconds
      // (etcd likewise falls back to a sparse extend when fallocate is unavailable). Later segments
      // are zero-filled in the background when `preallocate` is on.
      await file.truncate(size);
    }
    await file.datasync();
    failpoint('walAfterCutTmp');
    await fs.rename(tmp, join(dir, name));
    await fs.fsyncDir(dir);
    return { file, offset: enc.bytes.length, crc: enc.crc };
  } catch (e) {
    await file.close().catch(() => {});
    throw e;
  }
}
