/**
 * Revision monotonicity per client: a client (pinned to one member, one operation at a time) never
 * sees the revision go backwards. Linearizable operations must not go below anything the client saw
 * before; a serializable read is served from the member's local state, so it is compared only with
 * what the client saw since that member last restarted (a restarted member may still be replaying).
 */
import type { CheckResult, History, Violation } from '../history.js';
import { describeOp } from '../history.js';

export function checkMonotonic(h: History): CheckResult {
  const checker = 'client-monotonic';
  const violations: Violation[] = [];
  const byClient = new Map<number, typeof h.ops>();
  for (const o of h.ops) {
    if (o.outcome !== 'ok' || o.revision === undefined) continue;
    const l = byClient.get(o.client);
    if (l) l.push(o);
    else byClient.set(o.client, [o]);
  }
  let checked = 0;
  for (const ops of byClient.values()) {
    ops.sort((a, b) => a.invoke - b.invoke);
    let maxAll: (typeof ops)[number] | undefined;
    const maxInIncarnation = new Map<number, (typeof ops)[number]>();
    for (const o of ops) {
      checked++;
      const base = o.serializable ? maxInIncarnation.get(o.memberIncarnation) : maxAll;
      if (base !== undefined && o.revision! < base.revision!)
        violations.push({
          checker,
          kind: 'revision-went-backwards',
          detail: `${describeOp(o)} after ${describeOp(base)}`,
        });
      if (maxAll === undefined || o.revision! > maxAll.revision!) maxAll = o;
      const m = maxInIncarnation.get(o.memberIncarnation);
      if (m === undefined || o.revision! > m.revision!) maxInIncarnation.set(o.memberIncarnation, o);
    }
  }
  return { checker, violations, undecided: [], checked };
}
