/**
 * Membership checker: (1) Raft's election safety seen from outside — across every Status answer of
 * every member during the run, no term has two different leaders; (2) a member removed while it was
 * down and restarted on its old data (nemesis-membership.ts, `member-remove-stale`) is told it was
 * removed (etcd's "the member has been permanently removed from the cluster") and serves nothing:
 * no write and no linearizable read through it succeeds.
 */
import type { CheckResult, History, Violation } from '../history.js';

/** One Status answer: who answered, its Raft term and the leader it knew (ids decimal; "0" = none). */
export interface LeaderObservation {
  at: number;
  member: string;
  id: string;
  term: number;
  leader: string;
}

/**
 * What a member that missed its own removal did once restarted (nemesis-membership.ts's
 * `member-remove-stale` records it, this checker judges it).
 */
export interface RemovedMemberRecord {
  name: string;
  id: string;
  /** Its log says it learned of its removal (MEMBER_REMOVED_TEXT). */
  toldRemoved: boolean;
  /** Writes and linearizable reads tried through it, and how many succeeded (must be 0). */
  tried: number;
  succeeded: number;
  /** Whether the process exited by itself (etcd's does, with code 0). */
  exited: boolean;
  detail: string;
}

export function checkMembership(h: History): CheckResult {
  const violations: Violation[] = [];
  const obs = h.leaderObservations ?? [];
  const byTerm = new Map<number, Map<string, LeaderObservation>>();
  for (const o of obs) {
    if (o.leader === '0') continue;
    const leaders = byTerm.get(o.term) ?? new Map<string, LeaderObservation>();
    byTerm.set(o.term, leaders);
    if (!leaders.has(o.leader)) leaders.set(o.leader, o);
  }
  for (const [term, leaders] of byTerm) {
    if (leaders.size < 2) continue;
    violations.push({
      checker: 'membership',
      kind: 'two-leaders-in-term',
      detail: `term ${term} has leaders ${[...leaders.values()]
        .map((o) => `${BigInt(o.leader).toString(16)} (seen by ${o.member} at ${o.at.toFixed(0)} ms)`)
        .join(' and ')}`,
    });
  }
  for (const r of h.removedMembers ?? []) {
    if (r.succeeded > 0)
      violations.push({
        checker: 'membership',
        kind: 'removed-member-served',
        detail: `${r.name} (${BigInt(r.id).toString(16)}) after its removal: ${r.detail}`,
      });
    if (!r.toldRemoved)
      violations.push({
        checker: 'membership',
        kind: 'removed-member-not-told',
        detail: `${r.name} (${BigInt(r.id).toString(16)}) never learned it was removed: ${r.detail}`,
      });
  }
  return {
    checker: 'membership',
    violations,
    undecided: [],
    checked: obs.length + (h.removedMembers?.length ?? 0),
  };
}
