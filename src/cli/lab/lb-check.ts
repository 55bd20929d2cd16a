/**
 * The expectations of seed 000, shared by the lb tests: round_robin within ±5% of 1/3 on each
 * member, pick_first 100% on one, no failed Put, response headers and /metrics agreeing on who
 * answered, and packet counts that agree with the requests.
 */
import assert from 'node:assert/strict';
import type { LbResult } from './lb.js';

/** Throws an AssertionError when `r` does not show seed 000's result. */
export function checkSeedResult(r: LbResult): void {
  const [rr, pf] = r.policies;
  assert.equal(rr?.policy, 'round_robin');
  assert.equal(pf?.policy, 'pick_first');
  for (const p of [rr!, pf!]) {
    assert.equal(p.failures, 0, p.policy);
    assert.equal(
      p.members.reduce((n, m) => n + m.requests, 0),
      p.requests,
      `${p.policy}: members handled every Put`,
    );
  }
  for (const m of rr!.members)
    assert.ok(Math.abs(m.share - 1 / 3) <= 0.05, `round_robin ${m.member}: ${m.share}`);
  assert.deepEqual(pf!.members.map((m) => m.share).sort(), [0, 0, 1], 'pick_first: everything on one member');
  // Two attributions agree: each member's own counter, and the member_id in each response header.
  for (const p of r.policies)
    for (const [i, m] of p.members.entries())
      assert.equal(
        p.timeline.reduce((n, row) => n + row[i]!, 0),
        m.requests,
        `${p.policy} ${m.member}: response headers vs /metrics`,
      );
  if (r.packetsNote === undefined) {
    // About one PSH segment per Put; tcpdump may drop a few under load but never invents them.
    for (const m of rr!.members)
      assert.ok(m.packets! >= 0.8 * m.requests, `round_robin ${m.member}: packets ${m.packets}`);
    for (const m of pf!.members)
      assert.equal(m.packets === 0, m.requests === 0, `pick_first ${m.member}: packets`);
  }
}
