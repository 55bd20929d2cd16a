/**
 * A simulated, fault-injecting `WalFs` for tests: files live in memory with two images each, what
 * the process sees and what would survive a power cut. `datasync` copies the sectors written
 * since the last one to the durable image; `crash(rng)` throws away the process's view and keeps, for every sector
 * written since the last datasync, either the new bytes or the old ones, chosen by the seeded rng,
 * and a file size between the durable and the current one — the torn, reordered writes of a real
 * power cut at sector granularity.
 *
 * Simplification (documented, deliberate): directory operations (create, rename, unlink) are
 * durable at once; only file contents and sizes are lost in a crash.
 *
 * Faults, all set through `faults` and changeable during a test:
 * - `shortWrites`: each write stores a random non-empty prefix and reports that count.
 * - `diskBytesMax`: total bytes of all files; a write past it stores what fits, then ENOSPC.
 * - `failWrite(path)`: when it returns an errno string ('EIO'), the write rejects with it.
 * - `failFsync(path)`: when it returns an errno string, datasync rejects with it and, as Linux
 *   may after a failed writeback, the dirty data is dropped from the durable image.
 * - `syncDelay()`: awaited inside datasync, so tests can hold an fsync in flight.
 *
 * `inlineSync`: files opened while it is true also offer `datasyncNow` (the synchronous fdatasync
 * the WAL uses for small batches); it honours `failFsync` but not `syncDelay`.
 */
import type { Rng } from '../pkg/rng.js';
import type { WalFile, WalFs } from './fs.js';

/** The crash model's sector size: the unit a power cut keeps or loses. */
export const SIM_SECTOR_BYTES = 512;

/** Injected faults of a SimFs. Every field is optional; unset means "no fault". */
export interface SimFaults {
  shortWrites?: boolean;
  diskBytesMax?: number;
  failWrite?: (path: string) => string | undefined;
  failFsync?: (path: string) => string | undefined;
  syncDelay?: () => Promise<void>;
}

/**
 * One file: the process's image (`cur`, `curLen` bytes used) and the power-cut survivor's
 * (`dur`, `durLen`). Bytes past a length are always zero. `dirty` holds the sectors written or
 * resized since the last datasync: only those can differ between the two images.
 */
class SimData {
  cur: Uint8Array = new Uint8Array(0);
  curLen = 0;
  dur: Uint8Array = new Uint8Array(0);
  durLen = 0;
  dirty = new Set<number>();

  static ensure(buf: Uint8Array, size: number): Uint8Array {
    if (buf.length >= size) return buf;
    const b = new Uint8Array(Math.max(size, buf.length * 2, 4096));
    b.set(buf);
    return b;
  }

  markDirty(from: number, to: number): void {
    for (let s = Math.floor(from / SIM_SECTOR_BYTES); s * SIM_SECTOR_BYTES < to; s++) this.dirty.add(s);
  }

  write(src: Uint8Array, pos: number): void {
    this.cur = SimData.ensure(this.cur, pos + src.length);
    this.cur.set(src, pos);
    this.curLen = Math.max(this.curLen, pos + src.length);
    this.markDirty(pos, pos + src.length);
  }

  resize(len: number): void {
    if (len < this.curLen) {
      this.cur.fill(0, len, this.curLen);
      this.markDirty(len, this.curLen);
    } else {
      this.cur = SimData.ensure(this.cur, len);
      this.markDirty(this.curLen, len);
    }
    this.curLen = len;
  }

  /** Copies sector `s` from one image to the other. */
  private static copySector(from: Uint8Array, to: Uint8Array, s: number): void {
    const a = s * SIM_SECTOR_BYTES;
    to.set(from.subarray(a, Math.min(from.length, a + SIM_SECTOR_BYTES)), a);
  }

  sync(): void {
    this.dur = SimData.ensure(this.dur, this.curLen);
    for (const s of this.dirty) SimData.copySector(this.cur, this.dur, s);
    if (this.durLen > this.curLen) this.dur.fill(0, this.curLen, this.durLen);
    this.durLen = this.curLen;
    this.dirty.clear();
  }

