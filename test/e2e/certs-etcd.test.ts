/**
 * Goal: certificates from `tsetcd certs` are good enough for real etcd 3.4, as seed 002 uses them.
 * Method: seed 002's flow (a CA, one "kubernetes"-profile certificate for every member IP) through
 * the CLI; then real etcd serves client and peer TLS with mutual authentication
 * (--client-cert-auth, --peer-client-cert-auth) with those files, first one member, then two
 * members joined over peer TLS; `etcdctl --cacert --cert --key endpoint health` must succeed on
 * each, a put on one member must be read on the other, and etcdctl without a client certificate
 * must be refused (so TLS really is in force).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdctl } from '../helpers/etcdctl.js';
import {
  collectOutput,
  freePort,
  killAndWait,
  onProcessExit,
  repoRoot,
  type TempDir,
  tempDir,
  waitFor,
} from '../helpers/util.js';

const CA_CONFIG = JSON.stringify({
  signing: {
    default: { expiry: '87600h' },
    profiles: {
      kubernetes: { usages: ['signing', 'key encipherment', 'server auth', 'client auth'], expiry: '87600h' },
    },
  },
});
const CA_CSR = JSON.stringify({
  CN: 'test-ca',
  key: { algo: 'rsa', size: 2048 },
  names: [{ C: 'KR', O: 'k8s' }],
});
const ETCD_CSR = JSON.stringify({
  CN: 'etcd',
  hosts: ['127.0.0.1', 'localhost'],
  key: { algo: 'rsa', size: 2048 },
  names: [{ C: 'KR', ST: 'Seoul', L: 'Seoul', O: 'k8s', OU: 'bare-k8s' }],
});

/** How long an etcd member may take to answer `endpoint health` over TLS. */
const HEALTH_TIMEOUT_MS = 20_000;

let dir: TempDir;
const procs: ChildProcess[] = [];

function tsetcdCerts(args: string[]): void {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'tsetcd.js'), 'certs', ...args], {
    cwd: dir.path,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
}

function tlsArgs(): string[] {
  return [
    `--cacert=${join(dir.path, 'ca.pem')}`,
    `--cert=${join(dir.path, 'etcd.pem')}`,
    `--key=${join(dir.path, 'etcd-key.pem')}`,
  ];
}

interface EtcdNode {
  name: string;
  client: string;
  peer: string;
  out: () => string;
}

async function nodesFor(names: string[]): Promise<EtcdNode[]> {
  const out: EtcdNode[] = [];
  for (const name of names) {
    out.push({
      name,
      client: `https://127.0.0.1:${await freePort()}`,
      peer: `https://127.0.0.1:${await freePort()}`,
      out: () => '',
    });
  }
  return out;
}

/** Starts real etcd with seed 002's TLS flags for `node` of `cluster`. */
function startEtcd(node: EtcdNode, cluster: EtcdNode[]): void {
  const cert = join(dir.path, 'etcd.pem');
  const key = join(dir.path, 'etcd-key.pem');
  const ca = join(dir.path, 'ca.pem');
  const child = spawn(
    process.env.ETCD_BIN ?? 'etcd',
    [
      `--name=${node.name}`,
      `--data-dir=${join(dir.path, `${node.name}.etcd`)}`,
      `--cert-file=${cert}`,
      `--key-file=${key}`,
      `--trusted-ca-file=${ca}`,
      `--peer-cert-file=${cert}`,
      `--peer-key-file=${key}`,
      `--peer-trusted-ca-file=${ca}`,
      '--peer-client-cert-auth',
      '--client-cert-auth',
      `--listen-peer-urls=${node.peer}`,
      `--initial-advertise-peer-urls=${node.peer}`,
      `--listen-client-urls=${node.client}`,
      `--advertise-client-urls=${node.client}`,
      '--initial-cluster-token=etcd-cluster-0',
      `--initial-cluster=${cluster.map((n) => `${n.name}=${n.peer}`).join(',')}`,
      '--initial-cluster-state=new',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = collectOutput(child);
  node.out = () => log().slice(-4000);
  procs.push(child);
  onProcessExit(() => child.kill('SIGKILL'));
}

async function waitHealthy(node: EtcdNode): Promise<void> {
  await waitFor(
    async () => {
      const r = await etcdctl(
        node.client,
        [...tlsArgs(), '--dial-timeout=1s', '--command-timeout=2s', 'endpoint', 'health'],
        {
          timeoutMs: 5_000,
        },
      );
      // etcdctl 3.4 prints the health line on stderr.
      return r.code === 0 && `${r.stdout}${r.stderr}`.includes('is healthy');
    },
    { timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: 200, what: `etcd ${node.name} healthy over TLS` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- etcd ${node.name} ---\n${node.out()}`);
  });
}

async function stopAll(): Promise<void> {
  await killAndWait(procs.splice(0));
}

describe('real etcd 3.4 serving TLS with tsetcd certs output', () => {
  before(() => {
    dir = tempDir('tsetcd-certs-etcd-');
    writeFileSync(join(dir.path, 'ca-config.json'), CA_CONFIG);
    writeFileSync(join(dir.path, 'ca-csr.json'), CA_CSR);
    writeFileSync(join(dir.path, 'etcd-csr.json'), ETCD_CSR);
    tsetcdCerts(['gencert', '-initca', 'ca-csr.json']);
    tsetcdCerts([
      'gencert',
      '-ca=ca.pem',
      '-ca-key=ca-key.pem',
      '-config=ca-config.json',
      '-profile=kubernetes',
      'etcd-csr.json',
    ]);
  });
  after(async () => {
    await stopAll();
    dir.remove();
  });

  it('one member: client and peer mTLS; endpoint health with the files, refused without a client cert', async () => {
    const [n] = await nodesFor(['one']);
    assert.ok(n);
    startEtcd(n, [n]);
    await waitHealthy(n);
    const health = await etcdctl(n.client, [...tlsArgs(), 'endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stderr, new RegExp(`^${n.client} is healthy: successfully committed proposal`));
    const noCert = await etcdctl(n.client, [
      `--cacert=${join(dir.path, 'ca.pem')}`,
      '--dial-timeout=2s',
      '--command-timeout=2s',
      'endpoint',
      'health',
    ]);
    assert.notEqual(
      noCert.code,
      0,
      'etcd must refuse a client without a certificate under --client-cert-auth',
    );
    await stopAll();
  });

  it('two members joined over peer TLS: both healthy, a put on one is read on the other', async () => {
    const nodes = await nodesFor(['k8s-01', 'k8s-02']);
    const [a, b] = nodes;
    assert.ok(a && b);
    for (const n of nodes) startEtcd(n, nodes);
    await Promise.all(nodes.map((n) => waitHealthy(n)));
    const put = await etcdctl(a.client, [...tlsArgs(), 'put', 'seed', '002']);
    assert.equal(put.code, 0, put.stderr);
    const get = await etcdctl(b.client, [...tlsArgs(), 'get', 'seed', '--print-value-only']);
    assert.equal(get.stdout.trim(), '002', get.stderr);
    const status = await etcdctl(`${a.client},${b.client}`, [
      ...tlsArgs(),
      'endpoint',
      'status',
      '-w',
      'json',
    ]);
    const leaders = (
      JSON.parse(status.stdout) as { Status: { header: { member_id: number }; leader: number } }[]
    ).filter((s) => s.Status.header.member_id === s.Status.leader);
    assert.equal(leaders.length, 1, status.stdout);
    await stopAll();
  });
});
