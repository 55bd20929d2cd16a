// `npm start`: a local 3-member tsetcd cluster on seed 000's ports, as three etcd processes would be
// started by hand: clients 12379/22379/32379, peers 12380/22380/32380, data under .cluster/ (git
// ignores it). A second start reuses the data (a member with a data dir ignores the bootstrap flags).
// Ctrl-C stops every member cleanly. Each member's structured log goes to .cluster/<name>.log.
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { endpoints, launch, planCluster, running, stop as stopProc } from '../dist/test/helpers/cluster.js';
import { isHealthy } from '../dist/test/helpers/member.js';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const dataRoot = join(root, '.cluster');
const host = process.env.TSETCD_HOST ?? '127.0.0.1';
const START_TIMEOUT_MS = 30_000;

mkdirSync(dataRoot, { recursive: true });
const members = await planCluster(dataRoot, 3, {
  names: ['node1', 'node2', 'node3'],
  host,
  ports: (i) => ({ client: Number(`${i + 1}2379`), peer: Number(`${i + 1}2380`) }),
  dataDir: (_, name) => join(dataRoot, `${name}.etcd`),
  token: 'tsetcd-local-cluster',
  extraFlags: ['--initial-cluster-state', 'new'],
});
const reused = members.some((m) => existsSync(m.dataDir));

let stopping = false;
for (const m of members) {
  launch(m, { killAtExit: false });
  const log = createWriteStream(join(dataRoot, `${m.name}.log`), { flags: 'a' });
  m.child.stdout.pipe(log);
  m.child.stderr.pipe(log);
  m.child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${m.name} exited (${signal ?? code}); see ${join('.cluster', `${m.name}.log`)}`);
      stop(1);
    }
  });
}

async function stop(code) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the cluster...');
  await Promise.all(members.filter(running).map((m) => stopProc(m)));
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const deadline = Date.now() + START_TIMEOUT_MS;
const spinner = ['|', '/', '-', '\\'];
for (let i = 0; ; i++) {
  const states = await Promise.all(members.map((m) => isHealthy(`http://${m.client}`)));
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
console.log(
  `${process.stdout.isTTY ? '\r' : ''}tsetcd local cluster is up (${reused ? 'reusing' : 'new'} data in .cluster/)`,
);
for (const m of members) console.log(`  ${m.name}  client http://${m.client}  peer ${m.peer}`);
console.log('\ntry:');
console.log(`  ETCDCTL_API=3 etcdctl --endpoints ${endpoints(members)} endpoint status -w table`);
console.log(`  ETCDCTL_API=3 etcdctl --endpoints ${endpoints(members)} put hello world`);
console.log('\nlogs: .cluster/node{1,2,3}.log   stop: Ctrl-C');
