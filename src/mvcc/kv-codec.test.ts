// Goal: the hand-written KeyValue codec is byte-for-byte the generated mvccpb codec, and revision
// keys encode etcd's layout in (main, sub) order.
// Method: a table of revision keys; fast-check properties comparing encodeKeyValue with the
// generated KeyValue.encode over random fields (including negative and huge leases), decoding
// each other's output, and checking that byte order of revision keys equals numeric order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KeyValue } from '../proto/mvccpb/kv.js';
import { decodeKeyValue, encodeKeyValue, makeKeyValue } from './kv-codec.js';
import { isTombstoneKey, keyMain, keySub, revKey } from './revision.js';

test('revision keys have etcd layout', () => {
  const table: [number, number, boolean, string][] = [
    [1, 0, false, '0000000000000001_5f0000000000000000'],
    [2, 3, true, '0000000000000002_5f0000000000000003_74'],
    [0x1_0000_0000, 0xff, false, '0000000100000000_5f00000000000000ff'],
    [Number.MAX_SAFE_INTEGER, 1, false, '001fffffffffffff_5f0000000000000001'],
  ];
  for (const [main, sub, tomb, hex] of table) {
    const k = revKey(main, sub, tomb);
    assert.equal(k.toString('hex'), hex.replaceAll('_', ''));
    assert.equal(keyMain(k), main);
    assert.equal(keySub(k), sub);
    assert.equal(isTombstoneKey(k), tomb);
  }
});

test('revision key byte order is (main, sub) order', () => {
  const rev = fc.tuple(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 20 }));
  fc.assert(
    fc.property(rev, rev, ([m1, s1], [m2, s2]) => {
      const byBytes = Math.sign(Buffer.compare(revKey(m1, s1, false), revKey(m2, s2, false)));
      const byNum = m1 !== m2 ? Math.sign(m1 - m2) : Math.sign(s1 - s2);
      assert.equal(byBytes, byNum);
    }),
  );
});

const arbKv = fc.record({
  key: fc.uint8Array({ maxLength: 40 }),
  create: fc.oneof(fc.constant(0), fc.nat(), fc.nat({ max: Number.MAX_SAFE_INTEGER })),
  mod: fc.oneof(fc.constant(0), fc.nat(), fc.nat({ max: Number.MAX_SAFE_INTEGER })),
  ver: fc.oneof(fc.constant(0), fc.nat({ max: 1000 })),
  value: fc.uint8Array({ maxLength: 300 }),
  lease: fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
});

test('encodeKeyValue equals the generated encoder and round-trips', () => {
  fc.assert(
    fc.property(arbKv, (f) => {
      const mine = encodeKeyValue(f.key, f.create, f.mod, f.ver, f.value, f.lease);
      const gen = KeyValue.encode({
        key: Buffer.from(f.key),
        createRevision: BigInt(f.create),
        modRevision: BigInt(f.mod),
        version: BigInt(f.ver),
        value: Buffer.from(f.value),
        lease: f.lease,
      }).finish();
      assert.deepEqual(Buffer.from(mine), Buffer.from(gen));
      const back = decodeKeyValue(Buffer.from(gen));
      assert.deepEqual(Buffer.from(back.key), Buffer.from(f.key));
      assert.equal(back.createRevision, BigInt(f.create));
      assert.equal(back.modRevision, BigInt(f.mod));
      assert.equal(back.version, BigInt(f.ver));
      assert.deepEqual(Buffer.from(back.value), Buffer.from(f.value));
      assert.equal(back.lease, f.lease);
      const scratch = Buffer.alloc(gen.length + 7, 0xee);
      scratch.set(gen);
      const copied = decodeKeyValue(scratch.subarray(0, gen.length), true);
      scratch.fill(0);
      assert.deepEqual(copied, back, 'copy mode survives reuse of the input buffer');
      const made = makeKeyValue(f.key, f.create, f.mod, f.ver, f.value, f.lease);
      assert.deepEqual(made.bytes, mine);
      assert.deepEqual(Buffer.from(made.kv.key), Buffer.from(f.key));
      assert.deepEqual(Buffer.from(made.kv.value), Buffer.from(f.value));
    }),
  );
});

test('decodeKeyValue skips unknown fields', () => {
  const base = encodeKeyValue(Buffer.from('k'), 2, 3, 1, Buffer.from('v'), 0n);
  // field 7 varint (tag 0x38) = 300, field 9 length-delimited (tag 0x4a) "xyz", field 10 fixed32
  const extra = Buffer.from([0x38, 0xac, 0x02, 0x4a, 3, 0x78, 0x79, 0x7a, 0x55, 1, 2, 3, 4]);
  const kv = decodeKeyValue(Buffer.concat([extra, base]));
  assert.equal(kv.key.toString(), 'k');
  assert.equal(kv.value.toString(), 'v');
  assert.equal(kv.modRevision, 3n);
});
