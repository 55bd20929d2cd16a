/**
 * Goal: the dashboard works against a member that serves clients only over mutual TLS: its gRPC
 * calls and its /metrics scrapes both present the client certificate tsetcdctl's flags name.
 * Method: a CA, a server and a client certificate (openssl); one tsetcd member with --cert-file,
 * --key-file, --trusted-ca-file and --client-cert-auth; the dashboard started in-process with the
 * CA and the client pair; /api/state must show the member reachable and healthy with a leader-change
 * count (read from /metrics over https) and requests per second (two scrapes), and /api/keys must list.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ClusterState, KeysPage } from '../../src/dashboard/api-types.js';
import { startDashboard } from '../../src/dashboard/index.js';
import { startMember, tempDir, waitFor } from '../helpers/index.js';
import { makeCa } from '../helpers/tls-certs.js';

test('dashboard: client TLS for gRPC and for /metrics', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('tsetcd-dashboard-tls-');
  t.after(() => dir.remove());
  const ca = makeCa(dir.path, 'ca');
  const server = ca.issue('server', { hosts: ['127.0.0.1'], usage: 'server' });
  const client = ca.issue('client', { cn: 'dashboard', usage: 'client' });
  const m = await startMember('tsetcd', {
    t,
    clientTls: { ca: ca.cert, cert: client.cert, key: client.key },
    extraFlags: [
      '--cert-file',
      server.cert,
      '--key-file',
      server.key,
      '--trusted-ca-file',
      ca.cert,
      '--client-cert-auth',
    ],
  });
  assert.match(m.clientURL, /^https:/);
  const d = await startDashboard({
    client: {
      endpoints: [m.clientURL],
      callTimeoutMs: 5000,
      tls: { ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) },
    },
    listen: 'http://127.0.0.1:0',
    writesEnabled: false,
    pollIntervalMs: 200,
  });
  t.after(() => d.close());
  const get = async <T>(path: string) => (await (await fetch(new URL(path, d.url))).json()) as T;
  const s = await waitFor(
    async () => {
      const st = await get<ClusterState>('api/state');
      const mem = st.members[0];
      return mem?.reachable && mem.leaderChangesSeen >= 1 && mem.rps > 0 && st;
    },
    { timeoutMs: 20_000, what: 'the member reachable, with /metrics read over https' },
  );
  assert.equal(s.members[0]?.health, 'healthy');
  assert.equal(s.members[0]?.role, 'leader');
  const keys = await get<KeysPage>(`api/keys?prefix=`);
  assert.equal(keys.count, '0');
});
