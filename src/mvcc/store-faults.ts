/**
 * The store's disk-fault seam (issue 16), as the WAL has its file system (src/wal/fs.ts): lmdb-js
 * writes and fsyncs on its own thread, out of reach of a wrapped file system, so the store asks these
 * hooks around each lmdb batch instead. Production passes none (`MvccStoreOptions.faults` absent):
 * then every batch goes straight to lmdb and nothing here runs.
 *
 *   flush() -> beforeBatch() -> lmdb batch (write + fsync) -> afterBatch() -> batch counted committed
 *
 * A rejected hook fails the store exactly as a real lmdb write or sync error does: MvccStore marks
 * itself unusable and every later commit()/syncAll() rethrows the error (etcd's backend panics on a
 * failed commit; the member stops). Batches stay in order whatever the hooks' delays: each waits
 * for the one before it (lmdb commits its batches in order, and the overlay depends on that).
 */

/** Injected store disk faults. */
export interface StoreFaults {
  /**
   * Before an lmdb batch is handed over: resolves after any injected latency (a slow disk), rejects
   * with an injected write error (ENOSPC: nothing of the batch is written).
   */
  beforeBatch(): Promise<void>;
  /**
   * After lmdb committed a batch and before it counts as durable: rejects with an injected fsync
   * error (EIO: the data may or may not be on disk, and the store can no longer be trusted).
   */
  afterBatch(): Promise<void>;
  /**
   * A deliberately broken store, for proving that a test catches it (never set otherwise): each
   * batch waits only for its own hooks, not for the batch before it, so under a slow disk a later
   * batch (with a higher consistent index) can commit before an earlier one; a kill in between
   * leaves a store whose consistent index covers writes it does not hold.
   */
  readonly unordered?: boolean;
}
