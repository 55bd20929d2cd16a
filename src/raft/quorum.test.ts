// Goal: the majority math (commit index, vote outcome) is right for every voter set and every
// acknowledgement pattern. Method: fast-check properties against brute-force definitions, plus a
// few table cases that read like the thesis' examples.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { committedIndex, majority, voteResult } from './quorum.js';

const votersArb = fc.uniqueArray(fc.bigInt({ min: 1n, max: 20n }), { minLength: 1, maxLength: 7 });

test('majority(n) is the smallest count strictly above half', () => {
  for (let n = 1; n <= 9; n++) {
    const q = majority(n);
    assert.ok(2 * q > n && 2 * (q - 1) <= n, `n=${n}`);
  }
});

test('committedIndex is the largest index a majority has acknowledged', () => {
  fc.assert(
    fc.property(
      votersArb,
      fc.array(fc.nat({ max: 50 }), { minLength: 7, maxLength: 7 }),
      (voters, matches) => {
        const matchOf = (id: bigint) => matches[voters.indexOf(id)];
        const got = committedIndex(voters, matchOf);
        const acked = (i: number) => voters.filter((v) => (matchOf(v) ?? 0) >= i).length;
        // Brute force: got is acknowledged by a majority, got+1 is not.
        assert.ok(acked(got) >= majority(voters.length));
        assert.ok(acked(got + 1) < majority(voters.length));
      },
    ),
  );
});

test('committedIndex: table cases', () => {
  const m = new Map<bigint, number>([
    [1n, 5],
    [2n, 3],
    [3n, 4],
  ]);
  assert.equal(
    committedIndex([1n, 2n, 3n], (id) => m.get(id)),
    4,
  );
  assert.equal(
    committedIndex([1n, 2n, 3n, 4n], (id) => m.get(id)),
    3,
  );
  assert.equal(
    committedIndex([], () => 9),
    0,
  );
});

test('voteResult agrees with counting yes/no/missing votes', () => {
  fc.assert(
    fc.property(
      votersArb,
      fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), { minLength: 7, maxLength: 7 }),
      (voters, raw) => {
        const votes = new Map<bigint, boolean>();
        voters.forEach((v, i) => {
          const x = raw[i];
          if (x !== undefined) votes.set(v, x);
        });
        votes.set(99n, true); // a non-voter's vote never counts
        const yes = voters.filter((v) => votes.get(v) === true).length;
        const missing = voters.filter((v) => !votes.has(v)).length;
        const q = majority(voters.length);
        const want = yes >= q ? 'won' : yes + missing >= q ? 'pending' : 'lost';
        assert.equal(voteResult(voters, votes), want);
      },
    ),
  );
});
