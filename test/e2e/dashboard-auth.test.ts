/**
 * Goal: the dashboard respects auth: it sees what its --user may see and nothing without one.
 * Method: one tsetcd member with auth enabled (root, and a user `u` allowed only under `p/`); three
 * dashboards started in-process as root, as `u`, and without a user; their JSON API asked for the
 * key tree and a key, the answers compared with what etcd's permission rules allow.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { type RunningDashboard, startDashboard } from '../../src/dashboard/index.js';
import { startMember } from '../helpers/index.js';

const b64url = (s: string) => Buffer.from(s).toString('base64url');

test('dashboard: auth applies as for any client', { timeout: 60_000 }, async (t) => {
  const m = await startMember('tsetcd', { t, extraFlags: ['--bcrypt-cost', '4'] });
  const ep = m.clientURL.replace(/^http:\/\//, '');
  const admin = new Client({ endpoints: [ep] });
  t.after(() => admin.close());
  await admin.kv.put('p/a', '1');
  await admin.kv.put('secret', 'x');
  await admin.auth.userAdd('root', 'rootpw');
  await admin.auth.userGrantRole('root', 'root');
  await admin.auth.userAdd('u', 'upw');
  await admin.auth.roleAdd('r');
  await admin.auth.roleGrantPermission('r', 'read', 'p/', 'p0');
  await admin.auth.userGrantRole('u', 'r');
  await admin.auth.enable();

  const dashboards: RunningDashboard[] = [];
  t.after(async () => {
    for (const d of dashboards) await d.close();
  });
  const start = async (auth?: { user: string; password: string }) => {
    const d = await startDashboard({
      client: { endpoints: [ep], callTimeoutMs: 5000, ...(auth ? { auth } : {}) },
      listen: 'http://127.0.0.1:0',
      writesEnabled: false,
      pollIntervalMs: 1000,
    });
    dashboards.push(d);
    return async (path: string) => {
      const r = await fetch(new URL(path, d.url));
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
  };
  const asRoot = await start({ user: 'root', password: 'rootpw' });
  const asU = await start({ user: 'u', password: 'upw' });
  const anonymous = await start();

  const root = await asRoot(`api/keys?prefix=${b64url('')}`);
  assert.equal(root.status, 200);
  assert.deepEqual(
    (root.body.entries as { key: string }[]).map((e) => e.key),
    ['p/', 'secret'],
  );
  const mine = await asU(`api/keys?prefix=${b64url('p/')}`);
  assert.equal(mine.status, 200);
  assert.deepEqual(
    (mine.body.entries as { key: string }[]).map((e) => e.key),
    ['p/a'],
  );
  assert.deepEqual(await asU(`api/key?key=${b64url('secret')}`), {
    status: 403,
    body: { error: 'etcdserver: permission denied' },
  });
  assert.deepEqual(await anonymous(`api/keys?prefix=${b64url('p/')}`), {
    status: 401,
    body: { error: 'etcdserver: user name is empty' },
  });
});
