/**
 * How a member removed from the cluster ends, as etcd 3.4's does. It learns of its removal in one of
 * two ways: it applies the entry that removes it (etcd's applyConfChange returns shouldStop, and the
 * server stops after a 1 s delay: `stopWithDelay`), or its peers refuse it with 410 (rafthttp's
 * errMemberRemoved, when it was down or cut off and missed the entry). Either way etcd's server run
 * loop takes the error from `errorc`, logs "server error" and "data-dir used by this member must be
 * removed", stops, and etcdmain exits with status 0, leaving the data dir as it was.
 *
 * Here both ways hand a `MemberRemovedError` to the member's `fail`, which stops taking requests and
 * calls the CLI's `onFailed`; the CLI tells it from a disk failure with `isMemberRemoved`, stops
 * the member and exits 0 (a disk failure exits 1, as etcd's zap Fatal).
 */
import type { Logger } from './logger.js';

/** etcd's errMemberRemoved text (rafthttp and etcdserver). */
export const MEMBER_REMOVED_TEXT = 'the member has been permanently removed from the cluster';

/** etcd's delay between applying its own removal and stopping (`stopWithDelay(10*100ms)`). */
export const REMOVED_STOP_DELAY_MS = 1_000;

/** The member was removed from the cluster: it stops for good. */
export class MemberRemovedError extends Error {
  override name = 'MemberRemovedError';
  constructor() {
    super(MEMBER_REMOVED_TEXT);
  }
}

/** Whether `err` (as passed to the member's `onFailed`) is the member's removal. */
export function isMemberRemoved(err: unknown): err is MemberRemovedError {
  return err instanceof MemberRemovedError;
}

/**
 * Logs why the member stops: for a removal etcd's two lines (etcdserver/server.go: `lg.Warn("server
 * error", zap.Error(err))`, `lg.Warn("data-dir used by this member must be removed")`), otherwise the
 * disk failure that stopped it.
 */
export function logMemberStop(logger: Logger, err: unknown): void {
  if (isMemberRemoved(err)) {
    logger.warn({ error: err.message }, 'server error');
    logger.warn({}, 'data-dir used by this member must be removed');
    return;
  }
  logger.error({ err: String(err) }, 'the member failed (disk); it stops serving');
}
