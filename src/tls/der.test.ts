/**
 * Goal: the DER writer and reader agree with each other and with known encodings (X.690 examples).
 * Method: table tests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { children, oid, readTlv, seq, time, uint } from './der.js';

test('der: known encodings', () => {
  assert.equal(oid('1.2.840.10045.2.1').toString('hex'), '06072a8648ce3d0201');
  assert.equal(uint(Buffer.from([0x80])).toString('hex'), '02020080');
  assert.equal(uint(Buffer.from([0, 0, 5])).toString('hex'), '020105');
  assert.equal(time(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))).toString(), '\x17\x0d260102030405Z');
  assert.equal(time(new Date(Date.UTC(2050, 0, 1))).subarray(0, 1)[0], 0x18);
});

test('der: long lengths round-trip and truncation is refused', () => {
  const big = seq(uint(Buffer.alloc(300, 1)), uint(Buffer.from([7])));
  const t = readTlv(big, 0);
  assert.equal(t.tag, 0x30);
  assert.equal(t.end, big.length);
  const kids = children(t.value);
  assert.equal(kids.length, 2);
  assert.equal(kids[0]!.value.length, 300);
  assert.throws(() => readTlv(big.subarray(0, big.length - 1), 0), /truncated/);
});
