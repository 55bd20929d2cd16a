// Goal: every watcher sees exactly the history it asked for — in revision order, never duplicated,
// no gaps, a revision's events in one response — through concurrent writes (puts, deletes, range
// deletes, txns), compaction in the middle, and a member restart after which clients resume from the
// last revision they saw + 1.
// Method: an in-process member and API server in a fresh temp dir; seeded random writers over gRPC
// and ~100 random watchers (single keys, prefixes, ranges, from-key, all keys; random start
// revisions in the past, now or the future; random NOPUT/NODELETE filters and prev_kv) on four Watch
// streams. The model is built from the writes' own responses: the ops that changed something, sorted
// by their header revision (which must be exactly 2..final), replayed on a map give every event.
// Each watcher's life is a list of segments (create → compaction cancel / restart / end); a segment
// must equal the model's events from its start up to the last revision it saw, and the last
// segment must reach the final revision, confirmed by a progress request barrier.
// Repro: WATCH_E2E_SEED=<seed> node --test dist/test/e2e/watch.test.js
// A second test stops reading on a real gRPC stream while writes go on: the server's buffer for the
// stream stays bounded (the watcher falls back to the store), and after resuming the client gets
// every event exactly once, in order; cancelling the call drops its watchers.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { inspect } from 'node:util';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { Client, credentials } from '@grpc/grpc-js';
import { GrpcServer } from '../../src/api/grpc-server.js';
import { registerWatchService } from '../../src/api/watch-service.js';
import { SeededRng } from '../../src/pkg/index.js';
import {
  type DeleteRangeResponse,
  WatchCreateRequest_FilterType as Filter,
  type PutResponse,
  type RequestOp,
  type TxnResponse,
  WatchRequest,
  type WatchResponse,
  WatchService,
} from '../../src/proto/etcdserverpb/rpc.js';
import { type Event, Event_EventType, type KeyValue } from '../../src/proto/mvccpb/kv.js';
import { Member, type MemberConfig } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { b, connect, type EtcdClients, tempDir, waitFor } from '../helpers/index.js';
import { type InprocServer, startInprocServer, testMemberConfig } from '../helpers/inproc.js';

const SEEDS = process.env.WATCH_E2E_SEED ? [Number(process.env.WATCH_E2E_SEED)] : [11, 12];
const STREAMS = 4;
const WATCHERS_PER_STREAM_PHASE = 13;
const WRITERS = 4;
const OPS_PER_WRITER_PHASE = 40;
const KEYS = ['a', 'k00', 'k01', 'k02', 'k03', 'k05', 'k08', 'k10', 'k11', 'p/x', 'p/y', 'z'];

// ---------------------------------------------------------------- server

type Server = InprocServer;

function memberConfig(dataDir: string): MemberConfig {
  return testMemberConfig({
    name: 'watch-e2e',
    dataDir,
    clientUrls: ['http://127.0.0.1:0'],
    maxRequestBytes: 1.5 * 1024 * 1024,
  });
}

const startServer = (dataDir: string) => startInprocServer(memberConfig(dataDir));
const stopServer = (s: Server) => s.stop();

// ---------------------------------------------------------------- writes and the model

type Op =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'del'; key: string; end?: string }
  | { kind: 'txn'; ops: { key: string; value?: string }[] };

interface Acked {
  op: Op;
  rev: number;
  changed: boolean;
  deleted: number[];
}

function randomOp(rng: SeededRng, n: number): Op {
  const key = () => KEYS[rng.int(KEYS.length)] as string;
  const r = rng.int(100);
  if (r < 45) return { kind: 'put', key: key(), value: `v${n}` };
  if (r < 60) return { kind: 'del', key: key() };
  if (r < 67) {
    const [x, y] = [key(), key()].sort() as [string, string];
    return x === y ? { kind: 'del', key: x } : { kind: 'del', key: x, end: y };
  }
  const keys = [...new Set([key(), key(), key()])];
  return {
    kind: 'txn',
    ops: keys.map((k) => (rng.int(3) === 0 ? { key: k } : { key: k, value: `t${n}-${k}` })),
  };
}

