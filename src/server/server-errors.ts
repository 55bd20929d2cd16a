/** The server layer's translation of lower layers' errors into the wire errors etcd sends for them. */
import { MvccError } from '../mvcc/index.js';
import { etcdError } from '../wire/errors.js';

/** MVCC errors become the wire errors etcd sends for them; anything else passes through. */
export function toServerError(err: unknown): unknown {
  if (err instanceof MvccError) {
    if (err.code === 'compacted') return etcdError('compacted');
    if (err.code === 'future-rev') return etcdError('futureRev');
    return etcdError('stopped');
  }
  return err;
}

/** Runs `fn`, translating MVCC errors it throws. */
export function mapMvccErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toServerError(err);
  }
}
