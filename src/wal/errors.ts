/**
 * The WAL's error catalog. Every failure the WAL reports to its caller is a `WalError` with a fixed
 * `code`; texts are prefixed `wal: ` (or `snap: ` for the snapshot store) as etcd's are.
 */

/** Why a WAL or snapshot operation failed. */
export type WalErrorCode =
  /** `Wal.create` found an existing WAL in the directory. */
  | 'exists'
  /** `Wal.open` found no WAL segment in the directory. */
  | 'not-found'
  /** A record before the repairable tail is damaged; `file` and `offset` say where. */
  | 'corrupt'
  /** The segment files do not form one sequence (gap in sequence numbers, metadata mismatch). */
  | 'bad-layout'
  /** Reading the WAL at open failed (an I/O error, not damage). */
  | 'read-failed'
  /** A write to a segment failed (EIO, ENOSPC, short write the OS refused to finish). */
  | 'write-failed'
  /** fdatasync failed: the WAL no longer knows what is durable and stays failed. */
  | 'fsync-failed'
  /** An earlier write or fsync failed; the WAL refuses every later save until reopened. */
  | 'failed'
  /** The WAL was closed. */
  | 'closed'
  /** One record is larger than `RECORD_BYTES_MAX`. */
  | 'record-too-large'
  /** The caller broke an ordering contract (entries out of order, older snapshot). */
  | 'out-of-order'
  /** No snapshot file (or none matching the WAL's snapshot markers) could be loaded. */
  | 'no-snapshot'
  /** A snapshot file failed its CRC or could not be decoded. */
  | 'snapshot-corrupt';

/** A typed WAL failure. `file`/`offset` locate damage on disk when known; `cause` is the OS error. */
export class WalError extends Error {
  override name = 'WalError';
  constructor(
    readonly code: WalErrorCode,
    message: string,
    readonly file?: string,
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
