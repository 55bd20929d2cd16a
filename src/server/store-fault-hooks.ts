/**
 * Test-only store disk faults for one member process (issue 16), driven by the failpoint server
 * (fault-control.ts) as the WAL's FailingWalFs is: an fsync error on the next lmdb batch, a full
 * disk (every batch fails with ENOSPC until cleared), and a slow disk (every batch's write + fsync
 * takes longer). Constructed only when TSETCD_FAILPOINT_ADDR is set; production passes no hooks.
 */
import type { StoreFaults } from '../mvcc/index.js';

function errnoError(code: string, op: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected store ${op} failure (failpoint)`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** Largest fsync delay the failpoint accepts, ms (a slow disk, not a hung one). */
export const FSYNC_DELAY_MS_MAX = 5000;

/**
 * The `n`th fsync delay around `ms`: a deterministic spread from 0.1 to 1.9 times `ms` (a slow disk
 * is not uniformly slow, and widely varying delays are what could reorder batches that are not kept
 * in order: a slow WAL paces the store's batches about `ms` apart).
 */
export function jitteredDelayMs(ms: number, n: number): number {
  if (ms <= 0) return 0;
  // murmur3's finalizer over n, so that consecutive delays are unrelated (not a steady ramp).
  let h = (n + 1) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return Math.round(ms * (0.1 + (h % 181) / 100));
}

/** StoreFaults whose behaviour the failpoint server sets. */
export class InjectedStoreFaults implements StoreFaults {
  /** errno the next batch's fsync fails with (consumed by that batch). */
  failNextFsync: string | undefined;
  /** While set, every batch fails with ENOSPC before anything is written. */
  diskFull = false;
  /** Added to every batch (write + fsync), ms; 0 = none. */
  fsyncDelayMs = 0;
  /** How many injected failures actually fired. */
  fired = 0;
  /** How many batches were slowed down. */
  delayed = 0;

  /** The deliberately broken store (StoreFaults.unordered): set from FAILPOINT_UNORDERED_ENV only. */
  constructor(readonly unordered = false) {}

  async beforeBatch(): Promise<void> {
    if (this.diskFull) {
      this.fired++;
      throw errnoError('ENOSPC', 'write');
    }
    const ms = jitteredDelayMs(this.fsyncDelayMs, this.delayed);
    if (ms > 0) {
      this.delayed++;
      await new Promise((r) => setTimeout(r, ms));
    }
  }

  async afterBatch(): Promise<void> {
    const code = this.failNextFsync;
    if (code === undefined) return;
    this.failNextFsync = undefined;
    this.fired++;
    throw errnoError(code, 'fsync');
  }

  /** Back to a healthy disk. */
  reset(): void {
    this.failNextFsync = undefined;
    this.diskFull = false;
    this.fsyncDelayMs = 0;
  }
}
