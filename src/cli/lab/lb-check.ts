/**
 * The expectations of seed 000, shared by the lb tests: round_robin (static endpoints and dns:///)
 * within ±5% of 1/3 on each member, pick_first 100% on one, no failed Put, response headers and
 * /metrics agreeing on who answered, and packet counts that agree with the requests.
 */
import assert from 'node:assert/strict';
import type { LbPolicyResult, LbResult } from './lb.js';

/** Tolerance of a round_robin share around 1/3. */
export const SHARE_TOLERANCE = 0.05;

/** Throws an AssertionError when `r` does not show seed 000's result. */
export function checkSeedResult(r: LbResult, withDns = true): void {
  const by = new Map(r.policies.map((p) => [p.policy, p]));
  const rr = by.get('round_robin');
  const pf = by.get('pick_first');
  const dns = by.get('dns_round_robin');
  assert.ok(rr && pf, 'round_robin and pick_first ran');
  if (withDns) assert.ok(dns, 'dns_round_robin ran');
  const spread = [rr, ...(dns ? [dns] : [])];
  for (const p of [...spread, pf]) {
    assert.equal(p.failures, 0, p.policy);
    assert.equal(
      p.members.reduce((n, m) => n + m.requests, 0),
      p.requests,
      `${p.policy}: members handled every Put`,
    );
  }
  for (const p of spread)
    for (const m of p.members)
      assert.ok(Math.abs(m.share - 1 / 3) <= SHARE_TOLERANCE, `${p.policy} ${m.member}: ${m.share}`);
  assert.deepEqual(pf.members.map((m) => m.share).sort(), [0, 0, 1], 'pick_first: everything on one member');
  if (dns) {
    // grpc-js really asked the lab's DNS server, and got the three members.
    const a = dns.dnsQueries?.filter((q) => q.type === 'A') ?? [];
    assert.ok(a.length >= 1 && a.every((q) => q.answers === 3), `dns: A queries ${JSON.stringify(a)}`);
  }
  for (const p of r.policies) checkAttribution(p);
  if (r.packetsNote === undefined) {
    // About one PSH segment per Put; tcpdump may drop a few under load but never invents them.
    for (const p of spread)
      for (const m of p.members)
        assert.ok(m.packets! >= 0.8 * m.requests, `${p.policy} ${m.member}: packets ${m.packets}`);
    for (const m of pf.members)
      assert.equal(m.packets === 0, m.requests === 0, `pick_first ${m.member}: packets`);
  }
}

/** Two attributions agree: each member's own counter, and the member_id in each response header. */
export function checkAttribution(p: LbPolicyResult): void {
  for (const [i, m] of p.members.entries())
    assert.equal(
      p.timeline.reduce((n, row) => n + row[i]!, 0),
      m.requests,
      `${p.policy} ${m.member}: response headers vs /metrics`,
    );
}
