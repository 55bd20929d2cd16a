/**
 * The read-only view of the durable log that the Raft core consults. `wal/` provides the durable
 * implementation; `MemoryStorage` (in this folder) the in-memory one used by tests and simulation.
 *
 * Contract:
 * - Ranges are half-open: `entries(lo, hi)` returns indexes lo..hi-1.
 * - `firstIndex()` is the first index still stored (snapshot index + 1); `lastIndex()` the last one
 *   (equal to the snapshot index when the log is empty after it).
 * - `term(i)` answers for i in [firstIndex()-1, lastIndex()]: at firstIndex()-1 it is the snapshot's
 *   term.
 * - Returned arrays belong to the caller: the storage never mutates them afterwards, and the caller
 *   must not mutate the entries inside (they may be shared).
 * - Errors are thrown as `StorageError` with a fixed `code`:
 *   'compacted'   the index is below firstIndex()-1 (log compacted away);
 *   'unavailable' the index is above lastIndex();
 *   'snapshot-temporarily-unavailable' a snapshot is being made; try later.
 */
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

export type StorageErrorCode = 'compacted' | 'unavailable' | 'snapshot-temporarily-unavailable';

export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Storage {
  /** The persisted hard state and membership to restart from. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), truncated (but never below one entry) so their data fits in `maxBytes`.
   * Throws 'compacted' or 'unavailable' as above.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of entry i. Throws 'compacted' or 'unavailable' as above. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot. May throw 'snapshot-temporarily-unavailable'. */
  snapshot(): Snapshot;
}
