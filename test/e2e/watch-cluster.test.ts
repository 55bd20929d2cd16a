// Goal: watches on a cluster keep etcd's guarantees across members: a watcher on a follower sees
// exactly the history a watcher on the leader sees; a client whose member (the leader) is stopped
// re-watches on another member from its last revision + 1 while writes go on, and ends up with the
// same history — nothing lost, duplicated or reordered; a restarted member serves the whole history
// again. Method: three in-process members; two writers (puts, deletes, txns) through the followers,
// retrying through the election; watchers on every member; the follower watcher's history is the
// reference, every acknowledged write must be in it at its revision, and no revision may be split
// across responses. Repro: WATCH_CLUSTER_SEED=<seed> node --test dist/test/e2e/watch-cluster.test.js
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../src/pkg/index.js';
import type { WatchResponse } from '../../src/proto/etcdserverpb/rpc.js';
import { Event_EventType } from '../../src/proto/mvccpb/kv.js';
import { b, type EtcdClients, openWatch, waitFor } from '../helpers/index.js';
import { InprocCluster } from '../helpers/inproc.js';

const SEED = Number(process.env.WATCH_CLUSTER_SEED ?? 21);
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];

interface Ev {
  rev: number;
  text: string;
}

/** A watcher over every key from `start`, recording events and checking response-level rules. */
function watchAll(c: EtcdClients, start: number, label: string) {
  const w = openWatch(c);
  const events: Ev[] = [];
  const seenRevs = new Set<number>();
  let failure: Error | undefined;
  let done = false;
  const ready = (async () => {
    w.send({ createRequest: { key: b('\0'), rangeEnd: b('\0'), startRevision: BigInt(start) } });
    const created = await w.next();
    assert.ok(created.created, `${label}: created`);
  })();
  const pump = (async () => {
    await ready;
    while (!done) {
      let r: WatchResponse;
      try {
        r = await w.next(120_000);
      } catch (e) {
        if (!done) failure ??= e as Error; // (closing it ourselves is not a failure)
        return;
      }
      const revs = [...new Set(r.events.map((e) => Number(e.kv!.modRevision)))];
      for (const rev of revs) {
        // A revision's events come in one response, and responses come in revision order.
        if (seenRevs.has(rev)) failure ??= new Error(`${label}: revision ${rev} split or repeated`);
        const last = events.at(-1)?.rev ?? 0;
        if (rev < last) failure ??= new Error(`${label}: revision ${rev} after ${last}`);
        seenRevs.add(rev);
      }
      for (const e of r.events) {
        const kv = e.kv!;
        events.push({
          rev: Number(kv.modRevision),
          text: `${e.type === Event_EventType.DELETE ? 'DEL' : 'PUT'} ${kv.key} ${kv.value} c${kv.createRevision} v${kv.version}`,
        });
      }
    }
  })();
  return {
    events,
    ready,
    get failure() {
      return failure;
    },
    lastRev: () => events.at(-1)?.rev ?? 0,
    stop: async () => {
      done = true;
      w.close();
      await pump.catch(() => {});
    },
  };
}

