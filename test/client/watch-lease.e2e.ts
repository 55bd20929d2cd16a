/**
 * Goal: a watch survives members being killed and restarted under it with no event lost, duplicated
 * or reordered, and never ends silently; a lease whose member pauses past its TTL is reported lost.
 * Method: a 3-member tsetcd cluster of child processes. A writer puts keys w/0000.. one at a time
 * (through its own client, retrying each put until acknowledged) while every member is SIGKILLed and
 * restarted in turn; the watcher's revisions must increase strictly, every acknowledged put must be
 * seen, and the watcher must have reconnected at least once. Then a client on one member holds a
 * kept-alive lease; that member is SIGSTOPped and `lost` must resolve ("keepalive-timeout") within
 * the TTL plus a margin.
 * Mutation check: with the resume removed (a broken stream ends the iterator, or reopens from "now"),
 * the first test fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Watcher } from '../../src/client/index.js';
import { kill, launch, sharedCluster, waitFor, waitHealthy } from './cluster.js';

const shared = sharedCluster(3);

test('watch resumes across member kills and restarts: nothing lost, duplicated or reordered', async () => {
  const eps = shared.cluster.endpoints();
  const watcherClient = shared.client({ endpoints: eps });
  const writer = shared.client({ endpoints: eps });
  const w: Watcher = watcherClient.watch('w/', { prefix: true });
  await w.ready();

  const seen: { key: string; rev: bigint }[] = [];
  let ended: string | undefined;
  const reader = (async () => {
    try {
      for await (const b of w)
        for (const e of b.events) seen.push({ key: e.kv!.key.toString(), rev: e.kv!.modRevision });
      ended = 'ended without an error';
    } catch (e) {
      ended = `ended with ${(e as Error).message}`;
    }
  })();

  const acked = new Map<string, bigint>();
  let stop = false;
  const writing = (async () => {
    for (let i = 0; !stop; i++) {
      const key = `w/${String(i).padStart(4, '0')}`;
      // A put whose answer is lost may have been applied: it is then seen but not acknowledged,
      // which the check allows. Acknowledged puts must all be seen.
      for (;;) {
        const r = await writer.kv.put(key, 'v', { deadlineMs: 3000 }).catch(() => undefined);
        if (r) {
          acked.set(key, r.header!.revision);
          break;
        }
        if (stop) return;
      }
    }
  })();

  for (const p of shared.cluster.procs) {
    const n = acked.size;
    await waitFor(async () => acked.size >= n + 20, { timeoutMs: 20_000, what: 'writes progressing' });
    await kill(p);
    await waitFor(async () => acked.size >= n + 40, { timeoutMs: 20_000, what: 'writes during the kill' });
    launch(p);
    await waitHealthy(p);
  }
  stop = true;
  await writing;
  const lastRev = [...acked.values()].reduce((a, b) => (a > b ? a : b), 0n);
  await waitFor(async () => (seen.at(-1)?.rev ?? 0n) >= lastRev || ended !== undefined, {
    timeoutMs: 20_000,
    what: `the watcher reaching revision ${lastRev}`,
  });
  assert.equal(ended, undefined, 'the iterator must not end');
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i]!.rev > seen[i - 1]!.rev, `revision ${seen[i]!.rev} after ${seen[i - 1]!.rev}`);
  }
  const seenRev = new Map(seen.map((s) => [s.key, s.rev]));
  for (const [k, rev] of acked) assert.equal(seenRev.get(k), rev, `acknowledged put ${k}@${rev} seen`);
  assert.ok(w.reconnects >= 1, 'the watch stream broke and was resumed at least once');
  w.cancel();
  await reader;
  assert.equal(ended, 'ended without an error', 'cancel() ends the iteration');
});

test('a lease is reported lost when its member pauses past the TTL', async () => {
  const p = shared.cluster.procs[0]!;
  const c = shared.client({ endpoints: [p.client] });
  const ttl = 3;
  const lease = await c.lease.grant(ttl);
  await waitFor(async () => lease.keepAlives >= 1, { timeoutMs: 5000, what: 'a keep-alive answered' });
  let lostAt = 0;
  void lease.lost.then(() => {
    lostAt = performance.now();
  });
  const t0 = performance.now();
  p.child!.kill('SIGSTOP');
  try {
    let timer: NodeJS.Timeout | undefined;
    const e = await Promise.race([
      lease.lost,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('lease loss not signalled')), ttl * 1000 + 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(e.reason, 'keepalive-timeout');
    assert.equal(e.leaseId, lease.id);
    const ms = lostAt - t0;
    // The deadline is the last answer's TTL after it: at most ttl s after the pause, never much later.
    assert.ok(ms <= ttl * 1000 + 500, `lost after ${ms.toFixed(0)} ms`);
  } finally {
    p.child!.kill('SIGCONT');
  }
  // And the other members agree that it is gone (it expired there as well) — or will shortly.
  const other = shared.client({ endpoints: [shared.cluster.procs[1]!.client] });
  await waitFor(async () => (await other.lease.timeToLive(lease.id)).TTL === -1n, {
    timeoutMs: 15_000,
    what: 'the lease expired in the cluster',
  });
});
