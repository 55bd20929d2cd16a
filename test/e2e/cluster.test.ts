// Goal: three tsetcd processes started with etcd's clustering flags form one cluster: one leader,
// writes on any member, linearizable reads on every member, leases kept alive through a follower,
// and a SIGKILLed leader is replaced without losing an acknowledged write, then catches up.
// Method: real processes on free ports in a temp dir, gRPC clients, polling with deadlines.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  kill,
  launch,
  type Proc,
  planCluster,
  planMember,
  startAll,
  stopAll,
  waitHealthy,
  whenHealthy,
} from '../helpers/cluster.js';
import { b, connect, type EtcdClients, freePort, tempDir, waitFor } from '../helpers/index.js';

/** Three members in a fresh temp dir and a client per member, all stopped when the test ends. */
async function startCluster(
  t: TestContext,
  prefix: string,
): Promise<{ procs: Proc[]; clients: EtcdClients[]; dataRoot: string }> {
  const dir = tempDir(prefix);
  const procs = await planCluster(dir.path, 3, {
    token: 'cluster-test',
    extraFlags: ['--log-level', 'warn'],
  });
  const clients: EtcdClients[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await stopAll(procs);
    dir.remove();
  });
  await startAll(procs);
  clients.push(...procs.map((p) => connect(p.client)));
  return { procs, clients, dataRoot: dir.path };
}

async function leaderOf(clients: EtcdClients[]): Promise<number> {
  for (let i = 0; i < clients.length; i++) {
    try {
      const s = await clients[i]!.maintenance.status({}, { deadlineMs: 1000 });
      if (s.leader !== 0n && s.leader === s.header!.memberId) return i;
    } catch {
      // down or no answer: not the leader we can use
    }
  }
  return -1;
}

