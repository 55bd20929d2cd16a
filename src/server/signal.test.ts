// Goal: Signal, which replaced the polling loops of MemberPromote, MoveLeader and whenPrimary,
// wakes a waiter exactly when its condition holds after a notify, times out on its clock, and
// fails every waiter at stop. Method: a ManualClock drives the deadlines; no real time passes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../pkg/clock.js';
import { Signal } from './signal.js';

const settled = async (p: Promise<unknown>): Promise<string> => {
  let state = 'pending';
  p.then(
    () => {
      state = 'resolved';
    },
    (e: Error) => {
      state = `rejected: ${e.message}`;
    },
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

test('resolves at once when the condition already holds', async () => {
  const s = new Signal(new ManualClock());
  assert.equal(
    await settled(
      s.until(
        () => true,
        1000,
        () => new Error('timeout'),
      ),
    ),
    'resolved',
  );
});

test('resolves at the first notify after which the condition holds, not before', async () => {
  const clock = new ManualClock();
  const s = new Signal(clock);
  let leader = 0n;
  const wait = s.until(
    () => leader === 2n,
    1000,
    () => new Error('timeout'),
  );
  s.notify();
  assert.equal(await settled(wait), 'pending', 'a notify without the condition keeps waiting');
  leader = 2n;
  assert.equal(await settled(wait), 'pending', 'a change without a notify is not seen');
  s.notify();
  assert.equal(await settled(wait), 'resolved');
  clock.advance(2000); // its timer was cleared: nothing fires late
});

test('fails with the timeout error at its deadline on the clock', async () => {
  const clock = new ManualClock();
  const s = new Signal(clock);
  const wait = s.until(
    () => false,
    1000,
    () => new Error('leader transfer took too long'),
  );
  clock.advance(999);
  assert.equal(await settled(wait), 'pending');
  clock.advance(1);
  assert.equal(await settled(wait), 'rejected: leader transfer took too long');
});

test('failAll rejects every waiter', async () => {
  const s = new Signal(new ManualClock());
  const a = s.until(
    () => false,
    1000,
    () => new Error('timeout'),
  );
  const b = s.until(
    () => false,
    1000,
    () => new Error('timeout'),
  );
  const [sa, sb] = [settled(a), settled(b)];
  s.failAll(new Error('stopped'));
  assert.equal(await sa, 'rejected: stopped');
  assert.equal(await sb, 'rejected: stopped');
});
