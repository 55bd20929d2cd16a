// Goal: the corruption checks decide as etcd 3.4's corrupt.go does, case by case. Method: a
// CorruptChecker over a fake host (its own hashes scripted, peers answered by a fake GET), a table
// of peer answers with the verdict etcd gives: the leader's periodic pass raises CORRUPT (once per
// pass) or not, and the initial check throws etcd's error or passes. Also the JSON shapes of the
// peer endpoint. Checked to fail: swapping the compact-revision condition of the hash comparison
// (`===` to `!==`) fails the "same compact revision" and "different compact revision" rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../pkg/clock.js';
import {
  CorruptChecker,
  CorruptionError,
  goDuration,
  hashKvResponseJson,
  type KvHash,
  parseHashKvRequest,
} from './corrupt-check.js';
import type { Logger } from './logger.js';

const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

type Answer = { status: number; text: string } | Error;

function checker(mine: KvHash[], answers: Answer[]) {
  let raised = 0;
  let call = 0;
  const c = new CorruptChecker({
    cfg: {
      requestTimeoutMs: 1000,
      clock: new ManualClock(),
      initialCorruptCheck: true,
      corruptCheckTimeMs: 0,
    },
    logger: silent,
    memberId: 1n,
    clusterId: 9n,
    hashByRev: async () => mine[Math.min(call++, mine.length - 1)]!,
    members: () => [
      { id: 1n, peerUrls: ['http://a'] },
      ...answers.map((_, i) => ({ id: BigInt(i + 2), peerUrls: [`http://p${i}`] })),
    ],
    isLeader: () => true,
    stopped: () => false,
    readBarrier: async () => {},
    raiseCorruptAlarm: async () => {
      raised++;
    },
    peerGet: async (url) => {
      const a = answers[Number(/p(\d+)/.exec(url)![1])]!;
      if (a instanceof Error) throw a;
      return a;
    },
  });
  return { c, raised: () => raised };
}

const ok = (revision: number, hash: number, compactRevision: number): Answer => ({
  status: 200,
  text: hashKvResponseJson({ revision, hash, compactRevision }),
});
const h = (revision: number, hash: number, compactRevision: number): KvHash => ({
  revision,
  hash,
  compactRevision,
});

test('the leader raises CORRUPT as etcd 3.4 decides', async () => {
  const rows: { name: string; mine: KvHash[]; peers: Answer[]; alarms: number }[] = [
    { name: 'all equal', mine: [h(10, 7, 2)], peers: [ok(10, 7, 2), ok(10, 7, 2)], alarms: 0 },
    { name: 'same compact revision, other hash', mine: [h(10, 7, 2)], peers: [ok(10, 8, 2)], alarms: 1 },
    { name: 'different compact revision, other hash', mine: [h(10, 7, 2)], peers: [ok(10, 8, 1)], alarms: 0 },
    { name: 'follower ahead in revision', mine: [h(10, 7, 2)], peers: [ok(11, 7, 2)], alarms: 1 },
    { name: 'follower ahead in compact revision', mine: [h(10, 7, 2)], peers: [ok(10, 9, 3)], alarms: 1 },
    {
      name: 'two bad peers: one alarm per pass',
      mine: [h(10, 7, 2)],
      peers: [ok(10, 8, 2), ok(10, 9, 2)],
      alarms: 1,
    },
    { name: 'own hash changed at the same revision', mine: [h(10, 7, 2), h(10, 6, 2)], peers: [], alarms: 1 },
    { name: 'own revision moved on', mine: [h(10, 7, 2), h(11, 6, 2)], peers: [], alarms: 0 },
    {
      name: 'unreachable and compacted peers are skipped',
      mine: [h(10, 7, 2)],
      peers: [
        new Error('ECONNREFUSED'),
        { status: 400, text: 'mvcc: required revision has been compacted\n' },
      ],
      alarms: 0,
    },
  ];
  for (const r of rows) {
    const { c, raised } = checker(r.mine, r.peers);
    await c.checkHashKV();
    assert.equal(raised(), r.alarms, r.name);
  }
});

test('the initial check refuses with etcd error text, or passes', async () => {
  const bad = checker([h(10, 7, 2)], [ok(10, 7, 2), ok(12, 8, 2)]);
  await assert.rejects(
    bad.c.checkInitial(),
    (e: unknown) => e instanceof CorruptionError && e.message === '1 found data inconsistency with peers',
  );
  for (const peers of [
    [ok(10, 7, 2)],
    [ok(10, 8, 1)], // another compact revision: cannot compare
    [{ status: 400, text: 'mvcc: required revision is a future revision\n' }],
    [new Error('ECONNREFUSED')],
  ]) {
    await checker([h(10, 7, 2)], peers).c.checkInitial();
  }
});

test('peer endpoint JSON as Go encoding/json writes and reads it', () => {
  assert.equal(
    hashKvResponseJson({ revision: 8, hash: 5, compactRevision: 3 }),
    '{"header":{"revision":8},"hash":5,"compact_revision":3}',
  );
  assert.equal(
    hashKvResponseJson({ revision: 1, hash: 5, compactRevision: 0 }),
    '{"header":{"revision":1},"hash":5}',
  );
  assert.equal(parseHashKvRequest('{"revision":5}'), 5);
  assert.equal(parseHashKvRequest('{}'), 0);
  assert.equal(parseHashKvRequest('null'), 0);
  assert.throws(() => parseHashKvRequest('{"revision":"5"}'));
  assert.throws(() => parseHashKvRequest('{"revision":'));
  assert.deepEqual([250, 1000, 1500, 11_000, 60_000, 90_000].map(goDuration), [
    '250ms',
    '1s',
    '1.5s',
    '11s',
    '1m0s',
    '1m30s',
  ]);
});
