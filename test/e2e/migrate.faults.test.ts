// Goal: a live etcd 3.4 moves to tsetcd with its revisions: snapshot for the bulk, `tsetcd migrate
// follow` for what changes meanwhile; at cut-over every key, value, revision, version and lease and
// the HashKV match. Method: a writer keeps putting, deleting (one prefix delete of more keys than a
// Txn takes), using leases and multi-key txns on a real etcd member; the snapshot is saved and
// restored into a tsetcd member mid-load; follow runs from the restored revision; the writer stops;
// once tsetcd's revision reaches etcd's, both are compared; `follow --until-synced` then exits 0 at
// once. Checked to fail with a follow that skips every 40th revision (its revision check stops it,
// and tsetcd never reaches etcd's revision).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Proc, startSingle, stopAll } from '../helpers/cluster.js';
import {
  b,
  collectOutput,
  connect,
  type EtcdClients,
  etcdctl,
  freePort,
  repoRoot,
  tempDir,
  waitFor,
} from '../helpers/index.js';

function tsetcd(args: string[]): {
  child: ChildProcess;
  done: Promise<{ code: number | null; out: string }>;
} {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'tsetcd.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = collectOutput(child);
  return {
    child,
    done: new Promise((resolve) => child.once('close', (code) => resolve({ code, out: out() }))),
  };
}

test('migrate a live etcd to tsetcd: snapshot, restore, follow, cut-over', {
  timeout: 120_000,
}, async (t) => {
  const dir = tempDir('tsetcd-migrate-');
  const procs: Proc[] = [];
  const clients: EtcdClients[] = [];
  const children: ChildProcess[] = [];
  let stop = false;
  t.after(async () => {
    stop = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const c of clients) c.close();
    await stopAll(procs);
    dir.remove();
  });
  const member = async (kind: 'etcd' | 'tsetcd', name: string, dataDir: string, peer?: string) => {
    const p = await startSingle(procs, kind, name, dataDir, { token: 'migrate', peer });
    const c = connect(p.client);
    clients.push(c);
    return { p, c };
  };

  const etcd = await member('etcd', 'src', join(dir.path, 'etcd'));
  const e = etcd.c;
  const early = await e.lease.leaseGrant({ TTL: 900n });
  for (let i = 0; i < 100; i++)
    await e.kv.put({ key: b(`base/${i}`), value: b(`v${i}`), lease: i % 10 === 0 ? early.ID : 0n });

  let written = 0;
  let phase = 0;
  const writer = (async () => {
    const late = await e.lease.leaseGrant({ TTL: 900n });
    for (let i = 0; !stop; i++) {
      if (i % 10 === 9) await e.kv.deleteRange({ key: b(`w/${(i * 7) % 50}`) });
      else if (i % 25 === 0)
        await e.kv.put({ key: b(`leased/${i % 30}`), value: b(`l${i}`), lease: late.ID });
      else if (i % 17 === 0) {
        await e.kv.txn({
          compare: [],
          success: [0, 1, 2].map((j) => ({ requestPut: { key: b(`txn/${j}`), value: b(`t${i}`) } })),
          failure: [],
        });
      } else await e.kv.put({ key: b(`w/${i % 50}`), value: b(`s${i}`) });
      if (phase === 1 && i % 200 === 0) {
        // More deletes in one revision than a Txn may hold: follow applies it as a DeleteRange.
        for (let j = 0; j < 150; j++)
          await e.kv.put({ key: b(`bulk/${String(j).padStart(3, '0')}`), value: b('x') });
        await e.kv.deleteRange({ key: b('bulk/'), rangeEnd: b('bulk0') });
        phase = 2;
      }
      written++;
    }
  })();
  await waitFor(() => written >= 50, { what: 'writes before the snapshot', timeoutMs: 30_000 });

  const file = join(dir.path, 'etcd.db');
  const saved = await etcdctl(etcd.p.client, ['snapshot', 'save', file], { timeoutMs: 60_000 });
  assert.equal(saved.code, 0, saved.stderr);
  const peer = `http://127.0.0.1:${await freePort()}`;
  const restore = tsetcd([
    ...['snapshot', 'restore', file, '--name', 'dst', '--data-dir', join(dir.path, 'tsetcd')],
    ...[
      '--initial-cluster',
      `dst=${peer}`,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster-token',
      'migrate',
    ],
  ]);
  const restored = await restore.done;
  assert.equal(restored.code, 0, restored.out);
  const ts = await member('tsetcd', 'dst', join(dir.path, 'tsetcd'), peer);

  const follow = tsetcd(['migrate', 'follow', '--from', etcd.p.client, '--to', ts.p.client]);
  children.push(follow.child);
  const before = written;
  phase = 1;
  await waitFor(() => phase === 2 && written >= before + 150, {
    what: 'writes while following',
    timeoutMs: 60_000,
  });
  stop = true;
  await writer;

  const rev = async (c: EtcdClients) => (await c.kv.range({ key: b('x') })).header!.revision;
  const target = await rev(e);
  await waitFor(
    async () => {
      if (follow.child.exitCode !== null) throw new Error(`follow exited: ${(await follow.done).out}`);
      return (await rev(ts.c)) === target;
    },
    { what: `tsetcd at etcd's revision ${target}`, timeoutMs: 30_000 },
  );
  const all = { key: b('\0'), rangeEnd: b('\0') };
  const [er, tr] = [await e.kv.range(all), await ts.c.kv.range(all)];
  assert.equal(tr.count, er.count);
  assert.deepEqual(tr.kvs, er.kvs, 'every key, value, revision, version and lease');
  const [eh, th] = [
    await e.maintenance.hashKv({ revision: 0n }),
    await ts.c.maintenance.hashKv({ revision: 0n }),
  ];
  assert.equal(th.hash, eh.hash, 'HashKV at cut-over');
  follow.child.kill('SIGTERM');

  const again = tsetcd(['migrate', 'follow', '--from', etcd.p.client, '--to', ts.p.client, '--until-synced']);
  children.push(again.child);
  const r = await again.done;
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`"msg":"in sync","revision":${target}`));
});
