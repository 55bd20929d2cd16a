// Goal: the etcd 3.5/3.6 additions seed 002's tooling reads: /livez and /readyz in etcd 3.5's
// shapes (plain "ok", ?verbose lines, ?exclude and ?allowlist, per-check paths, a failing check
// under a CORRUPT alarm) and StatusResponse's 3.6 fields (storage_version, db_size_quota,
// downgrade_info; db_size_in_use was there already). Method: one tsetcd process; HTTP with fetch,
// Status and Alarm over gRPC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlarmRequest_AlarmAction, AlarmType } from '../../src/proto/etcdserverpb/rpc.js';
import { connect, startMember } from '../helpers/index.js';

async function get(base: string, path: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
}

test('livez/readyz (etcd 3.5 shapes) and Status 3.6 fields', async (t) => {
  const m = await startMember('tsetcd', { t, extraFlags: ['--quota-backend-bytes', '123456789'] });
  const u = m.clientURL;
  assert.deepEqual(await get(u, '/livez'), { status: 200, body: 'ok', type: 'text/plain; charset=utf-8' });
  assert.equal(
    (await get(u, '/livez?verbose')).body,
    '[+]ping ok\n[+]serializable_read ok\nlivez check passed\n',
  );
  assert.equal(
    (await get(u, '/readyz?verbose')).body,
    '[+]ping ok\n[+]serializable_read ok\n[+]data_corruption ok\nreadyz check passed\n',
  );
  assert.equal(
    (await get(u, '/readyz?verbose&exclude=data_corruption&exclude=nope')).body,
    '[+]ping ok\n[+]serializable_read ok\n[+]data_corruption excluded: ok\n' +
      'warn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n',
  );
  assert.equal(
    (await get(u, '/readyz?allowlist=ping&verbose')).body,
    '[+]ping ok\n[+]serializable_read not included: ok\n[+]data_corruption not included: ok\nreadyz check passed\n',
  );
  assert.deepEqual(await get(u, '/readyz?allowlist=ping&exclude=x'), {
    status: 400,
    body: 'do not expect both allowlist and exclude to be specified in the query allowlist=ping&exclude=x\n',
    type: 'text/plain; charset=utf-8',
  });
  assert.equal((await get(u, '/livez/serializable_read')).body, 'ok');
  assert.equal((await get(u, '/livez/data_corruption')).status, 404, 'not a livez check');

  const c = connect(m.endpoint);
  t.after(() => c.close());
  const st = await c.maintenance.status({});
  assert.equal(st.storageVersion, '3.4.0');
  assert.equal(st.dbSizeQuota, 123456789n);
  assert.deepEqual(st.downgradeInfo, { enabled: false, targetVersion: '' });
  assert.ok(st.dbSizeInUse > 0n && st.dbSizeInUse <= st.dbSize);

  await c.maintenance.alarm({
    action: AlarmRequest_AlarmAction.ACTIVATE,
    memberID: st.header!.memberId,
    alarm: AlarmType.CORRUPT,
  });
  assert.deepEqual(await get(u, '/readyz'), {
    status: 500,
    body: '[+]ping ok\n[+]serializable_read ok\n[-]data_corruption failed: reason withheld\nreadyz check failed\n',
    type: 'text/plain; charset=utf-8',
  });
  assert.deepEqual(await get(u, '/readyz/data_corruption'), {
    status: 500,
    body: 'internal server error: Alarm active:CORRUPT\n',
    type: 'text/plain; charset=utf-8',
  });
  assert.equal((await get(u, '/readyz?exclude=data_corruption')).body, 'ok');
  assert.equal((await get(u, '/livez')).body, 'ok', 'livez ignores the alarm');
});
