// Goal: etcd's checks before a membership change (reconfig-checks.ts), as a table: which wire
// error each situation gets, in etcd's order. Method: pure functions over a hand-built view of the
// cluster (members, links, wall time); no member, socket or clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MemberRecord } from './membership.js';
import {
  checkAdd,
  checkPromote,
  checkRemove,
  checkUpdate,
  learnerReady,
  type ReconfigView,
} from './reconfig-checks.js';

const NOW = 1_000_000;
const m = (id: number, isLearner = false): MemberRecord => ({
  id: BigInt(id),
  name: `m${id}`,
  peerUrls: [`http://127.0.0.1:${2000 + id}`],
  clientUrls: [],
  isLearner,
});

/** Members 1..n (1 is this one); `up` maps a peer id to how long its link has been up (ms). */
function view(members: MemberRecord[], up: Record<number, number>, strict = true): ReconfigView {
  return {
    selfId: 1n,
    members,
    connected: (id) => up[Number(id)] !== undefined,
    activeSince: (id) => (up[Number(id)] === undefined ? 0 : NOW - up[Number(id)]!),
    now: NOW,
    strict,
  };
}

const three = [m(1), m(2), m(3)];
const allUp = { 2: 60_000, 3: 60_000 };
const url = 'http://127.0.0.1:9999';

test('MemberAdd', () => {
  const cases: [string, ReconfigView, string[], boolean, string | undefined][] = [
    ['healthy cluster, voter', view(three, allUp), [url], false, undefined],
    ['bad URL first, even if it exists', view(three, allUp), ['not a url'], false, 'memberBadURLs'],
    ['no URL', view(three, allUp), [], false, 'memberBadURLs'],
    ['URL with a path', view(three, allUp), [`${url}/x`], false, 'memberBadURLs'],
    ['existing peer URL', view(three, allUp), [m(2).peerUrls[0]!], false, 'peerURLExist'],
    ['second learner', view([...three, m(4, true)], allUp), [url], true, 'tooManyLearners'],
    [
      'two of three started cannot add a fourth voter',
      view(three, { 2: 60_000 }),
      [url],
      false,
      'memberNotEnoughStarted',
    ],
    ['only self up', view(three, {}), [url], false, 'memberNotEnoughStarted'],
    ['lone member may add a second', view([m(1)], {}), [url], false, undefined],
    [
      'a link up for less than 5 s: unhealthy',
      view(three, { 2: 60_000, 3: 1000 }),
      [url],
      false,
      'unhealthy',
    ],
    [
      'learner on an unhealthy cluster: unhealthy',
      view(three, { 2: 60_000, 3: 1000 }),
      [url],
      true,
      'unhealthy',
    ],
    ['not strict: no quorum checks', view(three, {}, false), [url], false, undefined],
  ];
  for (const [name, v, urls, learner, want] of cases) assert.equal(checkAdd(v, urls, learner), want, name);
});

test('MemberRemove', () => {
  const cases: [string, ReconfigView, number, string | undefined][] = [
    ['unknown member', view(three, allUp), 9, 'memberNotFound'],
    ['healthy cluster', view(three, allUp), 3, undefined],
    ['removing a member that is down', view(three, { 2: 60_000 }), 3, undefined],
    ['removing an up member leaves too few started', view(three, { 2: 60_000 }), 2, 'memberNotEnoughStarted'],
    [
      'one fresh link of four: still safe',
      view([...three, m(4)], { 2: 60_000, 3: 1000, 4: 60_000 }),
      2,
      undefined,
    ],
    [
      'two fresh links of four: unhealthy',
      view([...three, m(4)], { 2: 60_000, 3: 1000, 4: 1000 }),
      2,
      'unhealthy',
    ],
    ['a learner always', view([...three, m(4, true)], {}), 4, undefined],
    ['not strict', view(three, {}, false), 2, undefined],
  ];
  for (const [name, v, id, want] of cases) assert.equal(checkRemove(v, BigInt(id)), want, name);
});

test('MemberUpdate and MemberPromote', () => {
  assert.equal(checkUpdate(view(three, allUp), 9n, [url]), 'memberNotFound');
  assert.equal(checkUpdate(view(three, allUp), 2n, ['bad']), 'memberBadURLs');
  assert.equal(checkUpdate(view(three, allUp), 2n, m(3).peerUrls), 'peerURLExist');
  assert.equal(checkUpdate(view(three, allUp), 2n, m(2).peerUrls), undefined, 'its own URL again');
  assert.equal(checkPromote(view(three, allUp), 9n), 'memberNotFound');
  assert.equal(checkPromote(view(three, allUp), 2n), 'memberNotLearner');
  assert.equal(checkPromote(view([...three, m(4, true)], allUp), 4n), undefined);
  assert.equal(learnerReady(100, 90), true);
  assert.equal(learnerReady(100, 89), false);
});
