// `npm start`: a local 3-member tsetcd cluster on seed 000's ports, as three etcd processes would be
// started by hand: clients 12379/22379/32379, peers 12380/22380/32380, data under .cluster/ (git
// ignores it). A second start reuses the data (a member with a data dir ignores the bootstrap flags).
// Ctrl-C stops every member cleanly. Each member's structured log goes to .cluster/<name>.log.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dataRoot = join(root, '.cluster');
const host = process.env.TSETCD_HOST ?? '127.0.0.1';
const members = [1, 2, 3].map((i) => ({
  name: `node${i}`,
  client: `http://${host}:${i}2379`,
  peer: `http://${host}:${i}2380`,
}));
const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
const START_TIMEOUT_MS = 30_000;

mkdirSync(dataRoot, { recursive: true });
const reused = members.some((m) => existsSync(join(dataRoot, `${m.name}.etcd`)));

const children = members.map((m) => {
  const log = createWriteStream(join(dataRoot, `${m.name}.log`), { flags: 'a' });
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'tsetcd.js'),
      ...['--name', m.name, '--data-dir', join(dataRoot, `${m.name}.etcd`)],
      ...['--listen-client-urls', m.client, '--advertise-client-urls', m.client],
      ...['--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer],
      ...['--initial-cluster', initialCluster, '--initial-cluster-token', 'tsetcd-local-cluster'],
      ...['--initial-cluster-state', 'new'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${m.name} exited (${signal ?? code}); see ${join('.cluster', `${m.name}.log`)}`);
      stop(1);
    }
  });
  return { ...m, child };
});

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the cluster...');
  let left = children.filter((c) => c.child.exitCode === null).length;
  if (left === 0) process.exit(code);
  for (const c of children) {
    if (c.child.exitCode !== null) continue;
    c.child.once('exit', () => {
      left -= 1;
      if (left === 0) process.exit(code);
    });
    c.child.kill('SIGTERM');
  }
  setTimeout(() => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }, 10_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function healthy(url) {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

const deadline = Date.now() + START_TIMEOUT_MS;
const spinner = ['|', '/', '-', '\\'];
for (let i = 0; ; i++) {
  const states = await Promise.all(members.map((m) => healthy(m.client)));
  if (states.every(Boolean)) break;
  if (stopping) await new Promise(() => {});
  if (Date.now() > deadline) {
    console.error(
      `the cluster did not become healthy within ${START_TIMEOUT_MS / 1000}s; see .cluster/*.log`,
    );
    stop(1);
    await new Promise(() => {});
  }
  if (process.stdout.isTTY)
    process.stdout.write(`\r${spinner[i % 4]} starting ${states.filter(Boolean).length}/3 healthy`);
  await new Promise((r) => setTimeout(r, 200));
}
const endpoints = members.map((m) => m.client.replace('http://', '')).join(',');
console.log(
  `${process.stdout.isTTY ? '\r' : ''}tsetcd local cluster is up (${reused ? 'reusing' : 'new'} data in .cluster/)`,
);
for (const m of members) console.log(`  ${m.name}  client ${m.client}  peer ${m.peer}`);
console.log('\ntry:');
console.log(`  ETCDCTL_API=3 etcdctl --endpoints ${endpoints} endpoint status -w table`);
console.log(`  ETCDCTL_API=3 etcdctl --endpoints ${endpoints} put hello world`);
console.log('\nlogs: .cluster/node{1,2,3}.log   stop: Ctrl-C');
