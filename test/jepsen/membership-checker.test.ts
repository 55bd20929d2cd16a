// Goal: the membership checker rejects what it must — two leaders in one Raft term (whoever reported
// them), a removed member that served a request, a removed member never told it was removed — and
// passes a clean history. Method: hand-built histories (checkers take a History and nothing else).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkMembership, type LeaderObservation } from './checkers/membership.js';
import type { History } from './history.js';

function history(extra: Partial<History>): History {
  return {
    seed: 1,
    ops: [],
    watchers: [],
    leaseOps: [],
    leaseKeys: [],
    faults: [],
    truth: { revision: 1, events: [], final: new Map(), replicas: [] },
    durationMs: 1,
    ...extra,
  };
}

const obs = (member: string, term: number, leader: string): LeaderObservation => ({
  at: 0,
  member,
  id: '1',
  term,
  leader,
});

test('one leader per term, changing over terms, and "no leader" answers: clean', () => {
  const r = checkMembership(
    history({
      leaderObservations: [obs('a', 2, '10'), obs('b', 2, '10'), obs('c', 3, '0'), obs('a', 3, '11')],
      removedMembers: [
        { name: 'a', id: '10', toldRemoved: true, tried: 5, succeeded: 0, exited: true, detail: '' },
      ],
    }),
  );
  assert.deepEqual(r.violations, []);
  assert.equal(r.checked, 5);
});

test('two leaders in one term are a violation, whichever members reported them', () => {
  const r = checkMembership(history({ leaderObservations: [obs('a', 4, '10'), obs('b', 4, '11')] }));
  assert.deepEqual(
    r.violations.map((v) => v.kind),
    ['two-leaders-in-term'],
  );
  assert.match(r.violations[0]!.detail, /term 4 has leaders a .* and b /);
});

test('a removed member that served a request, or was never told, is a violation', () => {
  const r = checkMembership(
    history({
      leaderObservations: [],
      removedMembers: [
        { name: 'x', id: '12', toldRemoved: true, tried: 4, succeeded: 1, exited: false, detail: 'd' },
        { name: 'y', id: '13', toldRemoved: false, tried: 4, succeeded: 0, exited: false, detail: 'd' },
      ],
    }),
  );
  assert.deepEqual(
    r.violations.map((v) => v.kind),
    ['removed-member-served', 'removed-member-not-told'],
  );
});
