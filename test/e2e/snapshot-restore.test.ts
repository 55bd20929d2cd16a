// Goal: Maintenance.Snapshot gives a consistent, checksummed copy of the database that
// `etcdctl snapshot save` (3.4) stores as it does from etcd, and `tsetcd snapshot restore` turns into
// a new cluster serving the same keys at the same revisions; a damaged file is refused.
// Method: a 3-process cluster under a concurrent writer; save from a follower; restore into a new
// 3-process cluster (new token, new ports); compare keys, revisions and HashKV at the snapshot's
// revision against the original cluster; then corrupt and truncate the file and restore again.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { planCluster, planMember, procsFor, startAll } from '../helpers/cluster.js';
import {
  b,
  connect,
  etcdctl,
  freePort,
  restoreArgs,
  snapshotStatusJson,
  tsetcdCli,
  waitFor,
} from '../helpers/index.js';

const tsetcd = (args: string[]) => tsetcdCli(args, { timeoutMs: 60_000 });

test('snapshot save under writes, restore into a new cluster, damaged files refused', {
  timeout: 180_000,
}, async (t) => {
  const { dir, procs } = procsFor(t, 'tsetcd-snapshot-restore-');
  procs.push(...(await planCluster(join(dir.path, 'old'), 3, { token: 'old-cluster' })));
  await startAll(procs);
  const old = procs.map((p) => connect(p.client));
  t.after(() => {
    for (const c of old) c.close();
  });

  // Leases and deletions are part of the state too.
  const lease = await old[0]!.lease.leaseGrant({ TTL: 600n });
  for (let i = 0; i < 200; i++) {
    await old[i % 3]!.kv.put({ key: b(`base/${i}`), value: b(`v${i}`), lease: i % 10 === 0 ? lease.ID : 0n });
  }
  await old[1]!.kv.deleteRange({ key: b('base/1'), rangeEnd: b('base/2') });

  let stop = false;
  t.after(() => {
    stop = true;
  });
  let written = 0;
  const writer = (async () => {
    for (let seq = 0; !stop; seq++) {
      try {
        await old[seq % 3]!.kv.put({ key: b(`load/${seq % 50}`), value: b(`s${seq}`) }, { deadlineMs: 5000 });
        written++;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();
  await waitFor(() => written >= 20, { what: 'writes before the snapshot', timeoutMs: 20_000 });

  const file = join(dir.path, 'snap.db');
  const saved = await etcdctl(procs[2]!.client, ['snapshot', 'save', file], { timeoutMs: 60_000 });
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(saved.stdout, `Snapshot saved at ${file}\n`);
  assert.match(saved.stderr, /"msg":"fetched snapshot"/);
  assert.ok(!existsSync(`${file}.part`), 'etcdctl renamed the .part file');
  await waitFor(() => written >= 60, { what: 'writes after the snapshot', timeoutMs: 20_000 });
  stop = true;
  await writer;

  const size = statSync(file).size;
  assert.equal(size % 512, 32, 'the database is followed by its 32-byte SHA-256');

  const st = snapshotStatusJson(await tsetcd(['snapshot', 'status', file, '-w', 'json']));
  assert.equal(st.totalSize, size - 32);
  assert.ok(st.revision > 200, `snapshot revision ${st.revision}`);
  const table = await tsetcd(['snapshot', 'status', file, '-w', 'table']);
  assert.match(table.stdout, /\| +HASH +\| REVISION \| TOTAL KEYS \| TOTAL SIZE \|/);

  // A new 3-member cluster from the file: new token, new ports, new data dirs.
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ['r1', 'r2', 'r3'];
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
  const restored = names.map((name, i) =>
    planMember({
      kind: 'tsetcd',
      name,
      dataDir: join(dir.path, 'new', name),
      client: `127.0.0.1:${ports[2 * i]}`,
      peer: `http://127.0.0.1:${ports[2 * i + 1]}`,
      initialCluster: initial,
      token: 'restored-cluster',
      extraFlags: [],
    }),
  );
  for (const p of restored) {
    const r = await tsetcd(restoreArgs(file, p, { initialCluster: initial, token: 'restored-cluster' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /"msg":"restored snapshot"/);
  }
  procs.push(...restored);
  await startAll(restored);
  const fresh = restored.map((p) => connect(p.client));
  t.after(() => {
    for (const c of fresh) c.close();
  });

  // The new cluster: its own id and members, the old data at the snapshot's revision.
  const members = await fresh[0]!.cluster.memberList({});
  assert.deepEqual(members.members.map((m) => m.name).sort(), names);
  const oldMembers = await old[0]!.cluster.memberList({});
  assert.notEqual(members.header!.clusterId, oldMembers.header!.clusterId);
  const rev = BigInt(st.revision);
  const got = await fresh[1]!.kv.range({ key: b('\0'), rangeEnd: b('\0') });
  assert.equal(got.header!.revision, rev, 'the restored store is at the snapshot revision');
  const want = await old[0]!.kv.range({ key: b('\0'), rangeEnd: b('\0'), revision: rev });
  const rows = (r: typeof got) =>
    r.kvs.map((kv) => [
      kv.key.toString(),
      kv.value.toString(),
      kv.createRevision,
      kv.modRevision,
      kv.version,
    ]);
  assert.deepEqual(rows(got), rows(want));
  const hOld = await old[0]!.maintenance.hashKv({ revision: rev });
  for (const c of fresh) {
    const h = await c.maintenance.hashKv({ revision: rev });
    assert.equal(h.hash, hOld.hash, 'HashKV at the snapshot revision equals the original cluster');
  }
  const ttl = await fresh[2]!.lease.leaseTimeToLive({ ID: lease.ID, keys: true });
  assert.equal(ttl.grantedTTL, 600n, 'the lease came with the snapshot');
  // The restored cluster takes writes on top, with the next revision.
  const put = await fresh[2]!.kv.put({ key: b('after'), value: b('x') });
  assert.equal(put.header!.revision, rev + 1n);

  // Damaged files: one flipped byte, and a file without its checksum.
  const bytes = readFileSync(file);
  bytes[Math.floor((size - 32) / 2)]! ^= 0xff;
  const bad = join(dir.path, 'bad.db');
  writeFileSync(bad, bytes);
  const target = join(dir.path, 'refused');
  const refused = await tsetcd(['snapshot', 'restore', bad, '--data-dir', target]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^Error: expected sha256 \[[0-9 ]+\], got \[[0-9 ]+\]$/m);
  assert.ok(!existsSync(target), 'nothing is left behind');
  const bare = join(dir.path, 'bare.db');
  writeFileSync(bare, readFileSync(file).subarray(0, size - 32));
  const missing = await tsetcd(['snapshot', 'restore', bare, '--data-dir', target]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error: snapshot missing hash but --skip-hash-check=false$/m);
  const skipped = await tsetcd(['snapshot', 'restore', bare, '--data-dir', target, '--skip-hash-check']);
  assert.equal(skipped.code, 0, skipped.stderr);
  const exists = await tsetcd(['snapshot', 'restore', file, '--data-dir', target]);
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /^Error: data-dir ".*refused" exists$/m);
});
