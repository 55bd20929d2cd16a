/**
 * The end of a member removed from the cluster (src/server/member-removed.ts): as etcd 3.4's
 * etcdmain after its server stopped, the process exits with status 0. The client listeners close and
 * the member stops first, so the store is closed cleanly; the data dir is left as it is (etcd only
 * logs that it "must be removed"). A stop that hangs does not keep the process: it exits anyway after
 * REMOVED_EXIT_GRACE_MS.
 */
import type { Member } from '../server/index.js';

/** The longest a removed member's process waits for its member to stop before exiting anyway. */
export const REMOVED_EXIT_GRACE_MS = 10_000;

/** Stops `member` (after closing the client API `api()` returns, if any) and exits with status 0. */
export function exitRemoved(member: Member, api: () => { close(): Promise<void> } | undefined): void {
  setTimeout(() => process.exit(0), REMOVED_EXIT_GRACE_MS).unref();
  Promise.resolve()
    .then(() => api()?.close())
    .catch(() => {})
    .then(() => member.stop())
    .catch(() => {})
    .finally(() => process.exit(0));
}
