// Goal: a member cut off from the others by a network partition does not disrupt the leader when the
// partition heals (PreVote: its higher-term campaign never starts), and it catches up with everything
// written meanwhile; the majority side keeps serving writes throughout. Method: three members in one
// process on real peer sockets, sharing one FaultHooks that partitions the transport; polling waits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PutRequest, RangeRequest } from '../../src/proto/etcdserverpb/rpc.js';
import type { Member } from '../../src/server/index.js';
import { waitFor } from '../helpers/index.js';
import { startTrio } from '../helpers/inproc.js';

test('an isolated follower rejoins without disrupting the leader and catches up', {
  timeout: 60_000,
}, async (t) => {
  const { members, faults } = await startTrio('partition-test', t);
  const put = (m: Member, key: string) =>
    m.put(PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.from(key) }));
  const leader = members.find((m) => m.leader === m.memberId)!;
  const isolated = members.find((m) => m !== leader)!;
  const other = members.find((m) => m !== leader && m !== isolated)!;
  const termBefore = leader.term;

  faults.isolate(
    isolated.memberId,
    members.map((m) => m.memberId),
  );
  // The majority keeps writing while the isolated member's election timer runs out several times.
  for (let i = 0; i < 50; i++) await put(i % 2 ? leader : other, `during/${i}`);
  await waitFor(async () => isolated.leader === 0n, {
    timeoutMs: 10_000,
    what: 'the isolated member noticing it lost the leader',
  });

  faults.heal();
  await waitFor(
    async () => {
      const r = await isolated.range(
        RangeRequest.fromPartial({
          key: Buffer.from('during/'),
          rangeEnd: Buffer.from('during0'),
          serializable: true,
        }),
      );
      return r.count === 50n;
    },
    { timeoutMs: 15_000, what: 'the isolated member catching up' },
  );
  assert.equal(leader.leader, leader.memberId, 'the leader kept its leadership');
  assert.equal(leader.term, termBefore, 'no election was forced by the rejoining member (PreVote)');
  assert.equal(isolated.leader, leader.memberId);
  await put(isolated, 'after');
  assert.equal((await leader.range(RangeRequest.fromPartial({ key: Buffer.from('after') }))).kvs.length, 1);
});

test('a follower behind the compacted log catches up by snapshot', { timeout: 60_000 }, async (t) => {
  // Snapshot often and keep few entries, so a short outage outruns the log.
  const { members, faults } = await startTrio('tsetcd-snapcatchup-', t, {
    snapshotCount: 20,
    snapshotCatchUpEntries: 5,
  });
  const leader = members.find((m) => m.leader === m.memberId)!;
  const lagging = members.find((m) => m !== leader)!;
  const seen: string[] = [];
  lagging.onEvents((events) => {
    for (const e of events) seen.push(`${e.kv!.key.toString()}@${e.kv!.modRevision}`);
  });
  await leader.put(PutRequest.fromPartial({ key: Buffer.from('before'), value: Buffer.from('x') }));
  await waitFor(async () => seen.length === 1, { what: 'the follower applied the first write' });

  faults.isolate(
    lagging.memberId,
    members.map((m) => m.memberId),
  );
  const revs: bigint[] = [];
  for (let i = 0; i < 120; i++) {
    revs.push(
      (
        await leader.put(
          PutRequest.fromPartial({ key: Buffer.from(`gap/${i}`), value: Buffer.from(String(i)) }),
        )
      ).header!.revision,
    );
  }
  faults.heal();
  const wantCount = 120n;
  await waitFor(
    async () => {
      const r = await lagging.range(
        RangeRequest.fromPartial({
          key: Buffer.from('gap/'),
          rangeEnd: Buffer.from('gap0'),
          serializable: true,
        }),
      );
      return r.count === wantCount;
    },
    { timeoutMs: 20_000, what: 'the lagging follower caught up' },
  );
  const received = (await lagging.metrics.snapshotReceiveSuccess.get()).values[0]?.value ?? 0;
  assert.ok(received >= 1, 'it caught up by installing a snapshot');
  // Same data, same revisions, same hash as the leader.
  const rev = Number(revs[revs.length - 1]);
  await waitFor(async () => lagging.store.rev === rev, { what: 'same revision' });
  assert.equal((await lagging.store.hashKV(rev)).hash, (await leader.store.hashKV(rev)).hash);
  // Watchers on the lagging member got every revision they had not seen, in order, exactly once.
  await waitFor(async () => seen.length === 121, { what: 'watch events for the gap' });
  assert.deepEqual(
    seen.slice(1),
    revs.map((r, i) => `gap/${i}@${r}`),
  );
  // And it keeps working as a member.
  await lagging.put(PutRequest.fromPartial({ key: Buffer.from('after'), value: Buffer.from('y') }));
});
