/** Every checker of the suite, run over one history. */
import type { CheckResult, History } from '../history.js';
import { checkConsistency } from './consistency.js';
import { checkListAppend } from './elle.js';
import { checkExits } from './exits.js';
import { checkLeases } from './lease.js';
import { checkMembership } from './membership.js';
import { checkMonotonic } from './monotonic.js';
import { checkRevisions } from './revisions.js';
import { checkWatches } from './watch.js';
import { checkWgl, type WglOptions } from './wgl.js';

export {
  checkConsistency,
  checkExits,
  checkLeases,
  checkListAppend,
  checkMembership,
  checkMonotonic,
  checkRevisions,
  checkWatches,
  checkWgl,
};

export function checkAll(h: History, wgl: WglOptions = {}): CheckResult[] {
  // Judged only in runs with a round of process faults alone (a network-only run has none).
  const exits = checkExits(h);
  return [
    checkConsistency(h),
    checkRevisions(h),
    checkWgl(h, wgl),
    checkMonotonic(h),
    checkWatches(h),
    checkLeases(h),
    ...(exits.checked > 0 ? [exits] : []),
    ...(h.listTxns ? [checkListAppend(h.listTxns)] : []),
    ...(h.leaderObservations ? [checkMembership(h)] : []),
  ];
}