async function apply(c: EtcdClients, op: Op): Promise<Acked> {
  if (op.kind === 'put') {
    const r: PutResponse = await c.kv.put({ key: b(op.key), value: b(op.value) });
    return { op, rev: Number(r.header?.revision), changed: true, deleted: [] };
  }
  if (op.kind === 'del') {
    const r: DeleteRangeResponse = await c.kv.deleteRange({
      key: b(op.key),
      ...(op.end === undefined ? {} : { rangeEnd: b(op.end) }),
    });
    return { op, rev: Number(r.header?.revision), changed: r.deleted > 0n, deleted: [Number(r.deleted)] };
  }
  const success: RequestOp[] = op.ops.map((o) =>
    o.value === undefined
      ? { requestDeleteRange: { key: b(o.key), rangeEnd: Buffer.alloc(0), prevKv: false } }
      : {
          requestPut: {
            key: b(o.key),
            value: b(o.value),
            lease: 0n,
            prevKv: false,
            ignoreValue: false,
            ignoreLease: false,
          },
        },
  );
  const r: TxnResponse = await c.kv.txn({ success });
  const deleted = r.responses.map((x) => Number(x.responseDeleteRange?.deleted ?? 0n));
  const changed = op.ops.some((o, i) => o.value !== undefined || (deleted[i] ?? 0) > 0);
  return { op, rev: Number(r.header?.revision), changed, deleted };
}

/** Replays the acked writes in revision order; returns every event by revision order. */
function buildModel(acked: Acked[]): { events: Event[]; finalRev: number } {
  const changed = acked.filter((a) => a.changed).sort((x, y) => x.rev - y.rev);
  for (const [i, a] of changed.entries()) {
    assert.equal(a.rev, i + 2, 'changing writes have revisions 2, 3, ... without gaps');
  }
  const state = new Map<string, KeyValue>();
  const events: Event[] = [];
  const putKv = (key: string, value: string, rev: number) => {
    const prev = state.get(key);
    const kv: KeyValue = {
      key: b(key),
      value: b(value),
      createRevision: BigInt(prev ? Number(prev.createRevision) : rev),
      modRevision: BigInt(rev),
      version: (prev?.version ?? 0n) + 1n,
      lease: 0n,
    };
    events.push({ type: Event_EventType.PUT, kv, prevKv: prev });
    state.set(key, kv);
  };
  const delRange = (key: string, end: string | undefined, rev: number): number => {
    const keys = [...state.keys()]
      .filter((k) => (end === undefined ? k === key : k >= key && k < end))
      .sort();
    for (const k of keys) {
      const kv: KeyValue = {
        key: b(k),
        value: Buffer.alloc(0),
        createRevision: 0n,
        modRevision: BigInt(rev),
        version: 0n,
        lease: 0n,
      };
      events.push({ type: Event_EventType.DELETE, kv, prevKv: state.get(k) });
      state.delete(k);
    }
    return keys.length;
  };
  for (const a of changed) {
    const op = a.op;
    if (op.kind === 'put') putKv(op.key, op.value, a.rev);
    else if (op.kind === 'del') assert.equal(delRange(op.key, op.end, a.rev), a.deleted[0]);
    else {
      op.ops.forEach((o, i) => {
        if (o.value !== undefined) putKv(o.key, o.value, a.rev);
        else assert.equal(delRange(o.key, undefined, a.rev), a.deleted[i]);
      });
    }
  }
  return { events, finalRev: changed.length + 1 };
}

// ---------------------------------------------------------------- watchers

interface Spec {
  id: bigint;
  key: string;
  /** undefined: single key; '\0': from key; otherwise exclusive end. */
  end?: string;
  noPut: boolean;
  noDelete: boolean;
  prevKv: boolean;
}

