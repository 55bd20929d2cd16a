// Goal: tsetcd's Lock service gives mutual exclusion with usable fencing tokens: concurrent clients
// never hold the lock at the same time, each holder's fencing token (the Lock response's header
// revision) is larger than every earlier holder's, a holder that dies (stops renewing; its lease
// expires) releases the lock to the next waiter, and that dead holder's late write is refused by
// the fencing guard. Also: an election hands leadership to the next candidate when the leader's
// lease expires, and Observe reports it.
// Method: one tsetcd process; several clients, each on its own connection and lease, loop
// lock -> critical section -> unlock. In the critical section a client checks and sets an
// in-process "holder" (shared by all clients in this process, so an overlap is seen directly) and
// writes its token to the key `fence` with a txn guarded by mod_revision(fence) < token — the
// resource side of fencing: a write by an older holder can only come after a newer holder's, and
// is then refused. One extra client locks first on a minimum-TTL lease and never unlocks nor renews.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { Compare_CompareResult as R, Compare_CompareTarget as T } from '../../src/proto/etcdserverpb/rpc.js';
import {
  ElectionService,
  LeaderRequest,
  type LeaderResponse,
} from '../../src/proto/v3electionpb/v3election.js';
import { b, connect, type EtcdClients, startMember, waitFor } from '../helpers/index.js';

/** Clients competing for the lock, and how often each takes it. */
const CLIENTS = 4;
const ROUNDS_PER_CLIENT = 5;
/** TTL of the live clients' leases: longer than the test, so they need no keep-alives. */
const LIVE_TTL_SECONDS = 60;
/** The dying client's TTL: etcd's minimum (the server raises smaller requests to it). */
const DYING_TTL_SECONDS = 2;

/** The fenced write: succeeds only if no holder with a newer token has written `fence` yet. */
function fencedWrite(c: EtcdClients, token: bigint, who: string) {
  return c.kv.txn({
    compare: [{ key: b('fence'), target: T.MOD, result: R.LESS, modRevision: token }],
    success: [{ requestPut: { key: b('fence'), value: b(`${who}@${token}`) } }],
  });
}

test('lock: mutual exclusion, increasing fencing tokens, a dead holder releases and is fenced off', async (t) => {
  const m = await startMember('tsetcd', { t });
  const clients = Array.from({ length: CLIENTS + 1 }, () => connect(m.endpoint));
  t.after(() => {
    for (const c of clients) c.close();
  });
  const name = b('resource-lock');

  // The dying client takes the lock first, writes once, then goes silent.
  const dying = clients[CLIENTS] as EtcdClients;
  const dl = await dying.lease.leaseGrant({ TTL: BigInt(DYING_TTL_SECONDS) });
  const dlock = await dying.lock.lock({ name, lease: dl.ID });
  const deadToken = dlock.header?.revision ?? 0n;
  assert.ok(deadToken > 0n);
  assert.equal((await fencedWrite(dying, deadToken, 'dying')).succeeded, true);

  let holder: string | undefined;
  const tokens: { who: string; token: bigint }[] = [];
  let overlaps = 0;
  const worker = async (i: number) => {
    const c = clients[i] as EtcdClients;
    const lease = (await c.lease.leaseGrant({ TTL: BigInt(LIVE_TTL_SECONDS) })).ID;
    for (let r = 0; r < ROUNDS_PER_CLIENT; r++) {
      const l = await c.lock.lock({ name, lease }, { deadlineMs: 15_000 });
      const token = l.header?.revision ?? 0n;
      if (holder !== undefined) overlaps++;
      holder = `c${i}`;
      tokens.push({ who: holder, token });
      const w = await fencedWrite(c, token, holder);
      assert.equal(w.succeeded, true, `c${i} holds the lock with token ${token}: its fenced write succeeds`);
      holder = undefined;
      await c.lock.unlock({ key: l.key });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => worker(i)));
  const elapsedMs = performance.now() - started;

  assert.equal(overlaps, 0, 'no two holders overlapped');
  assert.equal(tokens.length, CLIENTS * ROUNDS_PER_CLIENT);
  for (let i = 1; i < tokens.length; i++) {
    const [a, z] = [tokens[i - 1], tokens[i]] as [{ token: bigint }, { token: bigint }];
    assert.ok(z.token > a.token, `fencing tokens strictly increase: ${a.token} then ${z.token}`);
  }
  assert.ok((tokens[0]?.token ?? 0n) > deadToken, 'the first live holder comes after the dead one');
  // The others could only start once the dead holder's lease expired (it never unlocked).
  assert.ok(elapsedMs >= (DYING_TTL_SECONDS - 1) * 1000, `waited for the lease to expire (${elapsedMs} ms)`);
  // The dead holder's key is gone, and its late write (a zombie waking up) is refused.
  const dk = await dying.kv.range({ key: dlock.key });
  assert.equal(dk.kvs.length, 0, "the dead holder's lock key went with its lease");
  assert.equal((await fencedWrite(dying, deadToken, 'zombie')).succeeded, false, 'stale token refused');
  const last = tokens[tokens.length - 1] as { who: string; token: bigint };
  const fence = await dying.kv.range({ key: b('fence') });
  assert.equal(fence.kvs[0]?.value.toString(), `${last.who}@${last.token}`);
  const left = await dying.kv.range({
    key: b('resource-lock/'),
    rangeEnd: b('resource-lock0'),
    countOnly: true,
  });
  assert.equal(left.count, 0n, 'every lock key was removed');
});

test('election: the next candidate leads when the leader lease expires; Observe sees it', async (t) => {
  const m = await startMember('tsetcd', { t });
  const c = connect(m.endpoint);
  const o = connect(m.endpoint);
  t.after(() => {
    c.close();
    o.close();
  });
  const name = b('svc');
  const seen: string[] = [];
  const def = ElectionService.observe;
  const call: ClientReadableStream<LeaderResponse> = o.raw.makeServerStreamRequest(
    def.path,
    (v: LeaderRequest) => def.requestSerialize(v),
    (x: Buffer) => def.responseDeserialize(x),
    LeaderRequest.fromPartial({ name }),
  );
  call.on('data', (r: LeaderResponse) => seen.push(r.kv?.value.toString() ?? ''));
  call.on('error', () => {});
  t.after(() => call.cancel());

  const dying = (await c.lease.leaseGrant({ TTL: BigInt(DYING_TTL_SECONDS) })).ID;
  const live = (await c.lease.leaseGrant({ TTL: BigInt(LIVE_TTL_SECONDS) })).ID;
  const first = await c.election.campaign({ name, lease: dying, value: b('first') });
  assert.equal(first.leader?.lease, dying);
  const second = c.election.campaign({ name, lease: live, value: b('second') }, { deadlineMs: 15_000 });
  const won = await second;
  assert.equal(won.leader?.lease, live);
  assert.ok((won.leader?.rev ?? 0n) > (first.leader?.rev ?? 0n));
  const leader = await c.election.leader({ name });
  assert.equal(leader.kv?.value.toString(), 'second');
  await waitFor(() => seen.length >= 2, { timeoutMs: 5_000 });
  assert.deepEqual(seen, ['first', 'second']);
});