  /** Forgets everything since the last sync (a failed writeback dropped the dirty pages). */
  revert(): void {
    this.cur = SimData.ensure(this.cur, this.durLen);
    for (const s of this.dirty) {
      const a = s * SIM_SECTOR_BYTES;
      this.cur.fill(0, a, Math.min(this.cur.length, a + SIM_SECTOR_BYTES));
      SimData.copySector(this.dur, this.cur, s);
    }
    this.curLen = this.durLen;
    this.cur.fill(0, this.curLen);
    this.dirty.clear();
  }

  /** A power cut: keep each dirty sector with probability 1/2, and a size between the two. */
  crash(rand: () => number): void {
    const lo = Math.min(this.curLen, this.durLen);
    const hi = Math.max(this.curLen, this.durLen);
    const size = lo === hi ? hi : lo + Math.floor(rand() * (hi - lo + 1));
    this.dur = SimData.ensure(this.dur, hi);
    for (const s of [...this.dirty].sort((x, y) => x - y)) {
      if (rand() < 0.5) SimData.copySector(this.cur, this.dur, s);
    }
    this.dur.fill(0, size);
    this.durLen = size;
    this.cur = this.dur.slice();
    this.curLen = size;
    this.dirty.clear();
  }

  bytes(): Uint8Array {
    return this.cur.slice(0, this.curLen);
  }
}