interface Segment {
  /** First revision this segment must show (set from the created header when started "now"). */
  start: number;
  requested: number;
  events: Event[];
  responses: number[][];
  /** How it ended: undefined while live. */
  end?: { why: 'compacted'; compactRev: number } | { why: 'restart' };
}

class Watcher {
  readonly segments: Segment[] = [];
  /** Waiting for: the created response (true), or a cancel after compaction. */
  state: 'creating' | 'live' | 'canceling' = 'creating';
  constructor(readonly spec: Spec) {}
  get current(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }
  /** Where to resume: last event's revision + 1, or the current segment's start if it saw none. */
  resumeRev(): number {
    const s = this.current;
    const last = s.events[s.events.length - 1];
    return last ? Number(last.kv?.modRevision) + 1 : s.start;
  }
  matches(ev: Event): boolean {
    const k = ev.kv?.key.toString('latin1') ?? '';
    const { key, end } = this.spec;
    const inRange = end === undefined ? k === key : k >= key && (end === '\0' || k < end);
    if (!inRange) return false;
    if (this.spec.noPut && ev.type === Event_EventType.PUT) return false;
    if (this.spec.noDelete && ev.type === Event_EventType.DELETE) return false;
    return true;
  }
}

function createRequest(spec: Spec, start: number): WatchRequest {
  return WatchRequest.fromPartial({
    createRequest: {
      key: b(spec.key),
      rangeEnd: spec.end === undefined ? Buffer.alloc(0) : b(spec.end),
      startRevision: BigInt(start),
      watchId: spec.id,
      prevKv: spec.prevKv,
      filters: [...(spec.noPut ? [Filter.NOPUT] : []), ...(spec.noDelete ? [Filter.NODELETE] : [])],
    },
  });
}

/** One client Watch stream: dispatches responses to its watchers by id. */
class StreamClient {
  readonly watchers = new Map<bigint, Watcher>();
  private call: ClientDuplexStream<WatchRequest, WatchResponse> | undefined;
  failure: string | undefined;
  progressAnswers: number[] = [];
  compactionsSeen = 0;

  open(c: EtcdClients): void {
    const def = WatchService.watch;
    const call = c.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
    this.call = call;
    call.on('data', (r: WatchResponse) => {
      if (this.call !== call) return;
      try {
        this.onResponse(r);
      } catch (e) {
        this.failure ??= (e as Error).message;
      }
    });
    call.on('error', () => {});
  }

  close(): void {
    this.call?.cancel();
    this.call = undefined;
  }

  add(spec: Spec, start: number): void {
    const w = new Watcher(spec);
    this.watchers.set(spec.id, w);
    this.start(w, start);
  }

  start(w: Watcher, start: number): void {
    w.segments.push({ start, requested: start, events: [], responses: [] });
    w.state = 'creating';
    this.call?.write(createRequest(w.spec, start));
  }

  requestProgress(): void {
    this.call?.write(WatchRequest.fromPartial({ progressRequest: {} }));
  }

