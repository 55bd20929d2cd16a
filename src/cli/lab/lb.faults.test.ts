/**
 * Goal: `tsetcd lab lb`'s scenarios come out as the issue says, through tsetcd/client:
 * - --kill: with pick_first the client moves to another member within an election timeout plus a
 *   second of its pinned member being SIGKILLed; with round_robin (static and dns:///) the dead
 *   member gets nothing more and the other two share the rest. When the killed member was the
 *   leader, a Put already forwarded to it waits out its deadline first.
 * - --add: a member added mid-run gets traffic from the membership mode (MemberList every second)
 *   and none from static endpoints or a dns:/// client (grpc-js resolves again only on failure).
 * - --slow: round_robin keeps sending a third to a slow member (it balances requests, not latency),
 *   and the Puts it answers are the slow ones.
 * - the plain lab against real etcd 3.4 gives seed 000's picture (a check of the method itself).
 * Method: runLbLab in-process (tsetcd members on free ports). A long run: `npm run test:lab`, also
 * in test:faults.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runLbLab } from './lb.js';
import { checkAttribution, checkSeedResult, SHARE_TOLERANCE } from './lb-check.js';
import { MEMBERSHIP_SYNC_MS, PUT_TIMEOUT_MS } from './lb-client.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
/** etcd's default election timeout, which tsetcd shares. */
const ELECTION_TIMEOUT_MS = 1000;
const base = { endpoints: [], seedPorts: false, binary: 'tsetcd' as const, root, log: () => {} };

test('a killed member: pick_first fails over, round_robin skips it', { timeout: 180_000 }, async () => {
  const r = await runLbLab({ ...base, requests: 90, kill: true });
  assert.equal(r.policies.length, 3);
  for (const p of r.policies) {
    const k = p.kill;
    assert.ok(k, `${p.policy}: kill recorded`);
    const victim = Number(k.member.slice(4)) - 1;
    assert.equal(k.putsAfter[victim], 0, `${p.policy}: the dead member handled nothing`);
    // A follower killed: the client moves on within an election timeout plus a second. The leader
    // killed: a Put a survivor already forwarded to it is lost and waits out its deadline (etcd 3.4
    // does the same), then the new leader takes the next one.
    const bound = ELECTION_TIMEOUT_MS + 1000 + (k.wasLeader ? PUT_TIMEOUT_MS : 0);
    assert.ok(
      k.failoverMs !== null && k.failoverMs <= bound,
      `${p.policy}: failover ${k.failoverMs} ms (leader: ${k.wasLeader})`,
    );
    const survivors = k.putsAfter.filter((_, i) => i !== victim);
    // A Put that failed at the client may still be handled (and counted) by a survivor later.
    const sum = survivors.reduce((a, b) => a + b, 0);
    assert.ok(sum >= 60 - k.failuresAfter && sum <= 60, `${p.policy}: the rest went to survivors (${sum})`);
    if (p.policy === 'pick_first')
      assert.equal(survivors.filter((n) => n > 0).length, 1, 'pick_first: one survivor');
    else
      assert.ok(
        survivors.every((n) => n >= 20),
        `${p.policy}: both survivors (${survivors})`,
      );
    // The timeline shows the move: the victim answers nothing in the seconds after the kill.
    const after = Math.ceil(k.atMs / 1000);
    for (const row of p.timeline.slice(after)) assert.equal(row[victim], 0, `${p.policy}: timeline`);
  }
});

test('a member added mid-run: the membership mode uses it, static and dns:/// do not', {
  timeout: 240_000,
}, async () => {
  const r = await runLbLab({
    ...base,
    requests: 60,
    rate: 50,
    add: true,
    modes: ['round_robin', 'dns_round_robin', 'members_round_robin'],
  });
  for (const p of r.policies) {
    const a = p.add;
    assert.ok(a, `${p.policy}: add recorded`);
    assert.equal(p.members.length, 4, `${p.policy}: four members counted`);
    assert.equal(p.failures, 0, p.policy);
    checkAttribution(p);
    if (p.policy === 'members_round_robin') {
      assert.ok(a.puts > 0, 'membership mode: the new member handled Puts');
      // Within a MemberList interval (and a second of slack) of the member being healthy.
      assert.ok(
        a.firstPutMs !== null && a.firstPutMs <= MEMBERSHIP_SYNC_MS + 1000,
        `membership mode: first Put ${a.firstPutMs} ms after healthy`,
      );
    } else {
      assert.equal(a.puts, 0, `${p.policy}: the new member got nothing`);
      assert.equal(p.members[3]!.requests, 0, p.policy);
    }
  }
});

test('a slow member: round_robin still sends it a third, and its Puts are the slow ones', {
  timeout: 180_000,
}, async () => {
  const stoppedMs = 80;
  const r = await runLbLab({
    ...base,
    requests: 150,
    slow: true,
    slowStoppedMs: stoppedMs,
    modes: ['round_robin'],
  });
  const p = r.policies[0]!;
  const s = p.slow;
  assert.ok(s && s.bursts > 0, 'slow recorded');
  const slowIdx = Number(s.member.slice(4)) - 1;
  for (const m of p.members)
    assert.ok(Math.abs(m.share - 1 / 3) <= SHARE_TOLERANCE, `${m.member}: ${m.share}`);
  // Stopped 80% of the time, most Puts it answers waited for a SIGCONT: its median is above the
  // others' by a good part of the stop.
  const slowP50 = p.members[slowIdx]!.latencyMsP50!;
  const othersP50 = Math.max(...p.members.filter((_, i) => i !== slowIdx).map((m) => m.latencyMsP50!));
  assert.ok(slowP50 > othersP50 + stoppedMs / 4, `p50 slow ${slowP50} ms vs others ${othersP50} ms`);
});

const hasEtcd = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('etcd 3.4 (reference): the same method gives the same picture', {
  skip: hasEtcd ? false : 'etcd not on PATH',
  timeout: 120_000,
}, async () => {
  checkSeedResult(await runLbLab({ ...base, requests: 90, rate: 200, binary: 'etcd' }));
});
