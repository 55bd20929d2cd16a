// Goal: leases on a 3-member cluster behave as etcd's: (1) a lease kept alive through a follower, and
// one kept alive through the leader that is then stopped (the client moves to another member),
// survive the failover with their keys; once the client is gone they expire on every member in one
// revision, never before TTL after the last keep-alive was sent and within a bounded slack; (2) no
// early expiry across elections, and with lease checkpointing (on by default) repeated elections
// do not keep a lease alive forever — without checkpoints each new leader would restart the full TTL
// and elections every E < TTL would keep it for ever; (3) a revoke deletes the lease's keys in one
// revision, seen as one watch response on every member; (4) a checkpoint is persisted with its
// lease, so a restarted member resumes the lease from it instead of from the full TTL.
// Method: three in-process members (real peer and client sockets), gRPC clients, keep-alive streams,
// watchers on every member, MoveLeader to force elections; times on this process's monotonic clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Event_EventType } from '../../src/proto/mvccpb/kv.js';
import { b, type EtcdClients, openWatch, type WatchStream, waitFor } from '../helpers/index.js';
import { InprocCluster } from '../helpers/inproc.js';
import { type KeepAliveStream, openKeepAlive } from './keepalive.js';

const TTL = 4;
/** Expiry check period (500 ms) + a revoke through the log + a loaded CI machine. */
const EXPIRY_SLACK_MS = 8000;

/** Collects delete events from a watcher: the responses that carried them, and when they came. */
function collectDeletes(w: WatchStream) {
  const got: { at: number; rev: bigint; keys: string[] }[] = [];
  let stopped = false;
  void (async () => {
    while (!stopped) {
      let r: Awaited<ReturnType<WatchStream['next']>>;
      try {
        r = await w.next(60_000);
      } catch {
        return;
      }
      const dels = r.events.filter((e) => e.type === Event_EventType.DELETE);
      if (dels.length > 0) {
        got.push({
          at: performance.now(),
          rev: r.header!.revision,
          keys: dels.map((e) => e.kv!.key.toString()).sort(),
        });
      }
    }
  })();
  return {
    got,
    stop: () => {
      stopped = true;
      w.close();
    },
  };
}

async function watchPrefix(c: EtcdClients, prefix: string, startRevision: bigint): Promise<WatchStream> {
  const w = openWatch(c);
  w.send({ createRequest: { key: b(prefix), rangeEnd: b(`${prefix.slice(0, -1)}0`), startRevision } });
  const created = await w.next();
  assert.ok(created.created);
  return w;
}

