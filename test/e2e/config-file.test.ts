/**
 * Goal: `--config-file` works as in etcd 3.4: a member starts from the YAML file alone, and flags
 * given beside it are ignored.
 * Method: the same YAML file (free ports, fresh data dir) given to real etcd 3.4 and to tsetcd, each
 * with a contradicting `--name` on the command line; both must answer /health, and `etcdctl member
 * list` must show the file's name on both.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { etcdctl } from '../helpers/etcdctl.js';
import { commandFor, isHealthy, type MemberKind } from '../helpers/member.js';
import { freePort, killAndWait, onProcessExit, tempDir, waitFor } from '../helpers/util.js';

const dir = tempDir('tsetcd-config-file-');
const procs: ChildProcess[] = [];
after(async () => {
  await killAndWait(procs);
  dir.remove();
});

for (const kind of ['etcd', 'tsetcd'] as MemberKind[]) {
  test(`${kind} starts from a YAML --config-file and ignores other flags`, async () => {
    const c = await freePort();
    const p = await freePort();
    const file = join(dir.path, `${kind}.yml`);
    writeFileSync(
      file,
      `# etcd's configuration file keys
name: from-file
data-dir: ${join(dir.path, `${kind}.etcd`)}
listen-client-urls: http://127.0.0.1:${c}
advertise-client-urls: http://127.0.0.1:${c}
listen-peer-urls: http://127.0.0.1:${p}
initial-advertise-peer-urls: http://127.0.0.1:${p}
initial-cluster: from-file=http://127.0.0.1:${p}
initial-cluster-token: cfg-test
initial-cluster-state: new
heartbeat-interval: 100
election-timeout: 1000
client-transport-security:
  client-cert-auth: false
peer-transport-security:
  auto-tls: false
`,
    );
    const { cmd, pre } = commandFor(kind);
    const child = spawn(cmd, [...pre, '--config-file', file, '--name', 'from-flag'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(child);
    onProcessExit(() => child.kill('SIGKILL'));
    let out = '';
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => isHealthy(`http://127.0.0.1:${c}`), {
      timeoutMs: 20_000,
      what: `${kind} healthy`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${out.slice(-3000)}`);
    });
    const list = await etcdctl(`127.0.0.1:${c}`, ['member', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(`, started, from-file, http://127.0.0.1:${p}, http://127.0.0.1:${c}, false`),
    );
  });
}