test('watchers on every member see one history; a client re-watching on another member after its member stops loses nothing', {
  timeout: 120_000,
}, async (t) => {
  const cluster = await InprocCluster.start(3, {}, 'watch-cluster');
  t.after(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const f1 = (leader + 1) % 3;
  const f2 = (leader + 2) % 3;
  const rng = new SeededRng(SEED);
  const start = Number(
    (await cluster.client(f1).kv.put({ key: b('a'), value: b('first') })).header!.revision,
  );

  const onLeader = watchAll(cluster.client(leader), start, 'leader');
  const onF1 = watchAll(cluster.client(f1), start, 'follower 1');
  const onF2 = watchAll(cluster.client(f2), start, 'follower 2');
  await Promise.all([onLeader.ready, onF1.ready, onF2.ready]);

  // Writers through the followers; a write that fails (election) is retried with a new value, so
  // the acknowledged ones are each in the history exactly once at their revision.
  const acked: { rev: number; put?: { key: string; value: string } }[] = [];
  let writing = true;
  let n = 0;
  const writer = async (via: number, id: number) => {
    const c = cluster.client(via);
    while (writing) {
      const key = KEYS[rng.int(KEYS.length)]!;
      const value = `w${id}-${n++}`;
      const kind = rng.int(10);
      try {
        if (kind < 6) {
          const r = await c.kv.put({ key: b(key), value: b(value) }, { deadlineMs: 5000 });
          acked.push({ rev: Number(r.header!.revision), put: { key, value } });
        } else if (kind < 8) {
          const r = await c.kv.deleteRange({ key: b(key) }, { deadlineMs: 5000 });
          acked.push({ rev: Number(r.header!.revision) });
        } else {
          const other = KEYS[rng.int(KEYS.length)]!;
          const r = await c.kv.txn(
            {
              success: [
                { requestPut: { key: b(key), value: b(value) } },
                ...(other === key ? [] : [{ requestDeleteRange: { key: b(other) } }]),
              ],
            },
            { deadlineMs: 5000 },
          );
          acked.push({ rev: Number(r.header!.revision), put: { key, value } });
        }
      } catch {
        // No leader for a moment: the client retries.
      }
    }
  };
  const writers = [writer(f1, 1), writer(f2, 2)];

  // The leader's watcher gets some history, then its member stops; the client resumes on follower 1.
  await waitFor(() => onLeader.lastRev() >= start + 60, { timeoutMs: 30_000, what: 'history on the leader' });
  await cluster.stop(leader);
  await onLeader.stop();
  const seenBeforeStop = onLeader.events.slice();
  const resumeFrom = seenBeforeStop.at(-1)!.rev + 1;
  const resumed = watchAll(cluster.client(f1), resumeFrom, 'resumed');
  await resumed.ready;
  await cluster.waitForLeader();
  await waitFor(() => resumed.lastRev() >= resumeFrom + 60, {
    timeoutMs: 30_000,
    what: 'writes going on after the failover',
  });
  writing = false;
  await Promise.all(writers);
  const final = Number((await cluster.client(f1).kv.range({ key: b('a') })).header!.revision);

  // The stopped member comes back and serves the whole history again.
  await cluster.restart(leader);
  const onRestarted = watchAll(cluster.client(leader), start, 'restarted');
  const all = [onF1, onF2, resumed, onRestarted];
  await waitFor(() => all.every((w) => w.lastRev() >= final || w.failure), {
    timeoutMs: 30_000,
    what: `every watcher reaching revision ${final}`,
  });
  await Promise.all(all.map((w) => w.stop()));
  // (The leader's watcher ended with its member: its failure is the dropped connection.)
  for (const w of all) assert.equal(w.failure, undefined);

  const reference = onF1.events;
  assert.equal(reference[0]!.rev, start);
  assert.equal(reference.at(-1)!.rev, final);
  assert.deepEqual(onF2.events, reference, 'both followers saw the same history');
  assert.deepEqual(onRestarted.events, reference, 'the restarted member serves the same history');
  assert.deepEqual(
    seenBeforeStop,
    reference.slice(0, seenBeforeStop.length),
    'the leader showed the same history as the followers',
  );
  assert.deepEqual(
    [...seenBeforeStop, ...resumed.events],
    reference,
    'resumed on another member: nothing lost, duplicated or reordered',
  );
  // Every acknowledged write is in the history at its revision.
  const byRev = new Map<number, string[]>();
  for (const e of reference) byRev.set(e.rev, [...(byRev.get(e.rev) ?? []), e.text]);
  const changed = acked.filter((a) => a.put || byRev.has(a.rev));
  assert.ok(changed.length > 100, `only ${changed.length} writes`);
  for (const a of acked) {
    if (!a.put) continue;
    const texts = byRev.get(a.rev) ?? [];
    assert.ok(
      texts.some((x) => x.startsWith(`PUT ${a.put!.key} ${a.put!.value} `)),
      `acknowledged put ${a.put.key}=${a.put.value} at ${a.rev} in the history`,
    );
  }
  t.diagnostic(`${reference.length} events over revisions ${start}..${final}; resumed at ${resumeFrom}`);
});
