/**
 * The snapshot store: raft snapshots (metadata + the state machine's data bytes) as files
 * `<dir>/%016x-%016x.snap` (term-index), as etcd's `snap` package keeps them.
 *
 * File layout (little-endian):
 *   0  8 bytes magic "tsetcdsn"
 *   8  u32 crc32c of bytes [12, end)
 *  12  u32 metadata length m
 *  16  m bytes snapshot metadata (the payload of a WAL snapshot record: index, term, conf state)
 *  16+m  the data bytes, to the end of the file
 *
 * Writes go to `<name>.tmp`, are fdatasync'ed, renamed into place, and the directory is synced:
 * a `.snap` file is whole or absent. A file that fails its CRC is renamed to `<name>.broken`
 * (logged) and skipped, as etcd does.
 */
import { crc32c } from '../pkg/crc32c.js';
import type { Snapshot, SnapshotMetadata } from '../raft/types.js';
import { WalError } from './errors.js';
import { failpoint } from './failpoint.js';
import { nodeWalFs, type WalFs } from './fs.js';
import { decodeFrame, encodeRecords, HEADER_BYTES, RecordType } from './record.js';
import { parseSnapName, snapFileName } from './segment-name.js';
import type { WalLogger } from './wal.js';

/** etcd's default --max-snapshots. */
export const MAX_SNAPSHOTS_DEFAULT = 5;
const MAGIC = new TextEncoder().encode('tsetcdsn');
const PREFIX_BYTES = 16;

/** Options of a Snapshotter. */
export interface SnapshotterOptions {
  fs?: WalFs;
  logger?: WalLogger;
  /** Snapshot files kept by `purge()`; 0 keeps all. Default 5 (etcd --max-snapshots). */
  maxSnapshots?: number;
  /** Told how long each successful `save` took, in seconds: in all, encoding, and the file's fsync. */
  onSave?: (t: SnapshotSaveTimes) => void;
  /** Monotonic clock in milliseconds, for the save timing. Default performance.now. */
  now?: () => number;
}

/** How long one snapshot save took, in seconds (etcd's snap save metrics). */
export interface SnapshotSaveTimes {
  totalSeconds: number;
  marshalSeconds: number;
  fsyncSeconds: number;
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Encodes a snapshot file's bytes. */
export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  // The metadata reuses the WAL snapshot record's payload encoding (without its frame).
  const frame = encodeRecords([{ type: RecordType.Snapshot, snapshot: s.metadata }], 0).bytes;
  const m = new DataView(frame.buffer).getUint32(0, true);
  const out = new Uint8Array(PREFIX_BYTES + m + s.data.length);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(12, m, true);
  out.set(frame.subarray(HEADER_BYTES, HEADER_BYTES + m), PREFIX_BYTES);
  out.set(s.data, PREFIX_BYTES + m);
  v.setUint32(8, crc32c(out, 0, 12, out.length), true);
  return out;
}

/** Decodes a snapshot file's bytes; returns a reason string when damaged. Never throws. */
export function decodeSnapshotFile(buf: Uint8Array): Snapshot | string {
  if (buf.length < PREFIX_BYTES) return 'file too short';
  for (let i = 0; i < MAGIC.length; i++) if (buf[i] !== MAGIC[i]) return 'bad magic';
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (crc32c(buf, 0, 12, buf.length) !== v.getUint32(8, true)) return 'crc mismatch';
  const m = v.getUint32(12, true);
  if (PREFIX_BYTES + m > buf.length) return 'metadata length past end';
  // Re-frame the metadata so the WAL record decoder validates it.
  const enc = new Uint8Array(HEADER_BYTES + m + 8);
  const ev = new DataView(enc.buffer);
  ev.setUint32(0, m, true);
  enc[4] = RecordType.Snapshot;
  enc.set(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + m), HEADER_BYTES);
  ev.setUint32(8, crc32c(enc.subarray(HEADER_BYTES, HEADER_BYTES + m), crc32c(enc.subarray(0, 8))), true);
  const r = decodeFrame(enc.subarray(0, (HEADER_BYTES + m + 7) & ~7), 0, 0);
  if (r.kind !== 'record' || r.record.type !== RecordType.Snapshot) return 'bad metadata';
  return { metadata: r.record.snapshot, data: buf.slice(PREFIX_BYTES + m) };
}

/** Saves, loads and purges snapshot files in one directory. */
export class Snapshotter {
  private readonly fs: WalFs;
  private readonly logger: WalLogger | undefined;
  private readonly maxSnapshots: number;
  private readonly onSave: ((t: SnapshotSaveTimes) => void) | undefined;
  private readonly now: () => number;

