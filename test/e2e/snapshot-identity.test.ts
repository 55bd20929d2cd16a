// Goal: a follower that caught up by installing the leader's snapshot keeps its own identity and
// keeps working: (1) its own next Raft snapshots sync the installed database (they used to sync the
// closed original one: "mvcc: closed", member stopped), and (2) after a restart it is still itself
// (the leader's database carried the leader's identity record, so a restarted follower came back
// with the leader's member id — two processes with one Raft id). Both found by the Jepsen-style
// suite (test/jepsen, seed 11, all faults, snapshot-count 300). Method: three members in one process
// on real peer sockets; isolate a follower until the leader's log is compacted past it, heal, write
// through more snapshots, restart the follower on its data dir.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PutRequest, RangeRequest } from '../../src/proto/etcdserverpb/rpc.js';
import type { Member } from '../../src/server/index.js';
import { waitFor } from '../helpers/index.js';
import { InprocCluster } from '../helpers/inproc.js';

test('after a snapshot install a follower keeps snapshotting and restarts as itself', {
  timeout: 90_000,
}, async (t) => {
  const c = await InprocCluster.start(
    3,
    { snapshotCount: 20, snapshotCatchUpEntries: 5 },
    { token: 'snapid-test', namePrefix: 's', api: false },
  );
  t.after(() => c.close());
  const { faults } = c;
  const members = c.nodes.map((n) => n.member!);
  const leader = members.find((m) => m.leader === m.memberId)!;
  const li = members.findIndex((m) => m !== leader);
  const lagging = members[li]!;
  const ownId = lagging.memberId;
  const put = (k: string) =>
    leader.put(PutRequest.fromPartial({ key: Buffer.from(k), value: Buffer.from(k) }));
  const count = async (m: Member, prefix: string) =>
    (
      await m.range(
        RangeRequest.fromPartial({
          key: Buffer.from(prefix),
          rangeEnd: Buffer.from(
            prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1),
          ),
          serializable: true,
          countOnly: true,
        }),
      )
    ).count;

  faults.isolate(
    ownId,
    members.map((m) => m.memberId),
  );
  for (let i = 0; i < 60; i++) await put(`gap/${i}`);
  faults.heal();
  await waitFor(async () => (await count(lagging, 'gap/')) === 60n, {
    timeoutMs: 30_000,
    what: 'the follower caught up',
  });
  assert.ok(
    ((await lagging.metrics.snapshotReceiveSuccess.get()).values[0]?.value ?? 0) >= 1,
    'by a snapshot',
  );

  // More than two snapshot intervals: the follower takes its own snapshots of the installed store.
  for (let i = 0; i < 50; i++) await put(`more/${i}`);
  await waitFor(async () => (await count(lagging, 'more/')) === 50n, {
    timeoutMs: 30_000,
    what: 'replicated',
  });
  assert.equal(lagging.healthy, true, 'the follower stopped after snapshotting the installed store');

  // Restart it on its data dir: it must come back with its own id and rejoin.
  await c.stop(li);
  await c.restart(li);
  const again = c.member(li);
  assert.equal(again.memberId.toString(16), ownId.toString(16), 'the restarted follower took another id');
  await put('after');
  await waitFor(async () => (await count(again, 'after')) === 1n, { timeoutMs: 30_000, what: 'it rejoined' });
});
