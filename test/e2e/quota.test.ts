// Goal: --quota-backend-bytes works as etcd's: writes that would grow the database past the quota
// raise the NOSPACE alarm and are refused with etcd's error, /health turns false and Status lists
// the alarm, deletes and ranges still work, and compact + defragment + disarm restore writes.
// Method: an in-process member with a small quota, a gRPC client, polling with deadlines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { AlarmRequest_AlarmAction, AlarmType } from '../../src/proto/etcdserverpb/rpc.js';
import { b, connect, settle, tempDir, waitFor } from '../helpers/index.js';
import { startInprocServer, testMemberConfig } from '../helpers/inproc.js';

test('NOSPACE: raised past the quota, cleared by compact, defragment and disarm', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir('tsetcd-quota-');
  const quota = 2 * 1024 * 1024;
  const server = await startInprocServer(
    testMemberConfig({
      name: 'q',
      dataDir: dir.path,
      initialClusterToken: 'quota',
      maxRequestBytes: 1 << 20,
      quotaBackendBytes: quota,
    }),
  );
  const { member } = server;
  const c = connect(server.endpoint);
  t.after(async () => {
    c.close();
    await server.stop();
    dir.remove();
  });

  const value = Buffer.alloc(64 * 1024, 1);
  let refused: { code: number; details: string } | undefined;
  for (let i = 0; i < 200 && !refused; i++) {
    const r = await settle(c.kv.put({ key: b(`big/${i % 8}`), value }));
    if (!r.ok) refused = { code: r.code, details: r.details };
  }
  assert.deepEqual(refused, {
    code: status.RESOURCE_EXHAUSTED,
    details: 'etcdserver: mvcc: database space exceeded',
  });
  await waitFor(async () => (await c.maintenance.alarm({})).alarms.length === 1, {
    what: 'the NOSPACE alarm',
  });
  const alarms = (await c.maintenance.alarm({})).alarms;
  assert.deepEqual(alarms, [{ memberID: member.memberId, alarm: AlarmType.NOSPACE }]);
  assert.deepEqual((await c.maintenance.status({})).errors, [`memberID:${member.memberId} alarm:NOSPACE `]);
  assert.equal((await fetch(`http://${server.endpoint}/health`)).status, 503);
  // Refused even when small, while the alarm is on; reads and deletes still work.
  const small = await settle(c.kv.put({ key: b('small'), value: b('x') }));
  assert.equal(small.ok, false);
  assert.equal((await c.kv.range({ key: b('big/0') })).kvs.length, 1);
  await c.kv.deleteRange({ key: b('big/'), rangeEnd: b('big0') });

  // The operator's recovery: compact, defragment, disarm.
  const rev = (await c.kv.range({ key: b('x') })).header!.revision;
  await c.kv.compact({ revision: rev, physical: true });
  const before = (await c.maintenance.status({})).dbSize;
  await c.maintenance.defragment({});
  const after = (await c.maintenance.status({})).dbSize;
  assert.ok(after < before, `defragment shrank the database (${before} -> ${after})`);
  await c.maintenance.alarm({
    action: AlarmRequest_AlarmAction.DEACTIVATE,
    memberID: member.memberId,
    alarm: AlarmType.NOSPACE,
  });
  assert.equal((await c.maintenance.alarm({})).alarms.length, 0);
  assert.equal((await fetch(`http://${server.endpoint}/health`)).status, 200);
  await c.kv.put({ key: b('small'), value: b('x') });
  assert.equal((await c.kv.range({ key: b('small') })).kvs[0]!.value.toString(), 'x');
});
