/**
 * Goal: the progress bar animates only on a TTY, writes exactly one final line elsewhere, and
 * nothing when off; its line shows count, percent, rate and ETA. Method: a fake stream and an
 * injected clock (no timers are awaited).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEta, ProgressBar } from './progress.js';

function fakeStream(isTTY: boolean): {
  write(s: string): boolean;
  isTTY: boolean;
  columns: number;
  out: string[];
} {
  const out: string[] = [];
  return { isTTY, columns: 100, out, write: (s: string) => out.push(s) > 0 };
}

test('not a TTY: nothing while running, one final line', () => {
  const s = fakeStream(false);
  const bar = new ProgressBar({ label: 'put', total: 10, done: () => 3, stream: s }).start();
  assert.equal(bar.animated, false);
  assert.deepEqual(s.out, []);
  bar.finish('10 requests in 1.00s');
  bar.finish('again is ignored');
  assert.deepEqual(s.out, ['put: 10 requests in 1.00s\n']);
});

test('TTY: draws at start, redraws in place, final line replaces the bar', () => {
  const s = fakeStream(true);
  const bar = new ProgressBar({ label: 'put', total: 10, done: () => 3, stream: s }).start();
  assert.equal(bar.animated, true);
  assert.equal(s.out.length, 1);
  assert.ok(s.out[0]!.startsWith('\rput ['), s.out[0]);
  bar.finish('done');
  assert.equal(s.out.at(-1), '\rput: done\x1b[K\n');
});

test('off: writes nothing at all', () => {
  const s = fakeStream(true);
  const bar = new ProgressBar({ label: 'put', total: 10, done: () => 3, stream: s, mode: 'off' }).start();
  bar.finish('done');
  assert.deepEqual(s.out, []);
});

test('line: count, percent, rate and ETA from the injected clock', () => {
  let now = 0;
  let done = 0;
  const bar = new ProgressBar({
    label: 'put',
    total: 1000,
    done: () => done,
    stream: fakeStream(false),
    now: () => now,
  });
  now = 2000;
  done = 250;
  const line = bar.line();
  assert.match(line, /^put \[#+\.+\] 250\/1000 {2}25% 125 req\/s ETA 6s$/);
  done = 5000; // overshoot is clamped
  assert.match(bar.line(), / 1000\/1000 100% /);
});

test('formatEta', () => {
  assert.equal(formatEta(5.4), '5s');
  assert.equal(formatEta(184), '3m04s');
  assert.equal(formatEta(3720), '1h02m');
  assert.equal(formatEta(Number.POSITIVE_INFINITY), '--');
});
