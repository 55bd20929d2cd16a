/**
 * Members that exit on their own where etcd keeps running. Process faults (SIGKILL and restart on
 * the same data dir, SIGSTOP/SIGCONT) leave every disk intact: an etcd member restarted after them
 * waits for a quorum as long as it takes — after a power cut members come back one by one — and a
 * paused one carries on. So a member that exits by itself during a round made only of process
 * faults is a violation (issue 16: "a restarted member that finds no leader exits after about 7 s,
 * where etcd keeps waiting"); the nemesis records such exits on the round's FaultRecords (`exits`)
 * and restarts the member as a supervisor would, so the run goes on and this checker reports it.
 * Rounds with a disk fault (a member whose disk fails exits, as etcd does) or a membership change
 * (a removed member exits) are not judged here.
 */
import type { CheckResult, History, Violation } from '../history.js';

/**
 * The process faults: the nemesis's `process` group (nemesis.ts FAULT_GROUPS takes this list), the
 * rounds in which no member may exit on its own.
 */
export const EXIT_FREE_FAULTS: readonly string[] = [
  'kill',
  'kill-leader',
  'kill-majority',
  'kill-all',
  'kill-all-staggered',
  'pause',
  'pause-leader',
];

export function checkExits(h: History): CheckResult {
  const violations: Violation[] = [];
  // Faults injected together share their start time: one round.
  const rounds = new Map<number, History['faults']>();
  for (const f of h.faults) rounds.set(f.start, [...(rounds.get(f.start) ?? []), f]);
  let checked = 0;
  for (const round of rounds.values()) {
    if (!round.every((f) => EXIT_FREE_FAULTS.includes(f.kind))) continue;
    checked++;
    const exits = [...new Set(round.flatMap((f) => f.exits ?? []))];
    for (const e of exits) {
      violations.push({
        checker: 'exits',
        kind: 'member-exited',
        detail: `during ${round.map((f) => `${f.kind} (${f.detail})`).join(' + ')}, a member exited on its own where etcd keeps running (restarted by the nemesis): ${e}`,
      });
    }
  }
  return { checker: 'exits', violations, undecided: [], checked };
}