function errno(code: string, op: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: simulated ${op} failure, '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

function norm(path: string): string {
  return path.replace(/\/+/g, '/').replace(/\/$/, '');
}

function parent(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The simulated file system. See the file comment for its durability model. */
export class SimFs implements WalFs {
  readonly faults: SimFaults = {};
  /** Counts of operations performed, for assertions (e.g. fsyncs per save). */
  readonly counts = { write: 0, datasync: 0, datasyncNow: 0, fsyncDir: 0 };
  /** Files opened from now on offer `datasyncNow` (see the header). */
  inlineSync = false;
  private readonly files = new Map<string, SimData>();
  private readonly dirs = new Set<string>(['/']);
  /** Incremented by crash(): handles from an earlier epoch belong to a dead process. */
  private epoch = 0;

  constructor(private readonly rng: Rng) {}

  private rand(): number {
    return this.rng.next();
  }

  private used(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.curLen;
    return n;
  }

  /**
   * Simulates a power cut: every open handle dies, and each file keeps its durable image plus a
   * random subset of the sectors written since its last datasync.
   */
  crash(): void {
    this.epoch++;
    for (const f of this.files.values()) f.crash(() => this.rand());
  }

  /** Test access: the current bytes of a file (a copy). */
  peek(path: string): Uint8Array {
    const f = this.files.get(norm(path));
    if (!f) throw errno('ENOENT', 'peek', path);
    return f.bytes();
  }

  /** Test access: overwrites bytes of a file in both images (simulates bit rot on disk). */
  poke(path: string, position: number, bytes: Uint8Array): void {
    const f = this.files.get(norm(path));
    if (!f) throw errno('ENOENT', 'poke', path);
    f.write(bytes, position);
    f.sync();
  }

  private handle(path: string, data: SimData): WalFile {
    const epoch = this.epoch;
    const alive = (op: string): void => {
      if (epoch !== this.epoch) throw errno('EBADF', `${op} after crash`, path);
      if (![...this.files.values()].includes(data)) throw errno('ENOENT', `${op} on unlinked file`, path);
    };
    const syncNow = (op: string): void => {
      alive(op);
      this.counts.datasync++;
      const code = this.faults.failFsync?.(path);
      if (code) {
        // Linux may mark dirty pages clean after failed writeback: the data is gone from disk.
        data.revert();
        throw errno(code, 'fdatasync', path);
      }
      data.sync();
    };
    return {
      write: async (buf, offset, length, position) => {
        await Promise.resolve();
        alive('write');
        this.counts.write++;
        const code = this.faults.failWrite?.(path);
        if (code) throw errno(code, 'write', path);
        let n = length;
        if (this.faults.shortWrites && n > 1) n = 1 + Math.floor(this.rand() * n);
        const max = this.faults.diskBytesMax;
        if (max !== undefined) {
          const growth = Math.max(0, position + n - data.curLen);
          const free = max - this.used();
          if (growth > free) {
            n = Math.max(0, data.curLen + free - position);
            if (n <= 0) throw errno('ENOSPC', 'write', path);
          }
        }
        data.write(buf.subarray(offset, offset + n), position);
        return n;
      },
      read: async (buf, offset, length, position) => {
        await Promise.resolve();
        alive('read');
        const src = data.cur.subarray(position, Math.max(position, Math.min(data.curLen, position + length)));
        buf.set(src, offset);
        return src.length;
      },
      datasync: async () => {
        await (this.faults.syncDelay?.() ?? new Promise<void>((r) => setImmediate(r)));
        syncNow('datasync');
      },
      ...(this.inlineSync
        ? {
            datasyncNow: () => {
              this.counts.datasyncNow++;
              syncNow('datasyncNow');
            },
          }
        : {}),
      truncate: async (length) => {
        await Promise.resolve();
        alive('truncate');
        const max = this.faults.diskBytesMax;
        if (max !== undefined && length - data.curLen > max - this.used()) {
          throw errno('ENOSPC', 'ftruncate', path);
        }
        data.resize(length);
      },
      size: async () => {
        alive('size');
        return data.curLen;
      },
      close: async () => {},
    };
  }

  async openReadWrite(path: string): Promise<WalFile> {
    await Promise.resolve();
    const p = norm(path);
    const f = this.files.get(p);
    if (!f) throw errno('ENOENT', 'open', path);
    return this.handle(p, f);
  }

  async create(path: string): Promise<WalFile> {
    await Promise.resolve();
    const p = norm(path);
    if (!this.dirs.has(parent(p))) throw errno('ENOENT', 'create', path);
    if (this.files.has(p)) throw errno('EEXIST', 'create', path);
    const f = new SimData();
    this.files.set(p, f);
    return this.handle(p, f);
  }

  async readFile(path: string): Promise<Uint8Array> {
    await Promise.resolve();
    const f = this.files.get(norm(path));
    if (!f) throw errno('ENOENT', 'read', path);
    return f.bytes();
  }

  async readdir(path: string): Promise<string[]> {
    await Promise.resolve();
    const p = norm(path);
    if (!this.dirs.has(p)) throw errno('ENOENT', 'readdir', path);
    const out: string[] = [];
    const prefix = p === '/' ? '/' : `${p}/`;
    for (const name of [...this.files.keys(), ...this.dirs]) {
      if (name.startsWith(prefix) && name !== p && !name.slice(prefix.length).includes('/')) {
        out.push(name.slice(prefix.length));
      }
    }
    return out.sort();
  }

  async mkdirp(path: string): Promise<void> {
    await Promise.resolve();
    let p = norm(path);
    while (p !== '/' && p !== '' && !this.dirs.has(p)) {
      this.dirs.add(p);
      p = parent(p);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await Promise.resolve();
    const f = this.files.get(norm(from));
    if (!f) throw errno('ENOENT', 'rename', from);
    this.files.delete(norm(from));
    this.files.set(norm(to), f);
  }

  async unlink(path: string): Promise<void> {
    await Promise.resolve();
    if (!this.files.delete(norm(path))) throw errno('ENOENT', 'unlink', path);
  }

  async fsyncDir(path: string): Promise<void> {
    await Promise.resolve();
    if (!this.dirs.has(norm(path))) throw errno('ENOENT', 'fsyncDir', path);
    this.counts.fsyncDir++;
  }

  async exists(path: string): Promise<boolean> {
    const p = norm(path);
    return this.files.has(p) || this.dirs.has(p);
  }
}
