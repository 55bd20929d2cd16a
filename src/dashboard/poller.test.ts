/**
 * Goal: the poller turns what members report into the page's picture: roles from Status's leader,
 * the leader the highest term agrees on, a timeline of leader changes, elections and members going
 * down and up, alarms in health, and requests per second from /metrics.
 * Method: a fake `PollerHost` (members, Status answers and /metrics text set by the test) on a
 * ManualClock; polls driven by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../pkg/index.js';
import { AlarmType, type StatusResponse } from '../proto/etcdserverpb/rpc.js';
import { ClusterPoller, type PollerHost } from './poller.js';

function status(leader: bigint, term: bigint): StatusResponse {
  return {
    header: { clusterId: 9n, memberId: 0n, revision: 42n, raftTerm: term },
    version: '3.4.23',
    dbSize: 1000n,
    leader,
    raftIndex: 10n,
    raftTerm: term,
    raftAppliedIndex: 10n,
    errors: [],
    dbSizeInUse: 800n,
    isLearner: false,
    storageVersion: '',
    dbSizeQuota: 0n,
    downgradeInfo: undefined,
  };
}

function metrics(puts: number): string {
  return `grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"} ${puts}\n`;
}

test('roles, leader changes, members down and up, alarms and rates', async () => {
  const clock = new ManualClock();
  const up = new Map([
    ['u1', true],
    ['u2', true],
    ['u3', true],
  ]);
  let leader = 1n;
  let term = 2n;
  let puts = 0;
  let alarms: { memberID: bigint; alarm: AlarmType }[] = [];
  const host: PollerHost = {
    clock,
    members: async () => ({
      clusterId: 9n,
      members: [1n, 2n, 3n].map((id) => ({
        ID: id,
        name: `m${id}`,
        peerURLs: [],
        clientURLs: [`u${id}`],
        isLearner: false,
      })),
    }),
    status: async (url) => {
      if (!up.get(url)) throw new Error('connection refused');
      return status(leader, term);
    },
    alarms: async () => alarms,
    scrape: async (url) => {
      if (!up.get(url)) throw new Error('connection refused');
      return metrics(url === 'u1' ? puts : 0);
    },
  };
  const p = new ClusterPoller(host, false);
  await p.poll();
  let s = p.current();
  assert.equal(s.leader, '1');
  assert.equal(s.revision, '42');
  assert.deepEqual(
    s.members.map((m) => m.role),
    ['leader', 'follower', 'follower'],
  );
  assert.deepEqual(
    s.timeline.map((e) => e.kind),
    ['leader'],
  );

  clock.advance(1000);
  puts = 50;
  await p.poll();
  s = p.current();
  assert.equal(s.members[0]?.rps, 50);
  assert.deepEqual(s.members[0]?.rpsByMethod, { Put: 50 });
  assert.equal(s.series.t.length, 2);
  assert.deepEqual(s.series.byMember['1'], [0, 50]);

  // The leader dies; m2 wins term 3.
  up.set('u1', false);
  leader = 2n;
  term = 3n;
  clock.advance(1000);
  await p.poll();
  s = p.current();
  assert.equal(s.leader, '2');
  assert.equal(s.members[0]?.role, 'unknown');
  assert.match(s.members[0]?.health ?? '', /^unreachable: connection refused/);
  assert.deepEqual(
    s.timeline.map((e) => e.kind),
    ['leader', 'member-down', 'leader'],
  );

  // Same leader, new term: an election it won again. m1 comes back. A NOSPACE alarm on m3.
  up.set('u1', true);
  term = 4n;
  alarms = [{ memberID: 3n, alarm: AlarmType.NOSPACE }];
  clock.advance(1000);
  await p.poll();
  s = p.current();
  assert.deepEqual(
    s.timeline.map((e) => e.kind),
    ['leader', 'member-down', 'leader', 'member-up', 'election'],
  );
  assert.equal(s.members[2]?.health, 'alarm: NOSPACE');
  assert.deepEqual(s.members[2]?.alarms, ['NOSPACE']);
});
