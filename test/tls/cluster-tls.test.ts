// Goal: seed 002's cluster works with tsetcd: three members started with the seed unit's TLS
// flags (--cert-file --key-file --trusted-ca-file --peer-cert-file --peer-key-file
// --peer-trusted-ca-file --peer-client-cert-auth --client-cert-auth, https:// client and peer URLs,
// --wal-dir, the seed's tuning flags), then what the seed checks with etcdctl --cacert --cert --key:
// `endpoint health` on each, `endpoint status` shows one leader; a put through one member is read
// through another, a lease is granted through a follower (forwarded to the leader over the https
// peer port), and a killed member restarts and catches up.
// Method: three tsetcd processes on free ports with openssl-made certificates (one per member,
// usable as server and client as in the seed); etcdctl 3.4; waits poll with deadlines.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandFor, etcdctl, freePort, tempDir, waitFor } from '../helpers/index.js';
import { makeCa } from '../helpers/tls-certs.js';

interface Proc {
  name: string;
  args: string[];
  child?: ChildProcess;
  out: string;
  client: string;
}

function spawnMember(p: Proc): void {
  const { cmd, pre } = commandFor('tsetcd');
  const child = spawn(cmd, [...pre, ...p.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => {
    p.out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    p.out += c.toString();
  });
  p.child = child;
}

async function stopMember(p: Proc): Promise<void> {
  const c = p.child;
  if (!c || c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

test('seed 002: a three-member cluster with client and peer mTLS', async (t) => {
  const dir = tempDir('tsetcd-seed002-');
  t.after(() => dir.remove());
  const ca = makeCa(dir.path, 'ca');
  const client = ca.issue('etcdctl', { usage: 'client' });
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ['k8s-01', 'k8s-02', 'k8s-03'];
  const peerUrl = (i: number) => `https://127.0.0.1:${ports[2 * i + 1]}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const procs: Proc[] = names.map((name, i) => {
    const cert = ca.issue(`etcd-${i}`, { cn: 'etcd', usage: 'both', keyType: 'rsa' });
    const clientUrl = `https://127.0.0.1:${ports[2 * i]}`;
    return {
      name,
      out: '',
      client: clientUrl,
      args: [
        `--data-dir=${join(dir.path, name, 'data')}`,
        `--wal-dir=${join(dir.path, name, 'wal')}`,
        `--name=${name}`,
        `--cert-file=${cert.cert}`,
        `--key-file=${cert.key}`,
        `--trusted-ca-file=${ca.cert}`,
        `--peer-cert-file=${cert.cert}`,
        `--peer-key-file=${cert.key}`,
        `--peer-trusted-ca-file=${ca.cert}`,
        '--peer-client-cert-auth',
        '--client-cert-auth',
        `--listen-peer-urls=${peerUrl(i)}`,
        `--initial-advertise-peer-urls=${peerUrl(i)}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        '--initial-cluster-token=etcd-cluster-0',
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        '--auto-compaction-mode=periodic',
        '--auto-compaction-retention=1',
        '--max-request-bytes=33554432',
        '--quota-backend-bytes=6442450944',
        '--heartbeat-interval=250',
        '--election-timeout=2000',
      ],
    };
  });
  t.after(async () => {
    for (const p of procs) await stopMember(p);
  });
  for (const p of procs) spawnMember(p);
  const tlsFlags = ['--cacert', ca.cert, '--cert', client.cert, '--key', client.key];
  const ctl = (p: Proc, args: string[]) => etcdctl(p.client, [...tlsFlags, '--dial-timeout', '2s', ...args]);
  const healthy = async (p: Proc) => (await ctl(p, ['endpoint', 'health'])).code === 0;

  for (const p of procs) {
    await waitFor(() => healthy(p), { timeoutMs: 30_000, intervalMs: 200, what: `${p.name} healthy` }).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${p.out.slice(-3000)}`);
      },
    );
    const h = await ctl(p, ['endpoint', 'health']);
    assert.match(
      h.stdout + h.stderr,
      new RegExp(`^${p.client} is healthy: successfully committed proposal: took = `),
    );
  }
  const status = await etcdctl(procs.map((p) => p.client).join(','), [
    ...tlsFlags,
    'endpoint',
    'status',
    '-w',
    'json',
  ]);
  const rows = JSON.parse(status.stdout) as { Status: { leader: number; header: { member_id: number } } }[];
  assert.equal(rows.length, 3);
  const leaders = new Set(rows.map((r) => String(r.Status.leader)));
  assert.equal(leaders.size, 1, 'every member names the same leader');
  const leaderIdx = rows.findIndex((r) => String(r.Status.header.member_id) === [...leaders][0]);
  assert.ok(leaderIdx >= 0, 'one member IS LEADER');
  const follower = procs[(leaderIdx + 1) % 3]!;
  const other = procs[(leaderIdx + 2) % 3]!;

  assert.equal((await ctl(follower, ['put', 'seed', '002'])).stdout.trim(), 'OK');
  assert.equal((await ctl(other, ['get', 'seed', '--print-value-only'])).stdout.trim(), '002');
  const lease = await ctl(follower, ['lease', 'grant', '60']);
  assert.match(lease.stdout, /^lease [0-9a-f]+ granted with TTL\(60s\)/);
  const id = /^lease ([0-9a-f]+)/.exec(lease.stdout)![1]!;
  const ttl = await ctl(other, ['lease', 'timetolive', id]);
  assert.match(ttl.stdout, /granted with TTL\(60s\), remaining\(\d+s\)/);

  // A member killed and restarted rejoins over TLS and catches up.
  await stopMember(other);
  assert.equal((await ctl(follower, ['put', 'while-down', 'yes'])).stdout.trim(), 'OK');
  spawnMember(other);
  await waitFor(() => healthy(other), {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: 'the restarted member healthy',
  });
  await waitFor(
    async () =>
      (await ctl(other, ['get', 'while-down', '--print-value-only', '--consistency=s'])).stdout.trim() ===
      'yes',
    { timeoutMs: 15_000, intervalMs: 100, what: 'the restarted member to catch up' },
  );
});