  private onResponse(r: WatchResponse): void {
    if (r.watchId === -1n) {
      assert.ok(!r.created && !r.canceled, `a -1 response is a progress answer: ${inspect(r)}`);
      this.progressAnswers.push(Number(r.header?.revision));
      return;
    }
    const w = this.watchers.get(r.watchId);
    assert.ok(w, `response for unknown watch id ${r.watchId}`);
    if (r.created) {
      assert.equal(w.state, 'creating', 'created only after a create');
      assert.ok(!r.canceled, `create refused: ${r.cancelReason}`);
      w.state = 'live';
      if (w.current.requested === 0) w.current.start = Number(r.header?.revision) + 1;
      return;
    }
    if (r.canceled) {
      if (w.state === 'canceling') {
        // Our cancel of a compacted watcher: create it again from the compact revision.
        const seg = w.current;
        assert.equal(seg.end?.why, 'compacted');
        this.start(w, seg.end?.why === 'compacted' ? seg.end.compactRev : 0);
        return;
      }
      assert.ok(r.compactRevision > 0n, 'a canceled response we did not ask for is a compaction');
      assert.equal(w.state, 'live');
      w.current.end = { why: 'compacted', compactRev: Number(r.compactRevision) };
      this.compactionsSeen++;
      w.state = 'canceling';
      this.call?.write(WatchRequest.fromPartial({ cancelRequest: { watchId: w.spec.id } }));
      return;
    }
    assert.equal(w.state, 'live', 'events only for a live watcher');
    assert.ok(r.events.length > 0, 'an event response carries events (progress_notify is off)');
    w.current.events.push(...r.events);
    w.current.responses.push([...new Set(r.events.map((e) => Number(e.kv?.modRevision)))]);
  }
}

function randomSpec(rng: SeededRng, id: bigint): Spec {
  const pick = rng.int(6);
  const key = KEYS[rng.int(KEYS.length)] as string;
  let s: Pick<Spec, 'key' | 'end'>;
  if (pick <= 1) s = { key };
  else if (pick === 2) s = { key: 'k0', end: 'k1' };
  else if (pick === 3) s = { key: 'k03', end: 'p/y' };
  else if (pick === 4) s = { key, end: '\0' };
  else s = { key: '\0', end: '\0' };
  const f = rng.int(6);
  return { id, ...s, noPut: f === 0, noDelete: f === 1, prevKv: rng.int(2) === 0 };
}

// ---------------------------------------------------------------- checks

function brief(e: Event, withPrev: boolean): unknown {
  const kv = (x: KeyValue | undefined) =>
    x && {
      key: x.key.toString(),
      value: x.value.toString(),
      c: Number(x.createRevision),
      m: Number(x.modRevision),
      v: Number(x.version),
    };
  return { type: e.type, kv: kv(e.kv), ...(withPrev ? { prev: kv(e.prevKv) } : {}) };
}

function checkWatcher(w: Watcher, model: Event[], finalRev: number, compactRev: number): void {
  const label = `watcher ${inspect(w.spec)}`;
  w.segments.forEach((seg, i) => {
    const last = i === w.segments.length - 1;
    const upTo = last
      ? finalRev
      : Number(seg.events[seg.events.length - 1]?.kv?.modRevision ?? seg.start - 1);
    // As etcd's, compaction at R drops tombstones at R: a watch from R may or may not (depending on
    // the physical compaction's progress) see a delete at exactly R.
    const tombstoneAtCompact = (e: Event) =>
      e.type === Event_EventType.DELETE && Number(e.kv?.modRevision) === compactRev;
    const optional = seg.start === compactRev;
    const want = model.filter((e) => {
      const rev = Number(e.kv?.modRevision);
      return rev >= seg.start && rev <= upTo && w.matches(e) && !(optional && tombstoneAtCompact(e));
    });
    const segEvents = optional ? seg.events.filter((e) => !tombstoneAtCompact(e)) : seg.events;
    // prev_kv is read at mod_revision - 1 when sent; below the compact revision it may be gone.
    const lenient = (e: Event | undefined) =>
      e !== undefined && e.prevKv === undefined && Number(e.kv?.modRevision) - 1 < compactRev;
    const got = segEvents.map((e) => brief(e, w.spec.prevKv && !lenient(e)));
    const exp = want.map((e, k) => brief(e, w.spec.prevKv && !lenient(segEvents[k])));
    assert.deepEqual(got, exp, `${label}, segment ${i} from ${seg.start} to ${upTo}`);
    const seen = new Set<number>();
    for (const revs of seg.responses) {
      for (const rev of revs) {
        assert.ok(!seen.has(rev), `${label}: revision ${rev} split over two responses`);
        seen.add(rev);
      }
    }
    if (!last) {
      const next = w.segments[i + 1] as Segment;
      if (seg.end?.why === 'compacted') {
        assert.equal(seg.end.compactRev, compactRev, `${label}: compact revision`);
        assert.ok(seg.start < compactRev, `${label}: canceled although its start was not compacted`);
        assert.equal(next.start, compactRev);
      } else {
        assert.equal(next.start, upTo + 1, `${label}: resumed at the last revision seen + 1`);
      }
    }
  });
}

