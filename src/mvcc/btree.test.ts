// Goal: the BTree is an ordered map: same contents and iteration order as a reference model,
// structurally sound after any mix of inserts and deletes, and bulk-loading gives the same tree
// contents as inserting one by one.
// Method: fast-check command sequences (set/delete/visit) over small latin1 keys (including bytes
// >= 0x80 and prefixes) against a Map sorted on demand; checkInvariants after every sequence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BTree } from './btree.js';

const arbKey = fc
  .uint8Array({ minLength: 0, maxLength: 3 })
  .map((b) => Buffer.from(b.map((x) => [0, 1, 0x61, 0x62, 0x7f, 0x80, 0xff][x % 7]!)).toString('latin1'));

type Op = { t: 'set'; k: string; v: number } | { t: 'del'; k: string } | { t: 'visit'; k: string; n: number };
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('set' as const), k: arbKey, v: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('del' as const), k: arbKey }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('visit' as const), k: arbKey, n: fc.nat({ max: 500 }) }),
  },
);

function modelVisit(m: Map<string, number>, from: string, n: number): [string, number][] {
  const keys = [...m.keys()].filter((k) => k >= from);
  keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
  return keys.slice(0, n).map((k) => [k, m.get(k)!]);
}

test('matches a sorted-map model under random operations', () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 1500 }), (ops) => {
      const t = new BTree<number>();
      const m = new Map<string, number>();
      for (const op of ops) {
        if (op.t === 'set') {
          t.set(op.k, op.v);
          m.set(op.k, op.v);
        } else if (op.t === 'del') {
          assert.equal(t.delete(op.k), m.delete(op.k));
        } else {
          const got: [string, number][] = [];
          t.visit(op.k, (k, v) => {
            got.push([k, v]);
            return got.length < op.n;
          });
          assert.deepEqual(got, modelVisit(m, op.k, Math.max(op.n, 1)).slice(0, Math.max(op.n, 1)));
        }
        assert.equal(t.size, m.size);
      }
      t.checkInvariants();
      for (const [k, v] of m) assert.equal(t.get(k), v);
    }),
    { numRuns: 60 },
  );
});

test('large: bulk load, random deletes down to empty, reinserts', () => {
  const n = 20_000;
  const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(6, '0')}`);
  const t = BTree.fromSorted(
    keys,
    keys.map((_, i) => i),
  );
  t.checkInvariants();
  assert.equal(t.size, n);
  let seen = 0;
  t.visit('', (k, v) => {
    assert.equal(k, keys[v]);
    seen++;
    return true;
  });
  assert.equal(seen, n);
  // delete every key in a scrambled but deterministic order
  for (let i = 0; i < n; i++) assert.equal(t.delete(keys[(i * 7919) % n]!), true);
  t.checkInvariants();
  assert.equal(t.size, 0);
  for (let i = n - 1; i >= 0; i--) t.set(keys[i]!, i);
  t.checkInvariants();
  assert.equal(t.size, n);
  assert.equal(t.get('k000123'), 123);
});
