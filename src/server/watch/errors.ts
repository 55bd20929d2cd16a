/**
 * The watch hub's error catalog: etcd's cancel reasons (exact texts, sent in `cancel_reason`) and
 * the one error that ends a stream.
 */

/** Why a watch stream was ended, or why a create was refused (the texts are etcd's where etcd has one). */
export class WatchError extends Error {
  /** etcd's ErrEmptyWatcherRange: range_end is set and not after key. */
  static readonly emptyRange = 'mvcc: watcher range is empty';
  /** etcd's ErrWatcherDuplicateID: the client chose an id already in use on the stream. */
  static readonly duplicateId = 'mvcc: duplicate watch ID provided on the WatchStream';
  /** tsetcd's bound `watchersPerStreamMax` (etcd has no such bound). */
  static readonly tooManyWatchers = 'tsetcd: too many watchers on this watch stream';
  /** The client sent requests but did not read the answers past `controlResponsesBufferedMax`. */
  static readonly slowClient = 'tsetcd: watch stream closed: the client is not reading responses';

  constructor(message: string) {
    super(message);
    this.name = 'WatchError';
  }
}