test('leases survive a leader failover while kept alive, then expire on every member once the client is gone', {
  timeout: 120_000,
}, async (t) => {
  const cluster = await InprocCluster.start(3, {}, 'lease-failover');
  t.after(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const follower = (leader + 1) % 3;
  const third = (leader + 2) % 3;
  const viaFollower = cluster.client(follower);
  const viaLeader = cluster.client(leader);

  const a = await viaFollower.lease.leaseGrant({ TTL: BigInt(TTL) });
  const bLease = await viaLeader.lease.leaseGrant({ TTL: BigInt(TTL) });
  for (const k of ['x/a1', 'x/a2']) await viaFollower.kv.put({ key: b(k), value: b(k), lease: a.ID });
  for (const k of ['x/b1', 'x/b2']) await viaLeader.kv.put({ key: b(k), value: b(k), lease: bLease.ID });

  // Keep-alive loops, once a second, as clientv3 does (TTL/3); the leader's client moves to another
  // member when its member goes away. lastSent is when the last answered keep-alive was sent.
  const state = new Map<bigint, { lastSent: number; answered: number; zero: number }>();
  let running = true;
  const loop = async (id: bigint, endpoints: number[]) => {
    const s = { lastSent: 0, answered: 0, zero: 0 };
    state.set(id, s);
    let at = 0;
    let stream: KeepAliveStream | undefined;
    while (running) {
      const node = endpoints[at % endpoints.length]!;
      if (!cluster.nodes[node]!.member) {
        at++;
        stream = undefined;
        continue;
      }
      stream ??= openKeepAlive(cluster.client(node));
      const sent = performance.now();
      try {
        const r = await stream.keepAlive(id, 3000);
        if (r.TTL === 0n) s.zero++;
        else {
          s.lastSent = sent;
          s.answered++;
        }
      } catch {
        // Member gone or no leader yet: retry (the client would).
        stream.close();
        stream = undefined;
        if (!cluster.nodes[node]!.member) at++;
      }
      // Pace: one keep-alive per second (poll the stop flag meanwhile).
      const next = sent + 1000;
      while (running && performance.now() < next) await new Promise((r) => setTimeout(r, 50));
    }
    stream?.close();
  };
  const loops = [loop(a.ID, [follower]), loop(bLease.ID, [leader, third, follower])];

  await waitFor(() => [...state.values()].every((s) => s.answered >= 2), { what: 'two keep-alives each' });
  await cluster.stop(leader);
  const newLeader = await cluster.waitForLeader();
  assert.notEqual(newLeader, leader);
  // Two TTLs of keep-alives under the new leader; then the old leader comes back.
  const answeredAtFailover = state.get(bLease.ID)!.answered;
  await waitFor(() => state.get(bLease.ID)!.answered >= answeredAtFailover + 2 * TTL, {
    timeoutMs: 30_000,
    what: 'keep-alives through another member after the failover',
  });
  await cluster.restart(leader);
  await cluster.waitForLeader();
  for (const s of state.values()) assert.equal(s.zero, 0, 'no keep-alive found its lease gone');
  for (let i = 0; i < 3; i++) {
    await waitFor(
      async () => {
        const r = await cluster.client(i).kv.range({ key: b('x/'), rangeEnd: b('x0'), serializable: true });
        return r.kvs.length === 4;
      },
      { what: `every leased key on member ${i}` },
    );
  }
  const ttl = await cluster.client(third).lease.leaseTimeToLive({ ID: a.ID, keys: true });
  assert.ok(ttl.TTL > 0n && ttl.TTL <= BigInt(TTL), `remaining ${ttl.TTL}`);
  assert.deepEqual(ttl.keys.map((k) => k.toString()).sort(), ['x/a1', 'x/a2']);

  // The client dies: no more keep-alives. Every member deletes each lease's keys in one revision.
  const rev = (await cluster.client(third).kv.range({ key: b('x/a1') })).header!.revision;
  const watchers = await Promise.all(
    [0, 1, 2].map(async (i) => collectDeletes(await watchPrefix(cluster.client(i), 'x/', rev + 1n))),
  );
  running = false;
  await Promise.all(loops);
  await waitFor(() => watchers.every((w) => w.got.length >= 2), {
    timeoutMs: TTL * 1000 + EXPIRY_SLACK_MS + 5000,
    what: 'both leases expiring on every member',
  });
  for (const w of watchers) w.stop();
  const byLease = [
    { id: a.ID, keys: ['x/a1', 'x/a2'] },
    { id: bLease.ID, keys: ['x/b1', 'x/b2'] },
  ];
  for (const { id, keys } of byLease) {
    const lastSent = state.get(id)!.lastSent;
    const seen = watchers.map((w) => w.got.find((g) => g.keys.join() === keys.join()));
    assert.ok(
      seen.every((s) => s !== undefined),
      `each member saw ${keys} deleted in one response: ${JSON.stringify(
        watchers.map((w) => w.got),
        (_, v) => (typeof v === 'bigint' ? String(v) : v),
      )}`,
    );
    assert.equal(new Set(seen.map((s) => s!.rev)).size, 1, 'the same revision on every member');
    for (const s of seen) {
      const after = s!.at - lastSent;
      assert.ok(after >= TTL * 1000, `expired ${after.toFixed(0)} ms after the last keep-alive: early`);
      assert.ok(
        after <= TTL * 1000 + EXPIRY_SLACK_MS,
        `expired ${after.toFixed(0)} ms after the last keep-alive`,
      );
    }
  }
  assert.equal((await cluster.client(third).lease.leaseLeases({})).leases.length, 0);
});

test('no early expiry across elections; checkpoints keep repeated elections from renewing a lease forever', {
  timeout: 120_000,
}, async (t) => {
  // Checkpoint often (etcd: every 5 minutes) so the test sees several in seconds.
  const cluster = await InprocCluster.start(3, { leaseCheckpointIntervalMs: 500 }, 'lease-elections');
  t.after(() => cluster.close());
  const ttl = 8;
  const electionEveryMs = 4000; // < TTL: without checkpoints every new leader restarts the full TTL
  let leader = await cluster.waitForLeader();
  const follower = (leader + 1) % 3;
  const c = cluster.client(follower);
  const lease = await c.lease.leaseGrant({ TTL: BigInt(ttl) });
  const put = await c.kv.put({ key: b('e/k'), value: b('v'), lease: lease.ID });

  // Checkpoints reach every member: each records a remaining TTL well below the granted one.
  await waitFor(
    () =>
      cluster.nodes.every((n) => {
        const r = n.member!.lessor.lookup(lease.ID)?.remainingTtl ?? 0;
        return r > 0 && r <= ttl - 3;
      }),
    { timeoutMs: 15_000, what: 'a checkpoint of at most TTL-3 s on every member' },
  );
  const watcher = collectDeletes(
    await watchPrefix(cluster.client(follower), 'e/', put.header!.revision + 1n),
  );
  t.after(() => watcher.stop());
  // A keep-alive through a follower must clear that checkpoint before it is answered: an election
  // right after it must count the full TTL from it, not the stale remaining TTL.
  const keepAlive = openKeepAlive(c);
  const sent = performance.now();
  assert.equal((await keepAlive.keepAlive(lease.ID)).TTL, BigInt(ttl));
  keepAlive.close();
  const target = (leader + 1) % 3;
  await cluster.member(leader).moveLeader(cluster.member(target).memberId);
  let elections = 1;
  const remaining = await cluster.client(target).lease.leaseTimeToLive({ ID: lease.ID });
  const owed = Math.floor((sent + ttl * 1000 - performance.now()) / 1000);
  assert.ok(
    remaining.TTL >= BigInt(owed),
    `the new leader gives ${remaining.TTL} s, the keep-alive promised ${owed} s`,
  );
  const deadline = sent + 60_000;
  while (watcher.got.length === 0 && performance.now() < deadline) {
    leader = await cluster.waitForLeader();
    const target = cluster.member((leader + 1) % 3).memberId;
    try {
      await cluster.member(leader).moveLeader(target);
      elections++;
    } catch {
      // A leader change under load can race the transfer; the next round tries again.
    }
    const next = performance.now() + electionEveryMs;
    while (watcher.got.length === 0 && performance.now() < next) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(
    watcher.got.length > 0,
    `still alive 60 s after its last keep-alive, after ${elections} elections`,
  );
  const lived = watcher.got[0]!.at - sent;
  assert.ok(lived >= ttl * 1000, `expired ${lived.toFixed(0)} ms after its keep-alive: early`);
  assert.ok(elections >= 2, `only ${elections} elections happened in its lifetime`);
  assert.deepEqual(watcher.got[0]!.keys, ['e/k']);
  t.diagnostic(`lease of ${ttl} s lived ${(lived / 1000).toFixed(1)} s through ${elections} elections`);
});

test('revoke deletes every attached key in one revision, one watch response on every member', {
  timeout: 60_000,
}, async (t) => {
  const cluster = await InprocCluster.start(3, {}, 'lease-revoke');
  t.after(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const follower = (leader + 1) % 3;
  const c = cluster.client(follower);
  const lease = await c.lease.leaseGrant({ TTL: 60n });
  const keys = ['r/1', 'r/2', 'r/3', 'r/4', 'r/5'];
  let rev = 0n;
  for (const k of keys) rev = (await c.kv.put({ key: b(k), value: b(k), lease: lease.ID })).header!.revision;
  const watchers = await Promise.all([0, 1, 2].map((i) => watchPrefix(cluster.client(i), 'r/', rev + 1n)));
  const revoked = await c.lease.leaseRevoke({ ID: lease.ID });
  assert.equal(revoked.header!.revision, rev + 1n);
  for (const w of watchers) {
    const r = await w.next();
    assert.equal(r.events.length, keys.length, 'all of the lease keys in one response');
    assert.ok(r.events.every((e) => e.type === Event_EventType.DELETE && e.kv!.modRevision === rev + 1n));
    assert.deepEqual(r.events.map((e) => e.kv!.key.toString()).sort(), keys);
    w.close();
  }
  for (let i = 0; i < 3; i++) {
    await waitFor(
      async () => {
        const r = await cluster.client(i).kv.range({ key: b('r/'), rangeEnd: b('r0'), serializable: true });
        return r.kvs.length === 0;
      },
      { what: `keys gone on member ${i}` },
    );
  }
});

test('a restarted member resumes a lease from its persisted checkpoint, not from the full TTL', {
  timeout: 60_000,
}, async (t) => {
  const cluster = await InprocCluster.start(1, { leaseCheckpointIntervalMs: 500 }, 'lease-restart');
  t.after(() => cluster.close());
  const ttl = 30;
  const lease = await cluster.client(0).lease.leaseGrant({ TTL: BigInt(ttl) });
  await waitFor(
    () => {
      const r = cluster.member(0).lessor.lookup(lease.ID)?.remainingTtl ?? 0;
      return r > 0 && r <= ttl - 3;
    },
    { timeoutMs: 15_000, what: 'a checkpoint of at most TTL-3 s' },
  );
  const before = await cluster.client(0).lease.leaseTimeToLive({ ID: lease.ID });
  await cluster.stop(0);
  await cluster.restart(0);
  const after = await cluster.client(0).lease.leaseTimeToLive({ ID: lease.ID });
  // The checkpoint may round up by a second and the new term adds an election timeout (1 s).
  assert.ok(
    after.TTL > 0n && after.TTL <= before.TTL + 2n,
    `remaining ${before.TTL} s before, ${after.TTL} s after`,
  );
  assert.ok(after.TTL < BigInt(ttl) - 1n, `restarted from the full TTL: ${after.TTL}`);
  assert.equal(after.grantedTTL, BigInt(ttl));
});
