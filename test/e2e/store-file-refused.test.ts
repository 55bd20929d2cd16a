// Goal: a member whose store file is foreign or damaged refuses to start with an error naming the
// file (exit status 1), instead of dying with SIGSEGV/SIGBUS as it did when lmdb mapped an etcd
// bbolt file. Method: start a tsetcd member, write (values over a page too), stop it; then put in
// place of its data.mdb an etcd-format (bbolt) file, a truncated copy and a copy with a zeroed live
// page, start it on each and check how it exits. Checked to fail without the validation: the bbolt
// and truncated cases then end in SIGSEGV / SIGBUS. Last, the good file goes through `snapshot
// status` and `snapshot restore --skip-hash-check` (the lmdb path) and a member serves it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { kill, launch, type Proc, planMember, waitHealthy } from '../helpers/cluster.js';
import { b, connect, freePort, repoRoot, tempDir, waitFor } from '../helpers/index.js';

test('a member refuses a foreign or damaged store file with its name, never crashes', {
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir('tsetcd-store-refused-');
  const procs: Proc[] = [];
  t.after(async () => {
    for (const p of procs) await kill(p);
    dir.remove();
  });
  const plan = async (dataDir: string) => {
    const peer = `http://127.0.0.1:${await freePort()}`;
    const p = planMember({
      kind: 'tsetcd',
      name: 'm1',
      dataDir,
      client: `127.0.0.1:${await freePort()}`,
      peer,
      initialCluster: `m1=${peer}`,
      token: 'store-refused',
      extraFlags: [],
    });
    procs.push(p);
    return p;
  };
  const good = await plan(join(dir.path, 'good'));
  launch(good);
  await waitHealthy(good);
  const c = connect(good.client);
  for (let i = 0; i < 200; i++)
    await c.kv.put({ key: b(`k${i}`), value: Buffer.alloc(i % 20 === 0 ? 9000 : 50, i) });
  c.close();
  await kill(good, 'SIGTERM');
  const storeFile = (d: string) => join(d, 'member', 'snap', 'db', 'db', 'data.mdb');
  const bytes = readFileSync(storeFile(good.dataDir));

  const bbolt = Buffer.alloc(4 * 4096);
  bbolt.writeUInt32LE(0xed0cdaed, 16);
  bbolt.writeUInt32LE(0xed0cdaed, 4096 + 16);
  // The newer meta page's main database root: zeroing it removes a live page.
  const meta = (m: number) => ({
    txnid: bytes.readBigUInt64LE(m * 4096 + 24 + 128),
    mainRoot: Number(bytes.readBigUInt64LE(m * 4096 + 24 + 24 + 48 + 40)),
  });
  const live = meta(0).txnid >= meta(1).txnid ? meta(0) : meta(1);
  const zeroed = Buffer.from(bytes);
  zeroed.fill(0, live.mainRoot * 4096, (live.mainRoot + 1) * 4096);
  const cases = [
    { what: 'bbolt', data: bbolt, want: /it is a bbolt file/ },
    {
      what: 'truncated',
      data: bytes.subarray(0, bytes.length - 3 * 4096 - 100),
      want: /past the end of the file/,
    },
    { what: 'zeroed root', data: zeroed, want: /page \d+: header names page 0/ },
  ];
  for (const k of cases) {
    const dataDir = join(dir.path, k.what.replace(' ', '-'));
    cpSync(good.dataDir, dataDir, { recursive: true });
    rmSync(join(dataDir, 'member', 'snap', 'db', 'db', 'lock.mdb'), { force: true });
    writeFileSync(storeFile(dataDir), k.data);
    const p = await plan(dataDir);
    launch(p);
    const code = await waitFor(
      () => p.child?.exitCode ?? (p.child?.signalCode ? p.child.signalCode : undefined),
      {
        timeoutMs: 20_000,
        what: `${k.what}: the member exits`,
      },
    );
    assert.equal(code, 1, `${k.what}: exit ${code}\n${p.log.slice(-3000)}`);
    assert.match(
      p.log,
      new RegExp(
        `tsetcd: cannot start: mvcc: store file ${storeFile(dataDir)} is not a usable lmdb database: `,
      ),
    );
    assert.match(p.log, k.want, k.what);
  }

  // The good file itself is a tsetcd database a restore still takes (the lmdb path of `snapshot
  // restore`, for member files and snapshots saved before the Snapshot RPC streamed bbolt).
  const copy = join(dir.path, 'member.mdb');
  writeFileSync(copy, bytes);
  const status = spawnSync(
    process.execPath,
    [join(repoRoot(), 'bin', 'tsetcd.js'), 'snapshot', 'status', copy, '-w', 'json'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(status.status, 0, status.stderr);
  assert.ok((JSON.parse(status.stdout) as { revision: number }).revision >= 201, status.stdout);
  const restoredDir = join(dir.path, 'restored');
  const peer = `http://127.0.0.1:${await freePort()}`;
  const restore = spawnSync(
    process.execPath,
    [
      join(repoRoot(), 'bin', 'tsetcd.js'),
      ...['snapshot', 'restore', copy, '--skip-hash-check', '--name', 'm1', '--data-dir', restoredDir],
      ...[
        '--initial-cluster',
        `m1=${peer}`,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster-token',
        'store-refused',
      ],
    ],
    { encoding: 'utf8' },
  );
  assert.equal(restore.status, 0, restore.stderr);
  const client = `127.0.0.1:${await freePort()}`;
  const back = planMember({
    kind: 'tsetcd',
    name: 'm1',
    dataDir: restoredDir,
    client,
    peer,
    initialCluster: `m1=${peer}`,
    token: 'store-refused',
    extraFlags: [],
  });
  procs.push(back);
  launch(back);
  await waitHealthy(back);
  const rc = connect(client);
  try {
    const r = await rc.kv.range({ key: b('k'), rangeEnd: b('l') });
    assert.equal(Number(r.count), 200);
  } finally {
    rc.close();
  }
});
