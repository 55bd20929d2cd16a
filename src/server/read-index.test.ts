// Goal: the driver's ReadIndex queue (read-index.ts) batches a turn's reads into one request,
// retries a lost one, times out at the deadline, and uses request contexts that are unique across
// the cluster — so two followers asking at the same time are both answered at once, not one of
// them after READ_INDEX_RETRY_MS (the leader keeps one pending request per context).
// Method: fake hosts on a ManualClock for batching, retry and deadline; for uniqueness, three real
// RawNodes (in-memory storage) wired by hand, the followers' queues asking through their own core.
// With contexts made of the sequence number alone (the earlier scheme), the second follower's read
// is not answered and the last test fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../pkg/clock.js';
import { SeededRng } from '../pkg/rng.js';
import { decodeConfChange, EntryType, MemoryStorage, type Message, RawNode } from '../raft/index.js';
import { EtcdError } from '../wire/errors.js';
import { READ_INDEX_RETRY_MS, type ReadIndexHost, ReadIndexQueue } from './read-index.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function fakeHost(memberId: bigint, clock: ManualClock): ReadIndexHost & { asked: Uint8Array[] } {
  const asked: Uint8Array[] = [];
  return {
    memberId,
    clock,
    readTimeoutMs: 2000,
    asked,
    usable: () => true,
    requestReadIndex: (ctx) => {
      asked.push(ctx);
    },
    kick: () => {},
  };
}

test('reads of one turn share one request; its answer resolves them all', async () => {
  const host = fakeHost(1n, new ManualClock());
  const q = new ReadIndexQueue(host);
  const reads = Array.from({ length: 10 }, () => q.readIndex());
  assert.equal(q.idle, false);
  await turn();
  assert.equal(q.idle, true);
  assert.equal(host.asked.length, 1);
  q.answer([{ index: 42, requestCtx: host.asked[0]! }]);
  assert.deepEqual(await Promise.all(reads), Array(10).fill(42));
  // a later turn is a new request with a new context
  const next = q.readIndex();
  await turn();
  assert.equal(host.asked.length, 2);
  assert.notDeepEqual(host.asked[1], host.asked[0]);
  q.answer([{ index: 43, requestCtx: host.asked[1]! }]);
  assert.equal(await next, 43);
});

test('an unanswered request is asked again every READ_INDEX_RETRY_MS, then times out', async () => {
  const clock = new ManualClock();
  const host = fakeHost(1n, clock);
  const q = new ReadIndexQueue(host);
  const read = q.readIndex();
  await turn();
  assert.equal(host.asked.length, 1);
  clock.advance(READ_INDEX_RETRY_MS - 1);
  q.retry();
  assert.equal(host.asked.length, 1);
  clock.advance(1);
  q.retry();
  assert.equal(host.asked.length, 2);
  assert.deepEqual(host.asked[1], host.asked[0], 'asked again with the same context');
  clock.advance(host.readTimeoutMs);
  q.retry();
  await assert.rejects(
    read,
    (e: unknown) => e instanceof EtcdError && e.message === 'etcdserver: request timed out',
  );
});

test('contexts differ between members even at the same sequence number', () => {
  assert.notDeepEqual(ReadIndexQueue.context(2n, 0n), ReadIndexQueue.context(3n, 0n));
  assert.deepEqual(ReadIndexQueue.context(2n, 7n), ReadIndexQueue.context(2n, 7n));
});

/** Three RawNodes over in-memory storage; messages delivered by hand until nothing is left. */
function cluster(): {
  nodes: Map<bigint, RawNode>;
  stabilize(onReady?: (id: bigint, rs: unknown[]) => void): void;
} {
  const ids = [1n, 2n, 3n];
  const nodes = new Map<bigint, RawNode>();
  const stores = new Map<bigint, MemoryStorage>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    stores.set(id, storage);
    const n = new RawNode({
      id,
      storage,
      rng: new SeededRng(Number(id)),
      electionTick: 10,
      heartbeatTick: 1,
    });
    n.bootstrap(ids);
    nodes.set(id, n);
  }
  const stabilize = (onReady?: (id: bigint, rs: unknown[]) => void): void => {
    for (let round = 0; round < 100; round++) {
      const inbox: Message[] = [];
      for (const [id, n] of nodes) {
        inbox.push(...n.takeForwarded());
        while (n.hasReady()) {
          const rd = n.ready();
          if (rd.hardState) stores.get(id)!.setHardState(rd.hardState);
          if (rd.entries.length > 0) stores.get(id)!.append([...rd.entries]);
          for (const e of rd.committedEntries) {
            if (e.type === EntryType.ConfChange) n.applyConfChange(decodeConfChange(e.data));
          }
          inbox.push(...rd.messages);
          if (rd.readStates.length > 0) onReady?.(id, [...rd.readStates]);
          n.advance();
        }
      }
      if (inbox.length === 0) return;
      for (const m of inbox) nodes.get(m.to)?.step(m);
    }
    throw new Error('cluster did not settle');
  };
  return { nodes, stabilize };
}

test('two followers asking at once are both answered by the leader', async () => {
  const { nodes, stabilize } = cluster();
  const clock = new ManualClock();
  const queues = new Map<bigint, ReadIndexQueue>();
  stabilize();
  nodes.get(1n)!.campaign();
  stabilize();
  // the leader commits an entry of its term before it serves reads
  nodes.get(1n)!.propose(new Uint8Array([1]));
  stabilize();
  for (const id of [2n, 3n]) {
    queues.set(
      id,
      new ReadIndexQueue({
        memberId: id,
        clock,
        readTimeoutMs: 5000,
        usable: () => true,
        requestReadIndex: (ctx) => nodes.get(id)!.readIndex(ctx),
        kick: () => {},
      }),
    );
  }
  // both followers' first batch (sequence 0) goes out in the same turn
  const r2 = queues.get(2n)!.readIndex();
  const r3 = queues.get(3n)!.readIndex();
  await turn();
  stabilize((id, rs) => queues.get(id)?.answer(rs as { index: number; requestCtx: Uint8Array }[]));
  const answered = await Promise.race([Promise.all([r2, r3]).then(() => true), turn().then(() => false)]);
  assert.ok(answered, 'both followers got their read index without a retry');
  const [i2, i3] = await Promise.all([r2, r3]);
  assert.equal(i2, i3);
  assert.ok(i2 >= 2);
});