// ---------------------------------------------------------------- the run

async function runSeed(seed: number): Promise<void> {
  const rng = new SeededRng(seed);
  const dir = tempDir('tsetcd-watch-e2e-');
  let server = await startServer(dir.path);
  let client = connect(server.endpoint);
  const streams = Array.from({ length: STREAMS }, () => new StreamClient());
  for (const s of streams) s.open(client);
  const acked: Acked[] = [];
  let nextOp = 0;
  let nextId = 1n;
  try {
    const writePhase = async () => {
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          for (let i = 0; i < OPS_PER_WRITER_PHASE; i++)
            acked.push(await apply(client, randomOp(rng, nextOp++)));
        }),
      );
    };
    const currentRev = () => Math.max(1, ...acked.map((a) => a.rev));
    const addWatchers = () => {
      const cur = currentRev();
      for (const s of streams) {
        for (let i = 0; i < WATCHERS_PER_STREAM_PHASE; i++) {
          const r = rng.int(4);
          const start = r === 0 ? 0 : r === 1 ? cur + 1 + rng.int(20) : 1 + rng.int(cur);
          s.add(randomSpec(rng, nextId++), start);
        }
      }
    };
    // Phase 1: watchers from the past, now and the future; concurrent writes.
    addWatchers();
    await writePhase();
    // Phase 2: compaction in the middle, more watchers (some from compacted revisions), more writes.
    const compactRev = Math.floor(currentRev() / 2) + rng.int(Math.floor(currentRev() / 2));
    await client.kv.compact({ revision: BigInt(compactRev), physical: false });
    addWatchers();
    await writePhase();
    await waitFor(() => streams.every((s) => [...s.watchers.values()].every((w) => w.state === 'live')), {
      what: 'watchers live before the restart',
    });
    // Phase 3: restart the member; every watcher resumes from the last revision it saw + 1.
    for (const s of streams) s.close();
    client.close();
    await stopServer(server);
    server = await startServer(dir.path);
    client = connect(server.endpoint);
    for (const s of streams) {
      s.open(client);
      for (const w of s.watchers.values()) {
        w.current.end = { why: 'restart' };
        s.start(w, w.resumeRev());
      }
    }
    await writePhase();
    const { events, finalRev } = buildModel(acked);
    // Barrier: a progress answer at >= finalRev, asked when every watcher was live, means every
    // event up to finalRev was sent before it on that stream.
    for (const s of streams) {
      await waitFor(
        async () => {
          assert.equal(s.failure, undefined);
          if (![...s.watchers.values()].every((w) => w.state === 'live')) return false;
          const before = s.compactionsSeen;
          const n = s.progressAnswers.length;
          s.requestProgress();
          await waitFor(() => s.progressAnswers.length > n, { what: 'progress answer' });
          return s.compactionsSeen === before && (s.progressAnswers[n] ?? 0) >= finalRev;
        },
        { what: 'progress barrier', timeoutMs: 20_000 },
      );
    }
    let checked = 0;
    for (const s of streams) {
      assert.equal(s.failure, undefined);
      for (const w of s.watchers.values()) {
        checkWatcher(w, events, finalRev, compactRev);
        checked++;
      }
    }
    const compacted = streams.reduce((n, s) => n + s.compactionsSeen, 0);
    assert.ok(compacted > 0, 'some watchers started below the compact revision');
    assert.equal(checked, 2 * STREAMS * WATCHERS_PER_STREAM_PHASE);
  } finally {
    for (const s of streams) s.close();
    client.close();
    await stopServer(server).catch(() => {});
    dir.remove();
  }
}

