// Goal: a snapshot database received from a leader is checked before Raft hears of it: a stream
// cut short, a flipped bit, a missing SHA-256 trailer or a file that is not an lmdb database is
// refused with an error naming the failed check, what arrived is removed, nothing reaches Raft —
// and a good one is kept and handed on. Method: SnapshotTransfer.receive over a fake host (a real
// data-dir layout in a temp dir, Raft's step recorded), fed a real store file (with its SHA-256, as
// the sender streams it) and damaged variants of it. Checked to fail: with the digest comparison in
// receiveVerified removed, the flipped-bit case is handed to Raft.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { tempDirFor } from '../../test/helpers/util.js';
import { MvccStore } from '../mvcc/index.js';
import { type Message, MessageType, newMessage } from '../raft/index.js';
import { resolveConfig } from './config.js';
import type { Logger } from './logger.js';
import { ServerMetrics } from './metrics.js';
import {
  SNAPSHOT_DIGEST_BYTES,
  SnapshotReceiveError,
  SnapshotTransfer,
  type SnapshotTransferHost,
} from './snapshot-transfer.js';

const tmp = (t: TestContext): string => tempDirFor(t, 'snap-transfer-');

const withDigest = (db: Buffer) => Buffer.concat([db, createHash('sha256').update(db).digest()]);

async function* chunks(data: Buffer, size: number, failAt?: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    if (failAt !== undefined && i >= failAt) throw new Error('snapshot-truncated: 4096 of 9000 bytes');
    yield data.subarray(i, i + size);
  }
}

test('a damaged snapshot database is refused before Raft sees it', async (t) => {
  const dir = tmp(t);
  // A real store file, as a leader's backupTo makes it.
  const store = await MvccStore.open({ dir: join(dir, 'leader'), sync: true });
  const txn = store.write(1);
  for (let i = 0; i < 300; i++) txn.put(Buffer.from(`k${i}`), Buffer.alloc(100, i), 0n);
  txn.end();
  await store.commit();
  const copy = await store.backupTo(join(dir, 'copy'));
  await store.close();
  const db = readFileSync(copy);

  const cfg = resolveConfig({ name: 'm1', dataDir: join(dir, 'member') } as never);
  const stepped: Message[] = [];
  const logged: string[] = [];
  const logger = {
    info() {},
    warn() {},
    error: (o: unknown, msg: string) => logged.push(`${msg} ${JSON.stringify(o)}`),
  } as unknown as Logger;
  const transfer = new SnapshotTransfer({
    cfg,
    logger,
    metrics: new ServerMetrics(),
    step: (m: Message) => stepped.push(m),
  } as unknown as SnapshotTransferHost);
  const msg = newMessage({
    type: MessageType.Snap,
    from: 2n,
    to: 1n,
    term: 5,
    snapshot: {
      metadata: { index: 100, term: 5, confState: { voters: [1n, 2n], learners: [] } },
      data: new Uint8Array(0),
    },
  });

  const flipped = withDigest(db);
  flipped[Math.floor(db.length / 2)]! ^= 0x10;
  const bbolt = Buffer.alloc(4 * 4096);
  bbolt.writeUInt32LE(0xed0cdaed, 16);
  const cases: { what: string; data: AsyncIterable<Uint8Array> | Uint8Array; check: string; text: RegExp }[] =
    [
      {
        what: 'flipped bit',
        data: chunks(flipped, 7000),
        check: 'digest',
        text: /SHA-256 [0-9a-f]{64} of the \d+ bytes received does not match the sender's/,
      },
      { what: 'no trailer', data: chunks(db, 7000), check: 'digest', text: /does not match the sender's/ },
      {
        what: 'shorter than a trailer',
        data: Buffer.alloc(10),
        check: 'digest',
        text: /10 bytes, shorter than its 32-byte SHA-256 trailer/,
      },
      {
        what: 'cut short',
        data: chunks(withDigest(db), 4096, 8192),
        check: 'stream',
        text: /snapshot database from 2: snapshot-truncated/,
      },
      {
        what: 'not lmdb',
        data: withDigest(bbolt),
        check: 'store-file',
        text: /is not a usable lmdb database: it is a bbolt file/,
      },
    ];
  for (const c of cases) {
    await assert.rejects(
      transfer.receive(msg, c.data),
      (e: unknown) => e instanceof SnapshotReceiveError && e.check === c.check && c.text.test(e.message),
      c.what,
    );
    assert.equal(stepped.length, 0, `${c.what}: not handed to Raft`);
    assert.equal(existsSync(cfg.layout.incomingDir), false, `${c.what}: what arrived is removed`);
    assert.match(logged.at(-1)!, /^refused the database of a snapshot .*"check":/, c.what);
  }

  await transfer.receive(msg, chunks(withDigest(db), 7000));
  assert.equal(stepped.length, 1, 'a good database is handed to Raft');
  assert.deepEqual(readFileSync(cfg.layout.incomingFile), db);
  assert.equal(SNAPSHOT_DIGEST_BYTES, 32);
});
