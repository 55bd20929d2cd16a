import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from './clock.js';

test('ManualClock fires timers in due order, intervals repeat, cleared timers never fire', () => {
  const c = new ManualClock();
  const seen: string[] = [];
  c.setTimeout(() => seen.push(`b@${c.now()}`), 20);
  c.setTimeout(() => seen.push(`a@${c.now()}`), 10);
  const cancelled = c.setTimeout(() => seen.push('never'), 15);
  cancelled.clear();
  const every = c.setInterval(() => seen.push(`i@${c.now()}`), 8);
  c.advance(25);
  every.clear();
  c.advance(100);
  assert.deepEqual(seen, ['i@8', 'a@10', 'i@16', 'b@20', 'i@24']);
  assert.equal(c.now(), 125);
  assert.equal(c.pendingCount, 0);
});

test('ManualClock sleep resolves only when time is advanced past it', async () => {
  const c = new ManualClock();
  let done = false;
  const p = c.sleep(50).then(() => {
    done = true;
  });
  c.advance(49);
  await Promise.resolve();
  assert.equal(done, false);
  c.advance(1);
  await p;
  assert.equal(done, true);
});
