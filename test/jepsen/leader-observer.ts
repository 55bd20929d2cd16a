/**
 * Polls every member process's Status (leader, Raft term) during a run, so the membership checker
 * can prove Raft's election safety from the outside: at most one leader per term, whoever was asked.
 * Each observation is one Status answer; members that do not answer are skipped.
 */
import type { Proc } from '../helpers/cluster.js';
import { running } from '../helpers/cluster.js';
import { connect } from '../helpers/index.js';
import type { LeaderObservation } from './checkers/membership.js';
import { now } from './workload.js';

/** Time between two rounds of Status calls. */
const OBSERVE_INTERVAL_MS = 200;
const STATUS_DEADLINE_MS = 1_000;

/** Polls until `stopped()`, appending to `out`. `procs()` is asked every round (membership changes). */
export async function observeLeaders(
  procs: () => Proc[],
  out: LeaderObservation[],
  stopped: () => boolean,
): Promise<void> {
  const conns = new Map<string, ReturnType<typeof connect>>();
  try {
    while (!stopped()) {
      const round = now();
      await Promise.all(
        procs().map(async (p) => {
          if (!running(p) || (p as { paused?: boolean }).paused) return;
          let c = conns.get(p.client);
          if (!c) {
            c = connect(p.client);
            conns.set(p.client, c);
          }
          try {
            const s = await c.maintenance.status({}, { deadlineMs: STATUS_DEADLINE_MS });
            out.push({
              at: now(),
              member: p.name,
              id: s.header!.memberId.toString(),
              term: Number(s.raftTerm),
              leader: s.leader.toString(),
            });
          } catch {
            c.close();
            conns.delete(p.client);
          }
        }),
      );
      const wait = OBSERVE_INTERVAL_MS - (now() - round);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    for (const c of conns.values()) c.close();
  }
}
