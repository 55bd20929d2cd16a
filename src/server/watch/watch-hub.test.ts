// Goal: the watch hub keeps its guarantees under back-pressure and within its named bounds —
// ordered, never duplicated, no gaps, a revision's events never split (except by fragmenting),
// bounded buffering per stream, catch-up in bounded steps, progress answers only once everything up
// to their revision was sent — and refuses creates beyond its limits.
// Method: a real MvccStore in a fresh temp dir, a fake event source that publishes each write txn's
// events as the member does, and fake sinks whose write() reports "full" at a chosen capacity (like
// a transport buffer) until the test drains them. Waiting is by polling with a deadline.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { MvccStore } from '../../mvcc/index.js';
import type { WatchRequest, WatchResponse } from '../../proto/etcdserverpb/rpc.js';
import { WatchCreateRequest } from '../../proto/etcdserverpb/rpc.js';
import type { Event } from '../../proto/mvccpb/kv.js';
import { Event_EventType } from '../../proto/mvccpb/kv.js';
import {
  fragments,
  PROGRESS_WATCH_ID,
  WatchError,
  WatchHub,
  type WatchHubOptions,
  type WatchSource,
} from './index.js';

const b = (s: string) => Buffer.from(s);

/** Publishes each write txn's events to listeners, as the member does once a write is durable. */
class FakeSource implements WatchSource {
  notifiedRevision: number;
  private readonly listeners: ((e: Event[]) => void)[] = [];
  private index = 1;
  constructor(readonly store: MvccStore) {
    this.notifiedRevision = store.rev;
  }
  onEvents(l: (e: Event[]) => void): void {
    this.listeners.push(l);
  }
  /** One write txn: puts `puts` (key=value) and deletes `dels`. Returns its revision. */
  write(puts: [string, string][], dels: string[] = []): number {
    const txn = this.store.write(this.index++);
    for (const [k, v] of puts) txn.put(b(k), b(v), 0n);
    for (const k of dels) txn.deleteRange(b(k), undefined);
    const r = txn.end();
    this.notifiedRevision = this.store.rev;
    for (const l of this.listeners) l(r.events);
    return r.rev;
  }
}

/** A transport stand-in: takes every response, says "full" once it holds `capacity` undrained. */
class FakeSink {
  readonly got: WatchResponse[] = [];
  ended: WatchError | undefined;
  undrained = 0;
  constructor(public capacity = Number.POSITIVE_INFINITY) {}
  write(r: WatchResponse): boolean {
    this.got.push(r);
    this.undrained++;
    return this.undrained < this.capacity;
  }
  end(e: WatchError): void {
    this.ended = e;
  }
}

async function setup(t: TestContext, opts: Partial<WatchHubOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'watch-hub-test-'));
  const store = await MvccStore.open({ dir, sync: false });
  const source = new FakeSource(store);
  const hub = new WatchHub(source, opts);
  t.after(async () => {
    hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, source, hub };
}