  constructor(
    private readonly dir: string,
    opts: SnapshotterOptions = {},
  ) {
    this.fs = opts.fs ?? nodeWalFs;
    this.logger = opts.logger;
    this.maxSnapshots = opts.maxSnapshots ?? MAX_SNAPSHOTS_DEFAULT;
    this.onSave = opts.onSave;
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * Durably writes `snapshot` (resolves once file and directory entry are synced). Save the
   * snapshot here before writing its marker to the WAL. Rejects with WalError 'write-failed'.
   */
  async save(snapshot: Snapshot): Promise<void> {
    const name = snapFileName(snapshot.metadata.term, snapshot.metadata.index);
    const tmp = join(this.dir, `${name}.tmp`);
    const started = this.now();
    let marshalSeconds = 0;
    let fsyncSeconds = 0;
    try {
      await this.fs.mkdirp(this.dir);
      if (await this.fs.exists(tmp)) await this.fs.unlink(tmp);
      const marshalStarted = this.now();
      const bytes = encodeSnapshotFile(snapshot);
      marshalSeconds = (this.now() - marshalStarted) / 1000;
      const f = await this.fs.create(tmp);
      try {
        let done = 0;
        while (done < bytes.length) {
          const n = await f.write(bytes, done, bytes.length - done, done);
          if (n <= 0) throw new Error('write made no progress');
          done += n;
        }
        const fsyncStarted = this.now();
        await f.datasync();
        fsyncSeconds = (this.now() - fsyncStarted) / 1000;
      } finally {
        await f.close();
      }
      failpoint('snapBeforeRename');
      await this.fs.rename(tmp, join(this.dir, name));
      await this.fs.fsyncDir(this.dir);
      this.onSave?.({ totalSeconds: (this.now() - started) / 1000, marshalSeconds, fsyncSeconds });
    } catch (e) {
      if (e instanceof WalError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new WalError(
        'write-failed',
        `snap: saving ${name} failed: ${code}`,
        join(this.dir, name),
        undefined,
        { cause: e },
      );
    }
  }

  /** Snapshot file names present, newest (highest index, then term) first. */
  async list(): Promise<{ name: string; term: number; index: number }[]> {
    if (!(await this.fs.exists(this.dir))) return [];
    const out: { name: string; term: number; index: number }[] = [];
    for (const name of await this.fs.readdir(this.dir)) {
      const p = parseSnapName(name);
      if (p) out.push({ name, ...p });
    }
    return out.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  /**
   * Loads the snapshot at exactly (term, index). Rejects with WalError 'no-snapshot' when the
   * file is missing, 'snapshot-corrupt' when it fails its CRC (the file is left in place).
   */
  async load(meta: Pick<SnapshotMetadata, 'term' | 'index'>): Promise<Snapshot> {
    const name = snapFileName(meta.term, meta.index);
    const path = join(this.dir, name);
    if (!(await this.fs.exists(path)))
      throw new WalError('no-snapshot', `snap: no snapshot file ${path}`, path);
    const r = decodeSnapshotFile(await this.fs.readFile(path));
    if (typeof r === 'string') throw new WalError('snapshot-corrupt', `snap: ${path}: ${r}`, path);
    if (r.metadata.term !== meta.term || r.metadata.index !== meta.index) {
      throw new WalError(
        'snapshot-corrupt',
        `snap: ${path} holds ${r.metadata.term}-${r.metadata.index}`,
        path,
      );
    }
    return r;
  }

  /**
   * The newest snapshot that decodes; damaged files on the way are renamed `.broken` and logged.
   * With `accept`, only snapshots it accepts count (e.g. those with a WAL marker). Resolves
   * undefined when none qualifies.
   */
  async loadNewest(accept?: (meta: SnapshotMetadata) => boolean): Promise<Snapshot | undefined> {
    for (const f of await this.list()) {
      const path = join(this.dir, f.name);
      const r = decodeSnapshotFile(await this.fs.readFile(path));
      if (typeof r === 'string' || r.metadata.term !== f.term || r.metadata.index !== f.index) {
        const reason = typeof r === 'string' ? r : 'name does not match content';
        this.logger?.warn({ path, reason }, 'snap: failed to read snapshot file; renaming to .broken');
        await this.fs.rename(path, `${path}.broken`);
        continue;
      }
      if (!accept || accept(r.metadata)) return r;
    }
    return undefined;
  }

  /** Deletes the oldest snapshot files beyond `maxSnapshots`; resolves with their names. */
  async purge(): Promise<string[]> {
    if (this.maxSnapshots === 0) return [];
    const files = await this.list();
    const doomed = files.slice(this.maxSnapshots).map((f) => f.name);
    for (const name of doomed) await this.fs.unlink(join(this.dir, name));
    if (doomed.length > 0) {
      await this.fs.fsyncDir(this.dir);
      this.logger?.info({ dir: this.dir, deleted: doomed }, 'snap: purged old snapshot files');
    }
    return doomed;
  }
}
