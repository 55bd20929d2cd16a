// Goal: counts kept back as plain numbers are all in the prom-client counters whenever those are
// read (a scrape of the registry, or one metric's get()), and a collect hook the metric had still runs.
// Method: count into deferred series, read the registry text and single metrics, count again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { DeferredCounts } from './deferred-counts.js';

test('deferred counts are all in the counters whenever they are read', async () => {
  const registry = new Registry();
  const labelled = new Counter({ name: 'calls_total', help: 'h', labelNames: ['m'], registers: [registry] });
  let collected = 0;
  const plain = new Counter({
    name: 'bytes_total',
    help: 'h',
    registers: [registry],
    collect() {
      collected++;
    },
  });
  const d = new DeferredCounts([labelled, plain]);
  const a = d.of(labelled.labels('a'));
  const b = d.of(labelled.labels('b'));
  const bytes = d.of(plain);
  a.inc();
  a.inc();
  b.inc();
  bytes.inc(300);
  const text = await registry.metrics();
  assert.match(text, /calls_total\{m="a"\} 2/);
  assert.match(text, /calls_total\{m="b"\} 1/);
  assert.match(text, /bytes_total 300/);
  assert.equal(collected, 1, "the metric's own collect still runs");
  a.inc();
  bytes.inc(5);
  // Reading the other metric alone flushes this one's pending counts too.
  assert.equal((await plain.get()).values[0]?.value, 305);
  const calls = (await labelled.get()).values;
  assert.equal(calls.find((v) => v.labels.m === 'a')?.value, 3);
});
