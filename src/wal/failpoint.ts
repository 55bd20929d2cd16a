/**
 * Named crash points. `failpoint('walBeforeSync')` is a no-op unless a test (or the crash-test
 * child process) armed that name with `setFailpoint`, in which case the armed action runs there —
 * typically killing the process, or throwing to simulate a failed step.
 *
 * Names used by the WAL:
 * - `walBeforeWrite`   a batch is encoded, nothing written yet
 * - `walAfterWrite`    a batch is written, not yet fdatasync'ed
 * - `walAfterSync`     a batch is durable, its callers not yet told
 * - `walBeforeCut`     the active segment is full, the next one not yet created
 * - `walAfterCutTmp`   the next segment exists as .tmp, not yet renamed into place
 * - `snapBeforeRename` a snapshot file is written and synced as .tmp, not yet renamed
 */
const armed = new Map<string, () => void>();

/** Runs the action armed for `name`, if any. */
export function failpoint(name: string): void {
  const f = armed.get(name);
  if (f) f();
}

/** Arms `name` with `action`, or disarms it when `action` is undefined. */
export function setFailpoint(name: string, action: (() => void) | undefined): void {
  if (action) armed.set(name, action);
  else armed.delete(name);
}
