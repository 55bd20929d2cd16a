// Goal: `tsetcd gateway start` is etcd's `etcd gateway start`: etcdctl reaches a cluster through it
// (etcd's own e2e TestGateway does exactly a put), a killed member is skipped, and its start-up and
// refusal texts are etcd's (compared with real `etcd gateway` given the same arguments).
// Method: a 3-member tsetcd cluster as processes; the gateway as a process on a free port.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { endpoints, kill, type Proc, planCluster, startAll, stopAll } from '../helpers/cluster.js';
import { etcdctl, runCommand, tsetcdCli } from '../helpers/etcdctl.js';
import {
  collectOutput,
  freePort,
  haveCommand,
  killAndWait,
  repoRoot,
  tempDir,
  waitFor,
} from '../helpers/util.js';

const dir = tempDir('tsetcd-gateway-');
let procs: Proc[] = [];
const gateways: ChildProcess[] = [];

function startGateway(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'tsetcd.js'), 'gateway', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateways.push(child);
  return { child, out: collectOutput(child) };
}

before(async () => {
  procs = await planCluster(dir.path, 3, { token: 'gateway-test' });
  await startAll(procs);
});
after(async () => {
  await killAndWait(gateways);
  await stopAll(procs);
  dir.remove();
});

describe('tsetcd gateway', () => {
  it('proxies etcdctl to the cluster, and skips a killed member', async () => {
    const port = await freePort();
    // etcd's e2e test puts --endpoints before the subcommand; cobra takes flags anywhere.
    const gw = startGateway([`--endpoints=${endpoints(procs)}`, 'start', `--listen-addr=127.0.0.1:${port}`]);
    await waitFor(() => gw.out().includes('"msg":"ready to proxy client requests"'), { timeoutMs: 15_000 });
    const line = JSON.parse(
      gw
        .out()
        .split('\n')
        .find((l) => l.includes('ready to proxy')) ?? '{}',
    );
    assert.deepEqual(
      line.endpoints,
      procs.map((p) => p.client),
    );
    const ep = `127.0.0.1:${port}`;
    const put = await etcdctl(ep, ['put', 'foo', 'bar']);
    assert.equal(put.stdout, 'OK\n', put.stderr);
    await kill(procs[0]!);
    // Every new connection lands on a live member: the dead one is dialled once, then set aside.
    for (let i = 0; i < 6; i++) {
      const got = await etcdctl(ep, ['get', 'foo', '--print-value-only', '--consistency=s']);
      assert.equal(got.stdout, 'bar\n', got.stderr);
    }
    const warn = gw
      .out()
      .split('\n')
      .find((l) => l.includes('"msg":"deactivated endpoint"'));
    assert.equal(JSON.parse(warn ?? '{}').address, procs[0]!.client);
  });

  it('refuses an endpoint that is its own listen address, with etcd`s text', async () => {
    const args = ['start', '--endpoints=127.0.0.1:23790'];
    const ours = await tsetcdCli(['gateway', ...args]);
    assert.equal(ours.code, 1);
    const text =
      'SRV or endpoint (127.0.0.1:23790->127.0.0.1:23790) should not resolve to the gateway listen addr (127.0.0.1:23790)\n';
    assert.equal(ours.stdout, text);
    if (haveCommand('etcd')) {
      const theirs = await runCommand('etcd', ['gateway', ...args]);
      assert.equal(theirs.stdout, text, 'etcd 3.4 says it this way');
    }
  });

  it('prints etcd`s help for gateway and gateway start', async (t) => {
    if (!haveCommand('etcd')) return t.skip('etcd 3.4 not installed');
    for (const args of [
      ['gateway', '--help'],
      ['gateway', 'start', '--help'],
    ]) {
      const ours = await tsetcdCli(args);
      const theirs = await runCommand('etcd', args);
      assert.equal(ours.stdout.replaceAll('tsetcd', 'etcd'), theirs.stdout + theirs.stderr);
    }
  });
});
