// Measures how long a 3-member cluster is without a leader after its leader is SIGKILLed, for etcd
// and tsetcd started with the same flags and default timings (heartbeat 100 ms, election 1000 ms).
// Each run: start a fresh cluster, find the leader, kill it, poll the survivors' /metrics
// etcd_server_has_leader and Maintenance.Status every 10 ms until one reports a new leader.
// Usage: node scripts/measure-failover.mjs [runs=20] [etcd|tsetcd|both]
// (run `npm run build` first; needs Debian's etcd on the PATH for the etcd rows).
import { join } from 'node:path';
import { planCluster, startAll, stopAll } from '../dist/test/helpers/cluster.js';
import { tempDir } from '../dist/test/helpers/util.js';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 20);
const which = process.argv[3] ?? 'both';

// Both are asked the same way: Maintenance.Status over gRPC with the generated client.
const { Client, credentials } = await import('@grpc/grpc-js');
const rpc = await import(join(root, 'dist/src/proto/etcdserverpb/rpc.js'));
function status(client) {
  return new Promise((resolve) => {
    const c = new Client(client, credentials.createInsecure());
    c.makeUnaryRequest(
      rpc.MaintenanceService.status.path,
      rpc.MaintenanceService.status.requestSerialize,
      rpc.MaintenanceService.status.responseDeserialize,
      {},
      { deadline: Date.now() + 300 },
      (err, res) => {
        c.close();
        resolve(err ? undefined : { leader: res.leader, self: res.header.memberId });
      },
    );
  });
}

async function oneRun(kind) {
  const dir = tempDir(`failover-${kind}-`);
  const procs = await planCluster(dir.path, 3, {
    kind,
    names: ['a', 'b', 'c'],
    token: 'failover',
    extraFlags: kind === 'tsetcd' ? ['--log-level', 'error'] : [],
  });
  await startAll(procs);
  try {
    let leaderIdx = -1;
    const startDeadline = Date.now() + 20000;
    while (leaderIdx < 0) {
      if (Date.now() > startDeadline) throw new Error(`${kind}: no leader at start`);
      const st = await Promise.all(procs.map((p) => status(p.client)));
      leaderIdx = st.findIndex((s) => s && s.leader !== 0n && s.leader === s.self);
      if (leaderIdx < 0) await new Promise((r) => setTimeout(r, 20));
    }
    // Let the cluster settle (heartbeats flowing) before the kill.
    await new Promise((r) => setTimeout(r, 1500));
    const old = (await status(procs[leaderIdx].client)).self;
    const killedAt = performance.now();
    procs[leaderIdx].child.kill('SIGKILL');
    const survivors = procs.filter((_, i) => i !== leaderIdx);
    for (;;) {
      const st = await Promise.all(survivors.map((p) => status(p.client)));
      if (st.some((s) => s && s.leader !== 0n && s.leader !== old)) return performance.now() - killedAt;
      if (performance.now() - killedAt > 30000) throw new Error(`${kind}: no new leader within 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await stopAll(procs);
    dir.remove();
  }
}

const kinds = which === 'both' ? ['etcd', 'tsetcd'] : [which];
const results = Object.fromEntries(kinds.map((k) => [k, []]));
for (let i = 0; i < runs; i++) {
  for (const k of kinds) {
    results[k].push(await oneRun(k));
    process.stderr.write(`\rrun ${i + 1}/${runs}`);
  }
}
process.stderr.write('\n');
const q = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
console.log('| server | runs | median ms without a leader | max ms | min ms |');
console.log('|---|---|---|---|---|');
for (const k of kinds) {
  const xs = results[k];
  console.log(
    `| ${k} | ${xs.length} | ${q(xs, 0.5).toFixed(0)} | ${Math.max(...xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} |`,
  );
}
