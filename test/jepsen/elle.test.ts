// Goal: the list-append checker names every anomaly it is built to find, and finds none in a
// serializable history. Method: hand-built histories, one per anomaly (Adya's G0, G1a, G1c,
// G-single, G2, their real-time forms, and the non-cycle ones), each checked for its exact kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkListAppend, type ListTxn, type MicroOp } from './checkers/elle.js';

const a = (key: string, value: number): MicroOp => ({ f: 'append', key, value });
const r = (key: string, ...value: number[]): MicroOp => ({ f: 'read', key, value });
let nextId = 1;
/** A committed txn over [invoke, complete]; overlapping times make txns concurrent. */
const T = (ops: MicroOp[], invoke = 0, complete = 1000, outcome: ListTxn['outcome'] = 'ok'): ListTxn => ({
  id: nextId++,
  invoke,
  complete: outcome === 'unknown' ? undefined : complete,
  outcome,
  ops,
});
const kinds = (txns: ListTxn[]) =>
  checkListAppend(txns)
    .violations.map((v) => v.kind)
    .sort();

test('a serializable, real-time ordered history has no anomaly', () => {
  const h = [
    T([a('x', 1)], 0, 10),
    T([r('x', 1), a('x', 2), a('y', 1)], 20, 30),
    T([r('x', 1, 2), r('y', 1)], 40, 50),
    T([r('x', 1, 2), a('y', 2)], 60, 70),
    T([r('y', 1, 2)], 80, 90),
  ];
  const res = checkListAppend(h);
  assert.deepEqual(res.violations, []);
  assert.equal(res.checked, 5);
});

test('G0: two transactions append to two keys in opposite orders', () => {
  assert.deepEqual(
    kinds([T([a('x', 1), a('y', 2)]), T([a('x', 2), a('y', 1)]), T([r('x', 1, 2), r('y', 1, 2)])]),
    ['G0'],
  );
});

test("G1c: each of two transactions reads the other's write", () => {
  assert.deepEqual(kinds([T([a('x', 1), r('y', 1)]), T([a('y', 1), r('x', 1)]), T([r('x', 1), r('y', 1)])]), [
    'G1c',
  ]);
});

test('G-single: read skew (one anti-dependency)', () => {
  assert.deepEqual(kinds([T([r('x'), r('y', 1)]), T([a('x', 1), a('y', 1)]), T([r('x', 1)])]), ['G-single']);
});

test('G2: write skew (two anti-dependencies)', () => {
  assert.deepEqual(kinds([T([r('x'), a('y', 1)]), T([r('y'), a('x', 1)]), T([r('x', 1), r('y', 1)])]), [
    'G2',
  ]);
});

test('G-single-realtime: a read after a completed append misses it (stale read)', () => {
  assert.deepEqual(kinds([T([a('x', 1)], 0, 10), T([r('x')], 20, 30), T([r('x', 1)], 40, 50)]), [
    'G-single-realtime',
  ]);
});

test('G1c-realtime: a transaction observed by one that finished before it began', () => {
  assert.deepEqual(kinds([T([r('x', 1)], 0, 10), T([a('x', 1)], 20, 30)]), ['G1c-realtime']);
});

test('G1a, garbage, incompatible order and duplicates are reported without a cycle', () => {
  assert.deepEqual(kinds([T([a('x', 9)], 0, 10, 'fail'), T([r('x', 9)], 20, 30)]), ['G1a']);
  assert.deepEqual(kinds([T([r('x', 42)])]), ['garbage']);
  assert.deepEqual(kinds([T([a('x', 1)]), T([a('x', 2)]), T([r('x', 1, 2)]), T([r('x', 2)])]), [
    'incompatible-order',
  ]);
  assert.deepEqual(kinds([T([a('x', 1)]), T([r('x', 1, 1)])]).includes('duplicate'), true);
});

test('an unknown-outcome append that was observed takes part; one never observed does not', () => {
  // observed: its append is in x's order, so the stale read after it is an anomaly
  assert.deepEqual(kinds([T([a('x', 1)], 0, 0, 'unknown'), T([r('x', 1)], 10, 20), T([r('x')], 30, 40)]), [
    'G-single-realtime',
  ]);
  // never observed: nothing to say
  assert.deepEqual(kinds([T([a('x', 1)], 0, 0, 'unknown'), T([r('x')], 10, 20)]), []);
});
