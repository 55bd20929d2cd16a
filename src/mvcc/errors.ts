/**
 * The mvcc error catalog. Texts match etcd 3.4's `mvcc` package exactly, because the api layer maps
 * them to wire errors by (code, message) and clients compare the message.
 */

/** What went wrong, machine-readable. */
export type MvccErrorCode = 'compacted' | 'future-rev' | 'closed';

const messages: Record<MvccErrorCode, string> = {
  compacted: 'mvcc: required revision has been compacted',
  'future-rev': 'mvcc: required revision is a future revision',
  closed: 'mvcc: closed',
};

/**
 * A domain error of the mvcc store: a read or compaction named a revision at or below the compact
 * revision (`compacted`), above the current revision (`future-rev`), or the store is closed.
 */
export class MvccError extends Error {
  override name = 'MvccError';
  readonly code: MvccErrorCode;

  constructor(code: MvccErrorCode) {
    super(messages[code]);
    this.code = code;
  }
}

/** etcd's ErrCompacted. */
export const errCompacted = (): MvccError => new MvccError('compacted');
/** etcd's ErrFutureRev. */
export const errFutureRev = (): MvccError => new MvccError('future-rev');
/** etcd's ErrClosed. */
export const errClosed = (): MvccError => new MvccError('closed');
