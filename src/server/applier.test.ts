// Goal: the applier is a synchronous function of (store, entry): each request becomes one write txn
// at the entry's index, a refused request still advances the consistent index, NOSPACE refuses
// writes but not deletes, and lease grants/revokes change the store with the entry. Method: a table
// of InternalRaftRequests applied in index order to a fresh store with its lessor, alarms and member
// table — no driver, timers or transport — each row checking the answer (or the wire error) and the
// store's consistent index after it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MvccStore } from '../mvcc/index.js';
import { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import { AlarmRequest_AlarmAction, AlarmType } from '../proto/etcdserverpb/rpc.js';
import type { Event } from '../proto/mvccpb/kv.js';
import { EtcdError } from '../wire/errors.js';
import { Alarms } from './alarms.js';
import { Applier } from './applier.js';
import { AuthStore, newTokenProvider } from './auth/index.js';
import { openLessor } from './lease-checkpoint.js';
import { silentLogger } from './logger.js';
import { Membership } from './membership.js';

const b = (s: string) => Buffer.from(s);

test('a table of requests applied in index order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-applier-'));
  const store = await MvccStore.open({ dir, sync: false });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const lessor = openLessor(store, {}, 2);
  const alarms = new Alarms(store);
  const membership = new Membership([{ id: 1n, name: 'm1', peerUrls: ['http://127.0.0.1:1'] }], store);
  const events: Event[] = [];
  const auth = new AuthStore(
    store,
    newTokenProvider('simple', { waitApplied: async () => true, authRevision: () => auth.revision }, 300),
  );
  const applier = new Applier({
    auth: () => auth,
    store: () => store,
    lessor: () => lessor,
    alarms: () => alarms,
    membership: () => membership,
    leasePrimary: { apply: () => {} },
    logger: silentLogger,
    onEvents: (e) => events.push(...e),
    onCompaction: (done) => done,
  });
  const noSpace = {
    alarm: { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: 1n, alarm: AlarmType.NOSPACE },
  };
  const clearSpace = {
    alarm: { action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: 1n, alarm: AlarmType.NOSPACE },
  };
  // [what, request, expected: revision of the answer's header, or the wire error's row name]
  const rows: [string, Partial<InternalRaftRequest>, number | string][] = [
    [
      'put',
      {
        put: { key: b('a'), value: b('1'), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false },
      },
      2,
    ],
    [
      'put with a missing lease',
      {
        put: { key: b('b'), value: b('1'), lease: 7n, prevKv: false, ignoreValue: false, ignoreLease: false },
      },
      'leaseNotFound',
    ],
    [
      'put ignore_value, missing key and lease: the lease first',
      { put: { key: b('x'), value: b(''), lease: 7n, prevKv: false, ignoreValue: true, ignoreLease: false } },
      'leaseNotFound',
    ],
    [
      'put ignore_value on a missing key',
      { put: { key: b('x'), value: b(''), lease: 0n, prevKv: false, ignoreValue: true, ignoreLease: false } },
      'keyNotFound',
    ],
    ['grant lease 7', { leaseGrant: { ID: 7n, TTL: 60n } }, 2],
    ['grant lease 7 again', { leaseGrant: { ID: 7n, TTL: 60n } }, 'leaseExist'],
    [
      'put on lease 7',
      {
        put: { key: b('b'), value: b('1'), lease: 7n, prevKv: false, ignoreValue: false, ignoreLease: false },
      },
      3,
    ],
    ['NOSPACE raised', noSpace, -1],
    [
      'put under NOSPACE',
      {
        put: { key: b('c'), value: b('1'), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false },
      },
      'noSpace',
    ],
    ['grant under NOSPACE', { leaseGrant: { ID: 8n, TTL: 60n } }, 'noSpace'],
    ['delete under NOSPACE', { deleteRange: { key: b('a'), rangeEnd: b(''), prevKv: false } }, 4],
    ['NOSPACE cleared', clearSpace, -1],
    ['revoke lease 7 deletes its key in one revision', { leaseRevoke: { ID: 7n } }, 5],
    ['an unknown request', {}, 'notCapable'],
  ];
  let index = 0;
  for (const [what, fields, want] of rows) {
    index++;
    const req = InternalRaftRequest.fromPartial({ ...fields, header: { ID: BigInt(index) } });
    let got: number | string;
    try {
      const r = applier.apply(req, index) as { header?: { revision: bigint } };
      got = r.header ? Number(r.header.revision) : -1;
    } catch (err) {
      assert.ok(err instanceof EtcdError, `${what}: ${String(err)}`);
      got = err.kind;
    }
    assert.equal(got, want, what);
    assert.equal(store.consistentIndex, index, `${what}: the entry is applied even when refused`);
  }
  assert.deepEqual(
    events.map((e) => `${e.type}:${e.kv?.key.toString()}@${e.kv?.modRevision}`),
    ['0:a@2', '0:b@3', '1:a@4', '1:b@5'],
  );
  assert.equal(store.range(b('\0'), b('\0')).count, 0);
});
