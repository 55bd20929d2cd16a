// Goal: a database received with a leader's snapshot that is not a usable lmdb file (here an etcd
// bbolt file, then garbage), or that arrives damaged (its SHA-256 trailer does not match) or cut
// short, is refused before Raft or lmdb see it: the member logs the refusal naming the failed check
// and keeps running (the leader resends), instead of accepting the snapshot and dying when it opens it.
// Method: a tsetcd member m1 of a two-member cluster whose other member m2 is played by this test
// through our own peer transport (m2's id, the cluster's id, m2's peer URL); m2 sends m1 a MsgSnap
// at a higher term carrying a bad database. Checked to fail without the check in receiveSnapshot:
// m1 then installs the snapshot, fails to open the database and exits.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { SeededRng } from '../../src/pkg/index.js';
import { MessageType, newMessage } from '../../src/raft/index.js';
import { computeClusterId, computeMemberId } from '../../src/server/ids.js';
import { Transport } from '../../src/transport/index.js';
import { kill, launch, type Proc, planMember } from '../helpers/cluster.js';
import { freePort, tempDir, waitFor } from '../helpers/index.js';

test('a bad database in a leader snapshot is refused and the member keeps running', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir('tsetcd-snapdb-refused-');
  const procs: Proc[] = [];
  const token = 'snapdb-refused';
  const peer1 = `http://127.0.0.1:${await freePort()}`;
  const port2 = await freePort();
  const peer2 = `http://127.0.0.1:${port2}`;
  const id1 = computeMemberId([peer1], token);
  const id2 = computeMemberId([peer2], token);
  const clusterId = computeClusterId([id1, id2]);
  const m2 = await Transport.start({
    localId: id2,
    clusterId,
    listen: { host: '127.0.0.1', port: port2 },
    onMessage: () => {},
    rng: new SeededRng(2),
  });
  t.after(async () => {
    for (const p of procs) await kill(p);
    await m2.close();
    dir.remove();
  });
  const p = planMember({
    kind: 'tsetcd',
    name: 'm1',
    dataDir: join(dir.path, 'm1'),
    client: `127.0.0.1:${await freePort()}`,
    peer: peer1,
    initialCluster: `m1=${peer1},m2=${peer2}`,
    token,
    extraFlags: [],
  });
  procs.push(p);
  launch(p);
  // m1 has no quorum alone; it is up once its (pre-)vote requests reach "m2".
  m2.addPeer(id1, [peer1]);
  await waitFor(() => (m2.stats().get(id1)?.received ?? 0) > 0, {
    what: `m1 up and talking to m2\n${p.log.slice(-3000)}`,
    timeoutMs: 30_000,
  });

  const bbolt = Buffer.alloc(4 * 4096);
  bbolt.writeUInt32LE(0xed0cdaed, 16);
  const garbage = Buffer.alloc(64 * 1024, 0x5a);
  // As the sender streams it: the database, then its SHA-256.
  const sealed = (db: Buffer) => Buffer.concat([db, createHash('sha256').update(db).digest()]);
  const damaged = sealed(garbage);
  damaged[100]! ^= 1;
  const cases: { data: Buffer; announced: number }[] = [
    { data: sealed(bbolt), announced: bbolt.length + 32 },
    { data: sealed(garbage), announced: garbage.length + 32 },
    { data: damaged, announced: damaged.length },
    { data: sealed(garbage).subarray(0, 4096), announced: garbage.length + 32 }, // the stream ends early
  ];
  for (const [i, { data, announced }] of cases.entries()) {
    const m = newMessage({
      type: MessageType.Snap,
      from: id2,
      to: id1,
      term: 50 + i,
      snapshot: {
        metadata: { index: 1000 + i, term: 50 + i, confState: { voters: [id1, id2], learners: [] } },
        data: new Uint8Array(0),
      },
    });
    m2.sendSnapshot(
      m,
      (async function* () {
        yield data;
      })(),
      announced,
    );
    await waitFor(() => (p.log.match(/refused the database of a snapshot/g) ?? []).length >= i + 1, {
      what: `refusal ${i + 1} in m1's log\n${p.log.slice(-3000)}`,
      timeoutMs: 20_000,
    });
  }
  assert.match(p.log, /is not a usable lmdb database: it is a bbolt file/);
  assert.match(p.log, /is not a usable lmdb database: bad magic in meta page 0/);
  assert.match(p.log, /does not match the sender's .*\(damaged in transfer\)/);
  assert.match(
    p.log,
    /"check":"stream".*refused the database of a snapshot|refused the database of a snapshot.*"check":"stream"/,
  );
  assert.equal(p.child?.exitCode, null, `m1 is still running\n${p.log.slice(-3000)}`);
  assert.equal(p.child?.signalCode, null);
});
