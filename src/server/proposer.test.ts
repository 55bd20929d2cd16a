// Goal: etcd_server_proposals_pending counts this member's own proposals in flight: up when one is
// proposed, down when it is answered or expires, and untouched by entries other members proposed
// (a follower applies every entry; it waits for none of theirs). Method: a Proposer over a fake
// host, entries settled by id as the apply loop settles them, the gauge read from the registry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../pkg/clock.js';
import { ServerMetrics } from './metrics.js';
import { Proposer, type ProposerHost } from './proposer.js';

async function pending(m: ServerMetrics): Promise<number> {
  return (await m.proposalsPending.get()).values[0]?.value ?? 0;
}

test('proposals pending counts only this member’s own proposals in flight', async () => {
  const metrics = new ServerMetrics();
  const clock = new ManualClock();
  const proposed: Uint8Array[] = [];
  const host: ProposerHost = {
    clock,
    metrics,
    memberId: 1n,
    requestTimeoutMs: 1000,
    maxRequestBytes: 1 << 20,
    stopped: () => false,
    appliedIndex: () => 0,
    knownCommitIndex: () => 0,
    propose: (data) => void proposed.push(data),
    proposeConfChange: () => {},
    flush: () => p.acknowledge(),
    rootIdentity: () => ({ username: '', revision: 0n }),
  };
  const p = new Proposer(host);
  const put = {
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    lease: 0n,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  };
  const a = p.propose({ put });
  const b = p.propose({ put });
  assert.equal(await pending(metrics), 2);
  const idOf = (data: Uint8Array) => p.own.take(data).header!.ID;
  // Our first proposal and two foreign entries are applied in one turn.
  p.settle(idOf(proposed[0]!), { ok: true, value: 'a' });
  p.settle(0x7777n, { ok: true, value: 'foreign' });
  p.settle(0x7778n, { ok: false, error: new Error('foreign') });
  p.acknowledge();
  assert.equal(await a, 'a');
  assert.equal(await pending(metrics), 1, 'foreign entries changed the gauge');
  p.settle(idOf(proposed[1]!), { ok: true, value: 'b' });
  p.acknowledge();
  assert.equal(await b, 'b');
  assert.equal(await pending(metrics), 0);
  // One that expires leaves the gauge too; its late entry does not count again.
  const c = p.propose({ put });
  assert.equal(await pending(metrics), 1);
  clock.advance(1001);
  p.expire();
  await assert.rejects(c);
  p.settle(idOf(proposed[2]!), { ok: true, value: 'late' });
  p.acknowledge();
  assert.equal(await pending(metrics), 0);
});