function create(fields: Partial<WatchCreateRequest>): WatchRequest {
  return { createRequest: WatchCreateRequest.fromPartial(fields) };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Events of watcher `id` as "rev:type:key" strings, in arrival order. */
function eventsOf(got: WatchResponse[], id: bigint): string[] {
  return got
    .filter((r) => r.watchId === id)
    .flatMap((r) => r.events.map((e) => `${e.kv?.modRevision}:${e.type}:${e.kv?.key.toString()}`));
}

/** No revision's events are split over two responses of watcher `id`. */
function assertRevisionsWhole(got: WatchResponse[], id: bigint): void {
  const seenIn = new Map<bigint, number>();
  got.forEach((r, i) => {
    if (r.watchId !== id) return;
    for (const e of r.events) {
      const rev = e.kv?.modRevision ?? 0n;
      const at = seenIn.get(rev);
      assert.ok(at === undefined || at === i, `revision ${rev} split over responses ${at} and ${i}`);
      seenIn.set(rev, i);
    }
  });
}

test('a stalled stream stays bounded, its watcher catches up from the store exactly once', async (t) => {
  const { source, hub } = await setup(t, { responsesBufferedMax: 4, catchUpRevisionsMax: 5 });
  const fastSink = new FakeSink();
  const slowSink = new FakeSink(2);
  const fast = hub.openStream(fastSink);
  const slow = hub.openStream(slowSink);
  fast.handleRequest(create({ key: b('k'), rangeEnd: b('l') }));
  slow.handleRequest(create({ key: b('k'), rangeEnd: b('l') }));
  let maxBuffered = 0;
  for (let i = 0; i < 120; i++) {
    if (i % 3 === 0)
      source.write([
        [`k${i % 7}`, `v${i}`],
        [`k${(i % 7) + 10}`, `w${i}`],
        ['other', 'x'],
      ]);
    else if (i % 5 === 0) source.write([], [`k${i % 7}`]);
    else source.write([[`k${i % 7}`, `v${i}`]]);
    maxBuffered = Math.max(maxBuffered, slow.buffered);
    // Let catch-up steps run between some writes (they must not overtake or duplicate).
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.ok(maxBuffered <= 4, `buffered responses ${maxBuffered} exceed responsesBufferedMax`);
  assert.ok(hub.stats().victims >= 1, 'the stalled watcher became unsynced');
  const want = eventsOf(fastSink.got, 0n);
  assert.ok(want.length > 100);
  slowSink.capacity = Number.POSITIVE_INFINITY;
  slow.handleDrain();
  await until(() => eventsOf(slowSink.got, 0n).length >= want.length, 'catch-up');
  assert.deepEqual(eventsOf(slowSink.got, 0n), want);
  assertRevisionsWhole(slowSink.got, 0n);
  assert.equal(hub.stats().unsynced, 0);
  // Back in the synced group: new events arrive directly.
  source.write([['k1', 'after']]);
  assert.deepEqual(eventsOf(slowSink.got, 0n), eventsOf(fastSink.got, 0n));
});

test('catch-up from the past is cut into bounded responses of whole revisions', async (t) => {
  const { source, hub } = await setup(t, { catchUpRevisionsMax: 7, eventsPerResponseMax: 5 });
  for (let i = 0; i < 60; i++) {
    if (i % 4 === 0)
      source.write([
        [`a${i}`, '1'],
        [`b${i}`, '2'],
        [`c${i}`, '3'],
      ]);
    else source.write([[`d${i}`, String(i)]]);
  }
  const live = new FakeSink();
  const liveStream = hub.openStream(live);
  const sink = new FakeSink();
  const s = hub.openStream(sink);
  s.handleRequest(create({ key: b('\0'), rangeEnd: Buffer.from([0]), startRevision: 2n }));
  liveStream.handleRequest(create({ key: b('\0'), rangeEnd: Buffer.from([0]) }));
  // Writes during catch-up go to the synced live watcher and, after catch-up, to this one.
  source.write([['late', '1']]);
  await until(() => hub.stats().unsynced === 0, 'catch-up');
  source.write([['later', '1']]);
  const got = eventsOf(sink.got, 0n);
  assert.equal(got.length, 15 * 3 + 45 + 2);
  assert.deepEqual(
    got.map((e) => Number(e.split(':')[0])),
    got.map((e) => Number(e.split(':')[0])).sort((x, y) => x - y),
  );
  assertRevisionsWhole(sink.got, 0n);
  for (const r of sink.got.filter((x) => x.events.length > 0)) {
    const revs = new Set(r.events.map((e) => e.kv?.modRevision));
    assert.ok(revs.size <= 7, 'at most catchUpRevisionsMax revisions per response');
    assert.ok(
      r.events.length <= 5 || revs.size === 1,
      'at most eventsPerResponseMax events unless one revision',
    );
  }
  assert.deepEqual(eventsOf(live.got, 0n), got.slice(-2));
});

test('progress: a request waits until every watcher of the stream is synced; periodic ticks', async (t) => {
  const { source, hub } = await setup(t, { progressNotifyIntervalMs: 20 });
  for (let i = 0; i < 10; i++) source.write([[`k${i}`, 'v']]);
  const sink = new FakeSink(1); // full after the created response: the catch-up cannot run
  const s = hub.openStream(sink);
  s.handleRequest(create({ key: b('k'), rangeEnd: b('l'), startRevision: 2n }));
  s.handleRequest({ progressRequest: {} });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(sink.got.length, 1, 'only the created response went out');
  sink.capacity = Number.POSITIVE_INFINITY;
  s.handleDrain();
  await until(() => sink.got.some((r) => r.watchId === PROGRESS_WATCH_ID), 'progress answer');
  const at = sink.got.findIndex((r) => r.watchId === PROGRESS_WATCH_ID);
  assert.equal(eventsOf(sink.got.slice(0, at), 0n).length, 10, 'all history went out before the answer');
  assert.equal(sink.got[at]?.header?.revision, BigInt(source.notifiedRevision));
  // Periodic notifications for an idle progress_notify watcher.
  s.handleRequest(create({ key: b('idle'), progressNotify: true }));
  await until(() => sink.got.some((r) => r.watchId === 1n && !r.created && r.events.length === 0), 'tick');
  const tick = sink.got.find((r) => r.watchId === 1n && !r.created);
  assert.equal(tick?.header?.revision, BigInt(source.notifiedRevision));
});

test('limits: watchers per stream, and a client that never reads is cut off', async (t) => {
  const { hub } = await setup(t, {
    watchersPerStreamMax: 2,
    responsesBufferedMax: 1,
    controlResponsesBufferedMax: 3,
  });
  const sink = new FakeSink();
  const s = hub.openStream(sink);
  s.handleRequest(create({ key: b('a') }));
  s.handleRequest(create({ key: b('b') }));
  s.handleRequest(create({ key: b('c') }));
  assert.equal(sink.got[2]?.cancelReason, WatchError.tooManyWatchers);
  assert.equal(sink.got[2]?.watchId, -1n);
  const stuck = new FakeSink(0);
  const s2 = hub.openStream(stuck);
  for (let i = 0; i < 10 && stuck.ended === undefined; i++) s2.handleRequest({ progressRequest: {} });
  assert.equal(stuck.ended?.message, WatchError.slowClient);
  assert.ok(s2.buffered <= 4);
});

test('fragments: split under the byte bound, last part unmarked, events preserved', () => {
  const ev = (k: string): Event => ({
    type: Event_EventType.PUT,
    kv: { key: b(k), value: b('x'.repeat(400)), createRevision: 2n, modRevision: 2n, version: 1n, lease: 0n },
    prevKv: undefined,
  });
  const resp: WatchResponse = {
    header: { clusterId: 1n, memberId: 2n, revision: 2n, raftTerm: 3n },
    watchId: 5n,
    created: false,
    canceled: false,
    compactRevision: 0n,
    cancelReason: '',
    fragment: false,
    events: [ev('a'), ev('b'), ev('c'), ev('d')],
  };
  const parts = fragments(resp, 1000);
  assert.ok(parts.length >= 2);
  assert.deepEqual(
    parts.map((p) => p.fragment),
    parts.map((_, i) => i < parts.length - 1),
  );
  assert.deepEqual(
    parts.flatMap((p) => p.events),
    resp.events,
  );
  assert.deepEqual(fragments(resp, 1 << 20), [resp]);
});

test('a catch-up step hands out a bounded number of events and serves watchers in turn', async (t) => {
  const { source, hub } = await setup(t, { catchUpEventsPerStepMax: 10 });
  for (let i = 0; i < 30; i++) source.write([[`k${i % 3}`, String(i)]]);
  const sink = new FakeSink();
  const s = hub.openStream(sink);
  for (let i = 0; i < 20; i++) s.handleRequest(create({ key: b('k'), rangeEnd: b('l'), startRevision: 2n }));
  const delivered = () => sink.got.reduce((n, r) => n + r.events.length, 0);
  await new Promise((r) => setImmediate(r));
  assert.ok(hub.stats().catchUpSteps >= 1);
  assert.ok(delivered() <= 30, `first step handed out ${delivered()} events`);
  await until(() => hub.stats().unsynced === 0, 'catch-up');
  assert.ok(hub.stats().catchUpSteps >= 20, 'one watcher (30 events) per step under a budget of 10');
  for (let id = 0n; id < 20n; id++) assert.equal(eventsOf(sink.got, id).length, 30);
});

test('a stalled stream is bounded in bytes too', async (t) => {
  const { source, hub } = await setup(t, { responsesBufferedBytesMax: 10_000 });
  const sink = new FakeSink(1);
  const s = hub.openStream(sink);
  s.handleRequest(create({ key: b('k'), rangeEnd: b('l') }));
  const value = 'v'.repeat(4000);
  let maxBytes = 0;
  for (let i = 0; i < 50; i++) {
    source.write([[`k${i % 5}`, value]]);
    maxBytes = Math.max(maxBytes, s.bufferedBytes);
  }
  assert.ok(maxBytes < 10_000 + 4100, `buffered ${maxBytes} bytes`);
  assert.ok(hub.stats().victims >= 1);
  sink.capacity = Number.POSITIVE_INFINITY;
  s.handleDrain();
  await until(() => eventsOf(sink.got, 0n).length >= 50, 'catch-up');
  assert.deepEqual(
    eventsOf(sink.got, 0n).map((e) => Number(e.split(':')[0])),
    Array.from({ length: 50 }, (_, i) => i + 2),
  );
});

test('a store closed under the hub (member stopped) stops catch-up quietly', async (t) => {
  const { source, hub, store } = await setup(t);
  for (let i = 0; i < 5; i++) source.write([[`k${i}`, 'v']]);
  await store.close();
  const sink = new FakeSink();
  hub.openStream(sink).handleRequest(create({ key: b('k'), rangeEnd: b('l'), startRevision: 2n }));
  await until(() => hub.stats().catchUpSteps === 1, 'the catch-up step');
  await new Promise((r) => setImmediate(r));
  assert.equal(sink.got.length, 1, 'only the created response');
});

test('a store replaced past what watchers saw: they resync from it, the ones behind its compaction get compacted', async (t) => {
  const { store, source } = await setup(t);
  const restoredListeners: ((rev: number) => void)[] = [];
  // A source that can also report a history gap (what a snapshot install does on a member).
  (source as WatchSource).onRestored = (l) => restoredListeners.push(l);
  const hub2 = new WatchHub(source);
  t.after(() => hub2.close());
  const sink = new FakeSink();
  const s = hub2.openStream(sink);
  s.handleRequest(create({ key: b('a'), watchId: 1n }));
  s.handleRequest(create({ key: b('b'), watchId: 2n }));
  await until(() => sink.got.filter((r) => r.created).length === 2, 'both created');
  const r1 = source.write([['a', '1']]);
  await until(() => eventsOf(sink.got, 1n).length === 1, 'the first event');
  // Writes the watchers never hear of (as if applied on the leader), then a compaction past them:
  // the shape of a store a member installs from a leader's snapshot.
  const store2 = store;
  const txn = store2.write(100);
  txn.put(b('a'), b('2'), 0n);
  txn.end();
  const txn2 = store2.write(101);
  txn2.put(b('b'), b('2'), 0n);
  const r3 = txn2.end().rev;
  await store2.compact(r3).done;
  (source as unknown as { index: number }).index = 102; // the source's next write follows these
  source.notifiedRevision = store2.rev;
  for (const l of restoredListeners) l(store2.rev);
  await until(() => sink.got.some((r) => r.watchId === 1n && r.canceled), 'watcher 1 canceled as compacted');
  const cancel = sink.got.find((r) => r.watchId === 1n && r.canceled);
  assert.equal(Number(cancel?.compactRevision), r3, "etcd's compacted error, not a silent gap");
  assert.ok(r1 + 1 < r3, 'watcher 1 needs a revision the new store compacted');
  // Watcher 2 heard nothing either, so it too still needs revisions the new store compacted (etcd
  // judges by a watcher's next revision, not by its key).
  await until(() => sink.got.some((r) => r.watchId === 2n && r.canceled), 'watcher 2 canceled as compacted');
  // A watcher created now starts at the new store's revision and sees the next write.
  s.handleRequest(create({ key: b('a'), watchId: 3n }));
  await until(() => sink.got.some((r) => r.watchId === 3n && r.created), 'watcher 3 created');
  const r4 = source.write([['a', '3']]);
  await until(() => eventsOf(sink.got, 3n).length === 1, 'watcher 3 hears the next write');
  assert.deepEqual(eventsOf(sink.got, 3n), [`${r4}:0:a`]);
});
