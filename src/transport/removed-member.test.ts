/**
 * Goal: a member removed from the cluster while it could not learn it from the log (down or cut off)
 * is told so by its peers, as etcd's rafthttp does: the receiver refuses its stream with 410 "removed
 * member", and the sender reports `onRemoved` (errMemberRemoved, "the member has been permanently
 * removed from the cluster"); its messages never reach the receiver.
 * Method: two real Transports on 127.0.0.1; the receiver's `isRemoved` names the sender; polls with
 * a deadline; both closed in cleanup.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../pkg/index.js';
import { type Message, MessageType, newMessage } from '../raft/index.js';
import { Transport } from './transport.js';
import type { TransportOptions } from './types.js';

const CLUSTER = 0x77n;

async function start(
  t: { after(fn: () => Promise<void>): void },
  id: bigint,
  extra: Partial<TransportOptions>,
) {
  const got: Message[] = [];
  const logs: string[] = [];
  const log = (_o: object, m: string) => logs.push(m);
  const tr = await Transport.start({
    localId: id,
    clusterId: CLUSTER,
    listen: { host: '127.0.0.1', port: 0 },
    onMessage: (m) => got.push(m),
    logger: { debug: log, info: log, warn: log, error: log },
    rng: new SeededRng(Number(id)),
    ...extra,
  });
  t.after(() => tr.close());
  return { tr, got, logs, url: `http://127.0.0.1:${tr.address.port}` };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a removed member is refused with 410 and told it was removed; its messages are dropped', async (t) => {
  let removedReports = 0;
  const removed = await start(t, 1n, { onRemoved: () => removedReports++ });
  const peer = await start(t, 2n, { isRemoved: (id) => id === 1n });
  removed.tr.addPeer(2n, [peer.url]);
  removed.tr.send([newMessage({ type: MessageType.Heartbeat, from: 1n, to: 2n, term: 9 })]);
  await until('the removed member to be told', () => removedReports > 0);
  assert.equal(removed.tr.stats().get(2n)!.lastErrorCode, 'member-removed');
  assert.equal(
    removed.tr.stats().get(2n)!.lastError,
    'the member has been permanently removed from the cluster',
  );
  assert.ok(peer.logs.includes('rejected stream from remote peer because it was removed'));
  assert.equal(peer.got.length, 0);
});

test('a member that is not removed is served as before', async (t) => {
  let removedReports = 0;
  const a = await start(t, 1n, { onRemoved: () => removedReports++ });
  const b = await start(t, 2n, { isRemoved: (id) => id === 3n });
  a.tr.addPeer(2n, [b.url]);
  b.tr.addPeer(1n, [a.url]);
  a.tr.send([newMessage({ type: MessageType.Heartbeat, from: 1n, to: 2n, term: 9 })]);
  await until('the heartbeat', () => b.got.length === 1);
  assert.equal(removedReports, 0);
});
