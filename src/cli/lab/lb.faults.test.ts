/**
 * Goal: `tsetcd lab lb --kill` shows failover as the issue asks: with pick_first the client moves to
 * another member within an election timeout plus a second of its pinned member being SIGKILLed;
 * with round_robin the dead member gets nothing more and the other two share the rest. When the
killed member was the leader, a Put already forwarded to it waits out its deadline first.
 * Also: the plain lab against real etcd 3.4 gives seed 000's picture (a check of the method itself).
 * Method: runLbLab in-process with kill on (tsetcd members on free ports, 90 Puts per policy); the
 * busiest member is killed after 30 and restarted before the next policy. A long run: `npm run
 * test:lab`, also in test:faults.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runLbLab } from './lb.js';
import { checkSeedResult } from './lb-check.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
/** etcd's default election timeout, which tsetcd shares. */
const ELECTION_TIMEOUT_MS = 1000;
/** The lab's deadline of one Put (lb.ts PUT_TIMEOUT_MS). */
const PUT_TIMEOUT_MS = 5000;

test('a killed member: pick_first fails over, round_robin skips it', { timeout: 120_000 }, async () => {
  const r = await runLbLab({
    requests: 90,
    endpoints: [],
    seedPorts: false,
    binary: 'tsetcd',
    root,
    kill: true,
    log: () => {},
  });
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
        `round_robin: both survivors (${survivors})`,
      );
  }
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
  timeout: 90_000,
}, async () => {
  checkSeedResult(
    await runLbLab({ requests: 90, endpoints: [], seedPorts: false, binary: 'etcd', root, log: () => {} }),
  );
});
