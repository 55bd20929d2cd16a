// Goal: the cluster's transient errors reach clients with etcd 3.4's codes and texts, so clients
// retry as they do with etcd: a linearizable read in flight when the leader changes fails with
// "etcdserver: leader changed" (UNAVAILABLE); a member whose applying falls more than 5000 entries
// behind what is committed refuses proposals with "etcdserver: too many requests"
// (RESOURCE_EXHAUSTED). Method: three in-process members on real peer sockets with transport fault
// hooks; the apply stall holds the follower's Raft driver (its `exclusive` section, what Defragment
// uses) from the test, so production code carries no hook. Applying runs inside the Ready loop here,
// so a held follower stops acknowledging too and the leader's in-flight window (256 messages) caps
// what it learns; the test delivers the rest of the leader's log as one batched append, as the
// leader sends to a follower that answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PutRequest, RangeRequest, TxnRequest } from '../../src/proto/etcdserverpb/rpc.js';
import { MessageType, newMessage, type RawNode } from '../../src/raft/index.js';
import { MAX_GAP_BETWEEN_APPLY_AND_COMMIT, type Member } from '../../src/server/index.js';
import { Status } from '../../src/wire/status.js';
import { waitFor } from '../helpers/index.js';
import { startTrio } from '../helpers/inproc.js';

function wireError(e: unknown): [number, string] {
  const g = e as { code?: number; message?: string };
  return [g.code ?? -1, g.message ?? String(e)];
}

test('a read in flight when the leader changes fails with "leader changed"', {
  timeout: 60_000,
}, async (t) => {
  const { members, faults } = await startTrio('tsetcd-errors-lc-', t);
  const leader = members.find((m) => m.leader === m.memberId)!;
  const follower = members.find((m) => m !== leader)!;
  await leader.put(PutRequest.fromPartial({ key: Buffer.from('k'), value: Buffer.from('v') }));
  // Cut the leader off: the follower's ReadIndex goes unanswered until the others elect a new leader.
  faults.isolate(
    leader.memberId,
    members.map((m) => m.memberId),
  );
  const read = follower.range(RangeRequest.fromPartial({ key: Buffer.from('k') })).then(
    () => 'served',
    (e: unknown) => wireError(e),
  );
  const result = await read;
  assert.notEqual(follower.leader, leader.memberId, 'a new leader was elected');
  assert.deepEqual(result, [Status.UNAVAILABLE, 'etcdserver: leader changed']);
  // The client's retry is served by the new leader's term.
  const again = await follower.range(RangeRequest.fromPartial({ key: Buffer.from('k') }));
  assert.equal(again.kvs[0]!.value.toString(), 'v');
});

test('proposals are refused with "too many requests" while applying lags commits by more than 5000', {
  timeout: 120_000,
}, async (t) => {
  const { members } = await startTrio('tsetcd-errors-tmr-', t);
  const leader = members.find((m) => m.leader === m.memberId)!;
  const stalled = members.find((m) => m !== leader)!;
  const driverOf = (m: Member) => m.driver;
  const nodeOf = (m: Member) => (driverOf(m) as unknown as { node: RawNode }).node;
  const driver = driverOf(stalled);
  // Hold the follower's Ready loop (what a long Defragment does): nothing is applied meanwhile.
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  let entered!: () => void;
  const inside = new Promise<void>((r) => {
    entered = r;
  });
  const stall = driver.exclusive(async () => {
    entered();
    await held;
  });
  await inside;
  const applied = stalled.status().raftAppliedIndex;
  const entries = MAX_GAP_BETWEEN_APPLY_AND_COMMIT + 300;
  // Released in finally: stopping the members waits for the held section to end.
  try {
    for (let written = 0; written < entries; written += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          leader.txn(
            TxnRequest.fromPartial({
              success: [{ requestPut: { key: Buffer.from(`w/${written + i}`), value: Buffer.from('x') } }],
            }),
          ),
        ),
      );
    }
    // The leader's flow control stops at its in-flight window to a silent follower; deliver the rest
    // of its log as one batched append (what it sends a follower that answers), so the follower's Raft
    // core learns the commit index while its applying is held.
    const from = nodeOf(stalled).status().lastIndex;
    const to = nodeOf(leader).status().lastIndex;
    driver.step(
      newMessage({
        type: MessageType.App,
        from: leader.memberId,
        to: stalled.memberId,
        term: leader.term,
        index: from,
        logTerm: nodeOf(leader).logTerm(from)!,
        entries: nodeOf(leader).logSlice(from + 1, to + 1)!,
        commit: leader.commitIndex,
      }),
    );
    assert.ok(
      driver.knownCommittedIndex > applied + MAX_GAP_BETWEEN_APPLY_AND_COMMIT,
      `commit ${driver.knownCommittedIndex}, applied ${applied}`,
    );
    const refused = await stalled
      .put(PutRequest.fromPartial({ key: Buffer.from('p'), value: Buffer.from('p') }))
      .then(
        () => 'accepted',
        (e: unknown) => wireError(e),
      );
    assert.deepEqual(refused, [Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests']);
  } finally {
    release();
  }
  // Once applying catches up, the same member accepts writes again.
  await stall;
  await waitFor(() => stalled.status().raftAppliedIndex >= leader.commitIndex - 10, {
    timeoutMs: 30_000,
    what: 'the follower applying what was committed',
  });
  const ok = await stalled.put(PutRequest.fromPartial({ key: Buffer.from('p'), value: Buffer.from('p') }));
  assert.ok(ok.header!.revision > BigInt(entries));
});

test('membership changes need every voter connected for 5 s ("unhealthy cluster"); a down member may go', {
  timeout: 60_000,
}, async (t) => {
  const { members } = await startTrio('tsetcd-errors-unhealthy-', t);
  const leader = members.find((m) => m.leader === m.memberId)!;
  const [down, up] = members.filter((m) => m !== leader) as [Member, Member];
  // A learner may be added once every voter has been reachable for a while.
  await waitFor(
    () =>
      leader.memberAdd(['http://127.0.0.1:1'], true).then(
        () => true,
        (e: unknown) => {
          if (wireError(e)[1] !== 'etcdserver: unhealthy cluster') throw e;
          return false;
        },
      ),
    { timeoutMs: 20_000, intervalMs: 250, what: 'the first learner added' },
  );
  const learner = leader.members().find((m) => m.peerURLs[0] === 'http://127.0.0.1:1')!;
  await leader.memberRemove(learner.ID);
  await down.stop();
  await waitFor(() => leader.members().length === 3 && !isConnected(leader, down.memberId), {
    what: 'the leader seeing the stopped member down',
  });
  const refused = await leader.memberAdd(['http://127.0.0.1:2'], true).then(
    () => 'added',
    (e: unknown) => wireError(e),
  );
  assert.deepEqual(refused, [Status.UNAVAILABLE, 'etcdserver: unhealthy cluster']);
  // Removing the member that is down is safe (it is not part of the active quorum).
  await leader.memberRemove(down.memberId);
  assert.deepEqual(
    leader
      .members()
      .map((m) => m.ID)
      .sort(),
    [leader.memberId, up.memberId].sort(),
  );
});

function isConnected(m: Member, peer: bigint): boolean {
  return m.peerStats().get(peer)?.connected ?? false;
}