test('a 3-member cluster replicates, serves reads everywhere and survives losing its leader', {
  timeout: 120_000,
}, async (t) => {
  const { procs, clients } = await startCluster(t, 'tsetcd-cluster-');

  const ml = await clients[0]!.cluster.memberList({});
  assert.equal(ml.members.length, 3);
  await waitFor(
    async () => (await clients[2]!.cluster.memberList({})).members.every((m) => m.clientURLs.length === 1),
    {
      what: 'every member published its client URL',
    },
  );
  let leader = -1;
  await waitFor(
    async () => {
      leader = await leaderOf(clients);
      return leader >= 0;
    },
    { what: 'a leader' },
  );
  const follower = (leader + 1) % 3;

  // A write on a follower is forwarded to the leader; a linearizable read on every member sees it.
  const p = await clients[follower]!.kv.put({ key: b('k'), value: b('v1') });
  for (const c of clients) assert.equal((await c.kv.range({ key: b('k') })).kvs[0]!.value.toString(), 'v1');
  assert.equal(p.header!.memberId, ml.members.find((m) => m.name === procs[follower]!.name)!.ID);

  // MoveLeader: refused on a follower and for a non-member, then hands leadership over.
  const ids = new Map(ml.members.map((m) => [m.name, m.ID]));
  const followerId = ids.get(procs[follower]!.name)!;
  await assert.rejects(
    clients[follower]!.maintenance.moveLeader({ targetID: followerId }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: not leader',
  );
  await assert.rejects(
    clients[leader]!.maintenance.moveLeader({ targetID: 12345n }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: bad leader transferee',
  );
  const moved = await clients[leader]!.maintenance.moveLeader({ targetID: followerId });
  assert.equal(moved.header, undefined, 'etcd answers MoveLeader without a header');
  assert.equal(await leaderOf(clients), follower);
  leader = follower;
  const nextFollower = (leader + 1) % 3;

  // Leases through a follower: grant, attach, time-to-live from the leader's lessor.
  const g = await clients[nextFollower]!.lease.leaseGrant({ TTL: 30n });
  await clients[nextFollower]!.kv.put({ key: b('leased'), value: b('x'), lease: g.ID });
  const ttl = await clients[nextFollower]!.lease.leaseTimeToLive({ ID: g.ID, keys: true });
  assert.equal(ttl.grantedTTL, 30n);
  assert.ok(ttl.TTL > 25n && ttl.TTL <= 30n, `remaining TTL ${ttl.TTL}`);
  assert.deepEqual(
    ttl.keys.map((k) => k.toString()),
    ['leased'],
  );

  // Kill the leader under write load on the survivors: writes resume, nothing acknowledged is lost.
  const survivors = [0, 1, 2].filter((i) => i !== leader);
  const acked = new Map<string, bigint>();
  let stop = false;
  t.after(() => {
    stop = true; // also when an assertion failed: writers must not outlive the members
  });
  const writers = survivors.map(async (i, w) => {
    for (let seq = 0; !stop; seq++) {
      const key = `load/${w}/${seq}`;
      try {
        const r = await clients[i]!.kv.put({ key: b(key), value: b(key) }, { deadlineMs: 3000 });
        acked.set(key, r.header!.revision);
      } catch {
        // unknown outcome while the cluster elects a new leader: allowed; back off a little
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  });
  await waitFor(async () => acked.size >= 20, { what: 'writes before the kill' });
  const killedAt = performance.now();
  const ackedBefore = acked.size;
  await kill(procs[leader]!);
  await waitFor(async () => acked.size >= ackedBefore + 50, {
    timeoutMs: 20_000,
    what: 'writes after the kill',
  });
  const recovery = performance.now() - killedAt;
  stop = true;
  await Promise.all(writers);
  t.diagnostic(
    `writes resumed ${Math.round(recovery)} ms after the leader was killed; ${acked.size} acknowledged`,
  );

  const check = clients[survivors[0]!]!;
  const all = await check.kv.range({ key: b('load/'), rangeEnd: b('load0') });
  const found = new Map(all.kvs.map((kv) => [kv.key.toString(), kv.modRevision]));
  for (const [key, rev] of acked) assert.equal(found.get(key), rev, `acknowledged ${key}@${rev} lost`);

  // The killed member restarts with its data dir and catches up.
  launch(procs[leader]!);
  await waitHealthy(procs[leader]!);
  const again = connect(procs[leader]!.client);
  t.after(() => again.close());
  const latest = all.header!.revision;
  await waitFor(
    async () => {
      const r = await again.kv.range({ key: b('load/'), rangeEnd: b('load0'), serializable: true });
      return r.header!.revision >= latest && r.count === all.count;
    },
    { timeoutMs: 20_000, what: 'the restarted member caught up' },
  );
});

test('membership changes: add a learner, join it, promote it, remove a member, under write load', {
  timeout: 120_000,
}, async (t) => {
  const { procs, clients, dataRoot } = await startCluster(t, 'tsetcd-members-');
  const c0 = clients[0]!;

  // Errors first, with etcd's texts.
  await assert.rejects(
    c0.cluster.memberAdd({ peerURLs: ['not a url'] }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: given member URLs are invalid',
  );
  const ml0 = await c0.cluster.memberList({});
  await assert.rejects(
    c0.cluster.memberAdd({ peerURLs: ml0.members[0]!.peerURLs }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: Peer URLs already exists',
  );
  await assert.rejects(
    c0.cluster.memberRemove({ ID: 42n }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: member not found',
  );
  await assert.rejects(
    c0.cluster.memberPromote({ ID: ml0.members[0]!.ID }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: can only promote a learner member',
  );

  // Writes keep flowing through every change.
  const acked = new Map<string, bigint>();
  let stop = false;
  t.after(() => {
    stop = true; // also when an assertion failed: the writer must not outlive the members
  });
  const writer = (async () => {
    for (let seq = 0; !stop; seq++) {
      try {
        const r = await c0.kv.put({ key: b(`roll/${seq}`), value: b(String(seq)) }, { deadlineMs: 3000 });
        acked.set(`roll/${seq}`, r.header!.revision);
      } catch {
        // unknown outcome during a change: allowed; back off so a dead cluster cannot spin this loop
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();

  // Add a learner and start it as a member joining the existing cluster.
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const peer = `http://127.0.0.1:${peerPort}`;
  const added = await whenHealthy(() => c0.cluster.memberAdd({ peerURLs: [peer], isLearner: true }));
  assert.equal(added.member!.isLearner, true);
  assert.equal(added.members.length, 4);
  const initial = [...procs.map((p) => `${p.name}=${p.peer}`), `m4=${peer}`].join(',');
  const m4 = planMember({
    name: 'm4',
    dataDir: join(dataRoot, 'm4'),
    client: `127.0.0.1:${clientPort}`,
    peer,
    initialCluster: initial,
    token: 'cluster-test',
    extraFlags: ['--initial-cluster-state', 'existing', '--log-level', 'warn'],
  });
  procs.push(m4);
  launch(m4);
  await waitHealthy(m4);
  const c4 = connect(m4.client);
  t.after(() => c4.close());
  // A learner serves serializable reads only, as etcd's.
  assert.equal((await c4.maintenance.status({})).isLearner, true);
  await assert.rejects(
    c4.kv.put({ key: b('l'), value: b('v') }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: rpc not supported for learner',
  );
  await assert.rejects(
    c4.kv.range({ key: b('l') }),
    (e: Error & { details?: string }) => e.details === 'etcdserver: rpc not supported for learner',
  );
  await c4.kv.range({ key: b('l'), serializable: true });

  // Promote once it has caught up (refused while it has not, with etcd's error).
  await waitFor(
    async () => {
      try {
        await c0.cluster.memberPromote({ ID: added.member!.ID });
        return true;
      } catch (e) {
        assert.equal(
          (e as { details?: string }).details,
          'etcdserver: can only promote a learner member which is in sync with leader',
        );
        return false;
      }
    },
    { timeoutMs: 20_000, what: 'the learner promoted' },
  );
  const afterPromote = await c0.cluster.memberList({});
  assert.equal(afterPromote.members.find((m) => m.ID === added.member!.ID)?.isLearner, false);

  // Remove one of the original members (not the one the writer uses).
  const removedId = afterPromote.members.find((m) => m.name === 'm2')!.ID;
  await whenHealthy(() => c0.cluster.memberRemove({ ID: removedId }));
  // Answered once applied on the member asked (m1); the new member applies it a moment later.
  await waitFor(async () => (await c4.cluster.memberList({})).members.length === 3, {
    what: 'm4 applied the removal',
  });
  const final = await c4.cluster.memberList({});
  assert.deepEqual(final.members.map((m) => m.name).sort(), ['m1', 'm3', 'm4']);

  await waitFor(async () => acked.size >= 50, { what: 'writes during the changes' });
  stop = true;
  await writer;
  // The new member serves everything that was acknowledged.
  const all = await c4.kv.range({ key: b('roll/'), rangeEnd: b('roll0') });
  const found = new Map(all.kvs.map((kv) => [kv.key.toString(), kv.modRevision]));
  for (const [key, rev] of acked)
    assert.equal(found.get(key), rev, `acknowledged ${key}@${rev} missing on the new member`);
});
