/**
 * Goal: under systemd's Type=notify (seed 002's unit), a tsetcd member says READY=1 only once it
 * has joined its cluster and serves clients, attributed to its own pid (systemd's default
 * NotifyAccess=main), and STOPPING=1 when it is stopped.
 * Method: a test-owned NOTIFY_SOCKET (a unix datagram socket; Node has none, so a small python3
 * receiver prints each datagram with the sender pid from SCM_CREDENTIALS). Member m1 of a
 * two-member cluster starts alone: its peer port is up but it has no quorum, and no READY may
 * arrive. Then m2 starts; READY=1 from m1's pid must arrive, and at that moment `etcdctl endpoint
 * health` on m1 must already succeed. SIGTERM then yields STOPPING=1.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { etcdctl } from '../helpers/etcdctl.js';
import {
  collectOutput,
  freePort,
  haveCommand,
  killAndWait,
  onProcessExit,
  repoRoot,
  tempDir,
  waitFor,
} from '../helpers/util.js';

const RECEIVER = `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("bound", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = -1
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    print(pid, msg.decode().replace("\\n", "|"), flush=True)
`;

const dir = tempDir('tsetcd-sdnotify-');
const procs: ChildProcess[] = [];
after(async () => {
  await killAndWait(procs);
  dir.remove();
});

function spawnTracked(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; out: () => string } {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(child);
  onProcessExit(() => child.kill('SIGKILL'));
  return { child, out: collectOutput(child) };
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

test('READY=1 only after joining and serving; STOPPING=1 on SIGTERM', {
  skip: !haveCommand('systemd-notify') || !haveCommand('python3'),
}, async () => {
  const sock = join(dir.path, 'notify.sock');
  writeFileSync(join(dir.path, 'recv.py'), RECEIVER);
  const recv = spawnTracked('python3', [join(dir.path, 'recv.py'), sock], process.env);
  await waitFor(() => recv.out().includes('bound'), { timeoutMs: 10_000, what: 'receiver bound' });

  const ports = { c1: await freePort(), p1: await freePort(), c2: await freePort(), p2: await freePort() };
  const cluster = `m1=http://127.0.0.1:${ports.p1},m2=http://127.0.0.1:${ports.p2}`;
  const member = (name: string, c: number, p: number, env: NodeJS.ProcessEnv) =>
    spawnTracked(
      process.execPath,
      [
        join(repoRoot(), 'bin', 'tsetcd.js'),
        `--name=${name}`,
        `--data-dir=${join(dir.path, name)}`,
        `--listen-client-urls=http://127.0.0.1:${c}`,
        `--advertise-client-urls=http://127.0.0.1:${c}`,
        `--listen-peer-urls=http://127.0.0.1:${p}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${p}`,
        `--initial-cluster=${cluster}`,
      ],
      env,
    );
  const m1 = member('m1', ports.c1, ports.p1, { ...process.env, NOTIFY_SOCKET: sock });
  // m1 is up (its peer port answers) but alone: no quorum, so it has not joined and must not be ready.
  await waitFor(() => tcpOpen(ports.p1), { timeoutMs: 15_000, what: 'm1 peer port' });
  assert.equal(recv.out().includes('READY=1'), false, `READY before joining:\n${recv.out()}`);
  const early = await etcdctl(`127.0.0.1:${ports.c1}`, [
    '--dial-timeout=1s',
    '--command-timeout=1s',
    'endpoint',
    'health',
  ]);
  assert.notEqual(early.code, 0, 'm1 should not serve before it has joined');
  assert.equal(recv.out().includes('READY=1'), false, `READY before joining:\n${recv.out()}`);

  member('m2', ports.c2, ports.p2, { ...process.env, NOTIFY_SOCKET: '' });
  const pid = m1.child.pid;
  await waitFor(() => recv.out().includes(`${pid} MAINPID=${pid}|READY=1`), {
    timeoutMs: 20_000,
    what: `READY=1 from m1 (pid ${pid})`,
  }).catch((err: Error) => {
    throw new Error(`${err.message}\nreceiver:\n${recv.out()}\nm1:\n${m1.out().slice(-3000)}`);
  });
  const health = await etcdctl(`127.0.0.1:${ports.c1}`, ['endpoint', 'health']);
  assert.equal(health.code, 0, `READY=1 arrived but m1 does not answer endpoint health: ${health.stderr}`);

  m1.child.kill('SIGTERM');
  await waitFor(() => recv.out().includes(`${pid} MAINPID=${pid}|STOPPING=1`), {
    timeoutMs: 10_000,
    what: 'STOPPING=1 from m1',
  });
});
