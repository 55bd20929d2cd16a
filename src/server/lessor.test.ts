// Goal: the lessor keeps lease time only while primary, a new primary restarts each lease from its
// checkpointed remaining TTL (or the full TTL) plus the election timeout, checkpoints are due only
// for long leases and never understate the remaining time, and a keep-alive clears a checkpoint
// before it counts. Method: a fake clock and an in-memory persistence; every case is a sequence of
// applied calls and clock moves with the expiry checked on both sides of the expected moment.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LeasePersistence, Lessor } from './lessor.js';

function setup(opts: { checkpointing?: boolean; intervalMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const records = new Map<bigint, { ttl: number; remainingTtl: number }>();
  const persistence: LeasePersistence = {
    load: () => [...records].map(([id, r]) => ({ id, ...r })),
    put: (id, ttl, remainingTtl) => records.set(id, { ttl, remainingTtl }),
    delete: (id) => records.delete(id),
  };
  const make = () =>
    new Lessor(persistence, () => clock.now, {
      minTtlSeconds: 2,
      checkpointing: opts.checkpointing ?? true,
      checkpointIntervalMs: opts.intervalMs ?? 10_000,
    });
  return { clock, records, make };
}

test('not primary: nothing expires; promote starts the full TTL plus the election timeout', () => {
  const { clock, make } = setup();
  const l = make();
  l.grant(1n, 30);
  clock.now += 100_000;
  assert.deepEqual(l.takeExpired(10), [], 'a follower never expires leases');
  l.promote(1000);
  clock.now += 30_999;
  assert.deepEqual(l.takeExpired(10), []);
  assert.equal(l.remainingSeconds(1n), 0);
  clock.now += 1;
  assert.deepEqual(l.takeExpired(10), [1n]);
});

test('a checkpoint is due one interval after promotion, only for leases longer than the interval', () => {
  const { clock, make } = setup({ intervalMs: 10_000 });
  const l = make();
  l.grant(1n, 60);
  l.grant(2n, 10); // not longer than the interval: never checkpointed
  l.promote(0);
  clock.now += 9_999;
  assert.deepEqual(l.takeDueCheckpoints(10), []);
  clock.now += 1;
  assert.deepEqual(l.takeDueCheckpoints(10), [{ id: 1n, remainingTtl: 50 }]);
  assert.equal(l.renew(1n).kind, 'clearCheckpoint', 'a checkpoint in flight must be cleared first');
  l.checkpoint(1n, 50);
  assert.equal(l.renew(1n).kind, 'clearCheckpoint', 'an applied checkpoint must be cleared first');
  l.checkpoint(1n, 0);
  assert.deepEqual(l.renew(1n), { kind: 'renewed', ttl: 60 });
});

test('a new primary resumes a lease from its checkpoint, so elections do not extend it forever', () => {
  const { clock, records, make } = setup({ intervalMs: 10_000 });
  const a = make();
  a.grant(1n, 100);
  a.promote(1000);
  // Repeated elections, each after a checkpoint: the lease still ends near its TTL.
  const start = clock.now;
  let lessor = a;
  for (let round = 0; round < 8; round++) {
    clock.now += 10_000;
    const due = lessor.takeDueCheckpoints(10);
    assert.equal(due.length, 1);
    lessor.checkpoint(1n, due[0]!.remainingTtl);
    assert.equal(records.get(1n)?.remainingTtl, due[0]!.remainingTtl, 'persisted with the lease');
    lessor.demote();
    lessor = make(); // the next leader, reading the persisted table
    lessor.promote(1000);
  }
  // 80 s passed; each promotion adds 1 s of election timeout and at most 1 s of rounding.
  const expiresIn = lessor.remainingSeconds(1n);
  assert.ok(expiresIn >= 100 - 80 && expiresIn <= 100 - 80 + 8 * 2, `remaining ${expiresIn}`);
  assert.ok(clock.now - start + expiresIn * 1000 < 100_000 + 8 * 2000 + 1000);
});

test('without checkpointing a new primary restarts the full TTL (etcd 3.4 default behaviour)', () => {
  const { clock, make } = setup({ checkpointing: false });
  const l = make();
  l.grant(1n, 100);
  l.promote(0);
  clock.now += 50_000;
  assert.deepEqual(l.takeDueCheckpoints(10), []);
  l.demote();
  l.promote(0);
  assert.equal(l.remainingSeconds(1n), 100);
});

test('a late checkpoint after a keep-alive is corrected by a clearing one', () => {
  const { clock, make } = setup({ intervalMs: 10_000 });
  const l = make();
  l.grant(1n, 60);
  l.promote(0);
  clock.now += 10_000;
  const [due] = l.takeDueCheckpoints(10);
  l.checkpointFailed([1n]); // its proposal timed out ...
  assert.deepEqual(l.renew(1n), { kind: 'renewed', ttl: 60 });
  l.checkpoint(1n, due!.remainingTtl); // ... and yet was applied after the keep-alive
  clock.now += 1;
  assert.deepEqual(l.takeDueCheckpoints(10), [{ id: 1n, remainingTtl: 0 }]);
});

test('renewing is refused for expired or unknown leases; the TTL is never shortened', () => {
  const { clock, make } = setup();
  const l = make();
  l.grant(1n, 5);
  l.promote(0);
  clock.now += 4_000;
  assert.deepEqual(l.renew(1n), { kind: 'renewed', ttl: 5 });
  clock.now += 4_999;
  assert.deepEqual(l.takeExpired(10), []);
  clock.now += 1;
  assert.deepEqual(l.renew(1n), { kind: 'notFound' });
  assert.deepEqual(l.renew(9n), { kind: 'notFound' });
});

test('promote spreads a pile-up of expiries, never moving one earlier', () => {
  const { clock, make } = setup();
  const l = make();
  for (let i = 1n; i <= 3000n; i++) l.grant(i, 10);
  l.promote(0);
  const base = clock.now + 10_000;
  const expiries = l.ids().map((id) => l.lookup(id)!.expiryMs);
  assert.ok(expiries.every((e) => e >= base));
  // At most ~750 per second from the base.
  const inFirstSecond = expiries.filter((e) => e < base + 1000).length;
  assert.ok(inFirstSecond <= 760, `${inFirstSecond} expire in the first second`);
  assert.ok(Math.max(...expiries) <= base + 5000);
});
