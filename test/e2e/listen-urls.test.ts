/**
 * Goal: unix:// client and peer URLs and more than one --listen-peer-urls work as in etcd 3.4.
 * Method: the same two-member cluster given to real etcd and to tsetcd, in a fresh working
 * directory: peers reach each other over unix sockets (unix://NAME is the socket file NAME in the
 * working directory), m1 also listens for peers on a TCP port, and m1's clients use a unix socket
 * besides TCP. A put through m1's unix socket must be read through m2, the second peer URL of m1
 * must answer the peer API (/members), and both members must list each other's unix URLs.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { etcdctl } from '../helpers/etcdctl.js';
import { commandFor, isHealthy, type MemberKind } from '../helpers/member.js';
import { freePort, killAndWait, onProcessExit, tempDir, waitFor } from '../helpers/util.js';

const procs: ChildProcess[] = [];
const dirs: { remove(): void }[] = [];
after(async () => {
  await killAndWait(procs);
  for (const d of dirs) d.remove();
});

for (const kind of ['etcd', 'tsetcd'] as MemberKind[]) {
  test(`${kind}: unix peer and client URLs, two peer listen URLs`, async () => {
    const dir = tempDir(`tsetcd-listen-${kind}-`);
    dirs.push(dir);
    const c1 = await freePort();
    const c2 = await freePort();
    const p1tcp = await freePort();
    const cluster = 'm1=unix://m1.peer:1,m2=unix://m2.peer:2';
    const outs: string[] = [];
    const start = (name: string, flags: string[]) => {
      const { cmd, pre } = commandFor(kind);
      const child = spawn(
        cmd,
        [...pre, `--name=${name}`, `--data-dir=${name}.etcd`, `--initial-cluster=${cluster}`, ...flags],
        { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      procs.push(child);
      onProcessExit(() => child.kill('SIGKILL'));
      let out = '';
      outs.push('');
      const i = outs.length - 1;
      child.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
        outs[i] = out.slice(-3000);
      });
    };
    start('m1', [
      `--listen-client-urls=http://127.0.0.1:${c1},unix://m1.client:1`,
      `--advertise-client-urls=http://127.0.0.1:${c1}`,
      `--listen-peer-urls=unix://m1.peer:1,http://127.0.0.1:${p1tcp}`,
      '--initial-advertise-peer-urls=unix://m1.peer:1',
    ]);
    start('m2', [
      `--listen-client-urls=http://127.0.0.1:${c2}`,
      `--advertise-client-urls=http://127.0.0.1:${c2}`,
      '--listen-peer-urls=unix://m2.peer:2',
      '--initial-advertise-peer-urls=unix://m2.peer:2',
    ]);
    for (const c of [c1, c2]) {
      await waitFor(() => isHealthy(`http://127.0.0.1:${c}`), {
        timeoutMs: 20_000,
        what: `${kind} :${c} healthy`,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n${outs.join('\n---\n')}`);
      });
    }
    const sock = `unix://${join(dir.path, 'm1.client:1')}`;
    const put = await etcdctl(sock, ['put', 'k', 'over-unix']);
    assert.equal(put.code, 0, put.stderr);
    const get = await etcdctl(`127.0.0.1:${c2}`, ['get', 'k', '--print-value-only']);
    assert.equal(get.stdout.trim(), 'over-unix', get.stderr);
    const members = await fetch(`http://127.0.0.1:${p1tcp}/members`);
    assert.equal(members.status, 200);
    const list = await etcdctl(`127.0.0.1:${c2}`, ['member', 'list']);
    assert.match(list.stdout, /, started, m1, unix:\/\/m1\.peer:1, /);
    assert.match(list.stdout, /, started, m2, unix:\/\/m2\.peer:2, /);
  });
}