for (const seed of SEEDS) {
  test(`watchers see exactly the history through writes, compaction and restart (seed ${seed})`, {
    timeout: 120_000,
  }, async () => {
    try {
      await runSeed(seed);
    } catch (e) {
      (e as Error).message += `\nrepro: WATCH_E2E_SEED=${seed} node --test dist/test/e2e/watch.test.js`;
      throw e;
    }
  });
}

test('a client that stops reading: bounded server buffer, then every event once, in order', {
  timeout: 60_000,
}, async () => {
  const dir = tempDir('tsetcd-watch-e2e-');
  const member = await Member.start(memberConfig(dir.path), silentLogger);
  const grpc = new GrpcServer({ maxReceiveMessageBytes: 4 << 20 });
  const hub = registerWatchService(grpc, member, { responsesBufferedMax: 4 });
  await new Promise<void>((r) => grpc.http2.listen(0, '127.0.0.1', () => r()));
  const port = (grpc.http2.address() as AddressInfo).port;
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    const def = WatchService.watch;
    const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
    const got: WatchResponse[] = [];
    call.on('data', (r: WatchResponse) => got.push(r));
    call.on('error', () => {});
    call.write(WatchRequest.fromPartial({ createRequest: { key: b('big/'), rangeEnd: b('big0') } }));
    await waitFor(() => got.length === 1, { what: 'created' });
    call.pause();
    const value = Buffer.alloc(16 * 1024, 1);
    const revs: number[] = [];
    for (let i = 0; i < 400; i++) {
      const r = await member.put({
        key: b(`big/${i % 10}`),
        value,
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      });
      revs.push(Number(r.header?.revision));
    }
    assert.ok(hub.stats().victims >= 1, 'the watcher fell behind instead of buffering without bound');
    // At most the bound plus what the transports hold has been produced while the client slept.
    assert.ok(got.length < 50, `the client could not have read ${got.length} responses while paused`);
    call.resume();
    await waitFor(() => got.reduce((n, r) => n + r.events.length, 0) >= 400, {
      what: 'all events',
      timeoutMs: 20_000,
    });
    const seen = got.flatMap((r) => r.events.map((e) => Number(e.kv?.modRevision)));
    assert.deepEqual(seen, revs);
    await waitFor(() => hub.stats().unsynced === 0 && hub.stats().synced === 1, { what: 'synced again' });
    call.cancel();
    await waitFor(() => hub.stats().watchers === 0, { what: 'watchers dropped with the call' });
  } finally {
    client.close();
    await grpc.close();
    await member.stop();
    dir.remove();
  }
});

test('progress_notify at the interval the member is configured with', { timeout: 30_000 }, async () => {
  const dir = tempDir('tsetcd-watch-e2e-');
  // watchProgressNotifyIntervalMs is read by the Watch service when the member's config carries it.
  const cfg = { ...memberConfig(dir.path), watchProgressNotifyIntervalMs: 50 };
  const server = await startInprocServer(cfg);
  const client = connect(server.endpoint);
  try {
    await client.kv.put({ key: b('p'), value: b('1') });
    const def = WatchService.watch;
    const call = client.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
    const got: WatchResponse[] = [];
    call.on('data', (r: WatchResponse) => got.push(r));
    call.on('error', () => {});
    call.write(WatchRequest.fromPartial({ createRequest: { key: b('p'), progressNotify: true } }));
    await waitFor(() => got.length >= 2, { what: 'created and a progress notification' });
    assert.equal(got[0]?.created, true);
    assert.deepEqual(
      [got[1]?.watchId, got[1]?.events.length, got[1]?.header?.revision],
      [got[0]?.watchId, 0, 2n],
    );
    call.cancel();
  } finally {
    client.close();
    await server.stop();
    dir.remove();
  }
});
