// Goal: every checker of the Jepsen-style suite passes a valid history and reports each kind of
// violation it exists for — stale read, lost write, write applied twice, wrong compare-and-swap,
// real-time reordering, revision going backwards per client, duplicated / reordered / missing watch
// events, a compacted error where nothing was compacted, a lease expiring before its TTL, replicas diverging — so a green run means something.
// Method: small hand-built histories (times in ms, revisions as etcd would assign them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkAll,
  checkConsistency,
  checkExits,
  checkLeases,
  checkMonotonic,
  checkRevisions,
  checkWatches,
  checkWgl,
} from './checkers/index.js';
import { checkKey } from './checkers/wgl.js';
import type { CheckResult, GroundTruth, History, KeyState, KvOp, WatcherRecord } from './history.js';

let nextId = 0;
/** An operation; `at` = [invoke, complete] (complete undefined = unknown outcome). */
function op(p: Partial<KvOp> & Pick<KvOp, 'type' | 'key'>, at: [number, number?]): KvOp {
  const o: KvOp = {
    id: nextId++,
    client: 0,
    member: 0,
    memberIncarnation: 1,
    invoke: at[0],
    complete: at[1],
    outcome: at[1] === undefined ? 'unknown' : 'ok',
    ...p,
  };
  return o;
}
const st = (value: string, modRevision: number, createRevision = modRevision, version = 1): KeyState => ({
  value,
  modRevision,
  createRevision,
  version,
});
type Ev = GroundTruth['events'][number];
const put = (key: string, value: string, modRevision: number): Ev => ({
  type: 'put',
  key,
  value,
  modRevision,
});
const del = (key: string, modRevision: number): Ev => ({ type: 'delete', key, value: '', modRevision });

function history(ops: KvOp[], events: Ev[], extra: Partial<History> = {}): History {
  const final = new Map<string, KeyState>();
  const ver = new Map<string, KeyState>();
  for (const e of events) {
    if (e.type === 'put') {
      const p = ver.get(e.key);
      ver.set(e.key, st(e.value, e.modRevision, p ? p.createRevision : e.modRevision, p ? p.version + 1 : 1));
    } else ver.delete(e.key);
  }
  for (const [k, s] of ver) final.set(k, s);
  const revision = events.length ? events[events.length - 1]!.modRevision : 1;
  return {
    seed: 0,
    ops,
    watchers: [],
    leaseOps: [],
    leaseKeys: [],
    faults: [],
    durationMs: 100,
    truth: {
      revision,
      events,
      final,
      replicas: [
        { member: 0, eventsDigest: 'd', hashKv: '1' },
        { member: 1, eventsDigest: 'd', hashKv: '1' },
      ],
    },
    ...extra,
  };
}

const kinds = (r: CheckResult) => r.violations.map((v) => v.kind);

/** A valid history: put, read, cas, failed cas, delete, read of absent, with a watcher. */
function validHistory(): History {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10]),
    op({ type: 'get', key: 'a', revision: 2, read: st('v1', 2) }, [11, 20]),
    op({ type: 'cas', key: 'a', value: 'v2', expect: 'v1', succeeded: true, revision: 3 }, [21, 30]),
    op({ type: 'cas', key: 'a', value: 'v3', expect: 'v1', succeeded: false, revision: 3 }, [31, 40]),
    op({ type: 'get', key: 'a', revision: 3, read: st('v2', 3, 2, 2), serializable: true }, [41, 45]),
    op({ type: 'delete', key: 'a', deleted: 1, revision: 4 }, [46, 50]),
    op({ type: 'get', key: 'a', revision: 4, read: null }, [51, 60]),
    // Concurrent with the put of v5: may see it or not.
    op({ type: 'put', key: 'b', value: 'v5', revision: 5 }, [61, 80]),
    op({ type: 'get', key: 'b', revision: 4, read: null, client: 1 }, [62, 70]),
    // Unknown outcome that did take effect, observed by a later read.
    op({ type: 'put', key: 'b', value: 'v6' }, [81]),
    op({ type: 'get', key: 'b', revision: 6, read: st('v6', 6, 5, 2), client: 2 }, [90, 95]),
    // Unknown outcome that never took effect.
    op({ type: 'put', key: 'c', value: 'v7' }, [96]),
  ];
  const events = [put('a', 'v1', 2), put('a', 'v2', 3), del('a', 4), put('b', 'v5', 5), put('b', 'v6', 6)];
  const watcher: WatcherRecord = {
    id: 0,
    startRevision: 1,
    reconnects: 1,
    events: events.map((e, i) => ({ ...e, at: 10 + i * 10 })),
  };
  return history(ops, events, {
    watchers: [watcher],
    leaseOps: [{ lease: 'l1', type: 'grant', invoke: 0, complete: 5, outcome: 'ok', ttl: 2 }],
    leaseKeys: [{ lease: 'l1', key: 'lk', putRevision: 2 }],
    faults: [{ kind: 'kill-all-staggered', detail: 'SIGKILL all', start: 40, end: 60 }],
  });
}

test('a valid history passes every checker, and each checker checked something', () => {
  const h = validHistory();
  for (const r of checkAll(h)) {
    assert.deepEqual(r.violations, [], r.checker);
    assert.deepEqual(r.undecided, [], r.checker);
    if (r.checker !== 'lease') assert.ok(r.checked > 0, `${r.checker} checked nothing`);
  }
});

test('stale read: a read that misses a completed write is caught by both linearizability checkers', () => {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10]),
    op({ type: 'put', key: 'a', value: 'v2', revision: 3 }, [11, 20]),
    // Invoked after v2 completed, reads v1 at revision 2: stale.
    op({ type: 'get', key: 'a', revision: 2, read: st('v1', 2) }, [25, 30]),
  ];
  const h = history(ops, [put('a', 'v1', 2), put('a', 'v2', 3)]);
  assert.deepEqual(kinds(checkRevisions(h)), ['real-time-order']);
  assert.deepEqual(kinds(checkWgl(h)), ['not-linearizable']);
  // The same stale value claimed at the newer revision is a read inconsistent with its revision.
  ops[2]!.revision = 3;
  assert.deepEqual(kinds(checkRevisions(h)), ['stale-read']);
});

test('lost write: an acknowledged put missing from the final history', () => {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10]),
    op({ type: 'put', key: 'a', value: 'v2', revision: 3 }, [11, 20]),
    op({ type: 'get', key: 'a', revision: 3, read: st('v1', 2) }, [21, 30]),
  ];
  const h = history(ops, [put('a', 'v1', 2)]);
  assert.ok(kinds(checkConsistency(h)).includes('lost-write'));
  assert.deepEqual(kinds(checkWgl(h)), ['not-linearizable']);
  // Acknowledged at one revision, present at another.
  const h2 = history([op({ type: 'put', key: 'a', value: 'v1', revision: 3 }, [0, 10])], [put('a', 'v1', 2)]);
  assert.deepEqual(kinds(checkConsistency(h2)), ['lost-write']);
});

test('a write applied twice, a failed write applied, a phantom write and diverging replicas', () => {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10]),
    { ...op({ type: 'put', key: 'a', value: 'v9' }, [11, 12]), outcome: 'fail' as const },
  ];
  const h = history(ops, [put('a', 'v1', 2), put('a', 'v1', 3), put('a', 'v9', 4), put('a', 'zz', 5)]);
  h.truth.replicas[1]!.hashKv = '2';
  const k = kinds(checkConsistency(h));
  for (const want of ['duplicate-write', 'failed-write-applied', 'phantom-write', 'replica-divergence'])
    assert.ok(k.includes(want), `${want} in ${k}`);
  const gap = history([], [put('a', 'x', 2), put('a', 'y', 4)]);
  gap.ops.push(
    op({ type: 'put', key: 'a', value: 'x' }, [0]),
    op({ type: 'put', key: 'a', value: 'y' }, [0]),
  );
  assert.deepEqual(kinds(checkConsistency(gap)), ['revision-gap']);
});

test('a replica that never reaches the final revision is reported as behind', () => {
  const h = history([op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10])], [put('a', 'v1', 2)]);
  assert.deepEqual(kinds(checkConsistency(h)), []);
  h.truth.replicas[1] = {
    member: 1,
    eventsDigest: 'behind at 1',
    hashKv: 'behind at 1',
    stuckAt: 1,
    log: 'x',
  };
  const k = kinds(checkConsistency(h));
  assert.ok(k.includes('replica-behind'), `replica-behind in ${k}`);
});

test('compare-and-swap and delete results must match the state at their revision', () => {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10]),
    // Succeeded though the key held v1, not v0.
    op({ type: 'cas', key: 'a', value: 'v2', expect: 'v0', succeeded: true, revision: 3 }, [11, 20]),
    // Failed though the key held exactly v2.
    op({ type: 'cas', key: 'a', value: 'v3', expect: 'v2', succeeded: false, revision: 3 }, [21, 30]),
    // Deleted nothing though the key exists.
    op({ type: 'delete', key: 'a', deleted: 0, revision: 3 }, [31, 40]),
  ];
  const h = history(ops, [put('a', 'v1', 2), put('a', 'v2', 3)]);
  assert.deepEqual(kinds(checkRevisions(h)), ['cas-wrong-compare', 'cas-wrong-compare', 'delete-missed']);
  assert.deepEqual(kinds(checkWgl(h)), ['not-linearizable']);
});

test('real-time order of writes: a write acknowledged first must get the lower revision', () => {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 3 }, [0, 10]),
    op({ type: 'put', key: 'b', value: 'v2', revision: 2 }, [20, 30]),
  ];
  const h = history(ops, [put('b', 'v2', 2), put('a', 'v1', 3)]);
  assert.deepEqual(kinds(checkRevisions(h)), ['real-time-order']);
});

test('revision going backwards for one client', () => {
  const ops = [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2 }, [0, 10]),
    op({ type: 'put', key: 'a', value: 'v2', revision: 3 }, [11, 20]),
    op({ type: 'get', key: 'a', revision: 2, read: st('v1', 2), serializable: true }, [21, 30]),
  ];
  const h = history(ops, [put('a', 'v1', 2), put('a', 'v2', 3)]);
  assert.deepEqual(kinds(checkMonotonic(h)), ['revision-went-backwards']);
  // After the member restarted, a serializable read may start lower again.
  ops[2]!.memberIncarnation = 2;
  assert.deepEqual(kinds(checkMonotonic(h)), []);
});

test('watch: duplicated, reordered, missing, wrong, stalled events are reported', () => {
  const events = [put('a', 'v1', 2), put('a', 'v2', 3), del('a', 4), put('b', 'v3', 5)];
  const h = history(
    [
      op({ type: 'put', key: 'a', value: 'v1' }, [0]),
      op({ type: 'put', key: 'a', value: 'v2' }, [0]),
      op({ type: 'put', key: 'b', value: 'v3' }, [0]),
    ],
    events,
  );
  const w = (id: number, evs: Ev[], extra: Partial<WatcherRecord> = {}): WatcherRecord => ({
    id,
    startRevision: 1,
    reconnects: 0,
    events: evs.map((e) => ({ ...e, at: 1 })),
    ...extra,
  });
  h.watchers = [w(0, events)];
  assert.deepEqual(kinds(checkWatches(h)), []);
  h.watchers = [w(1, [events[0]!, events[1]!, events[1]!, events[2]!, events[3]!])];
  assert.deepEqual(kinds(checkWatches(h)), ['duplicate-event']);
  h.watchers = [w(2, [events[0]!, events[2]!, events[1]!, events[3]!])];
  assert.deepEqual(kinds(checkWatches(h)), ['out-of-order']);
  h.watchers = [w(3, [events[0]!, events[2]!, events[3]!])];
  assert.deepEqual(kinds(checkWatches(h)), ['gap']);
  h.watchers = [w(4, [events[0]!, { ...events[1]!, value: 'other' }, events[2]!, events[3]!])];
  assert.deepEqual(kinds(checkWatches(h)), ['wrong-event']);
  h.watchers = [w(5, [events[2]!, events[3]!], { startRevision: 4 })];
  assert.deepEqual(kinds(checkWatches(h)), []);
  h.watchers = [w(6, [events[0]!], { lagging: 'stopped at 2' })];
  assert.deepEqual(kinds(checkWatches(h)), ['stalled']);
  // compaction: the compacted error is right only for a watch that resumed below the compaction
  h.compactions = [4];
  h.watchers = [w(7, [events[0]!], { aborted: 'compacted at 4' })];
  assert.deepEqual(kinds(checkWatches(h)), []);
  h.watchers = [w(8, [events[0]!, events[1]!, events[2]!], { aborted: 'compacted at 4' })];
  assert.deepEqual(kinds(checkWatches(h)), ['spurious-compacted']);
  h.watchers = [w(9, [events[0]!], { aborted: 'compacted at 5' })];
  assert.deepEqual(kinds(checkWatches(h)), ['spurious-compacted'], 'no compaction reached 5');
  h.watchers = [w(10, [events[0]!], { aborted: 'stream cut' })];
  assert.deepEqual(kinds(checkWatches(h)), ['watch-aborted']);
});

test('lease: keys deleted before TTL after the last successful keep-alive are an early expiry', () => {
  const events = [put('lk', 'l1', 2), put('a', 'v1', 3), del('lk', 4), put('a', 'v2', 5)];
  const base = () =>
    history(
      [
        op({ type: 'put', key: 'a', value: 'v1', revision: 3 }, [100, 110]),
        // Completed at 2500 with revision 5 >= the deletion's 4: the deletion happened by 2500.
        op({ type: 'put', key: 'a', value: 'v2', revision: 5 }, [2400, 2500]),
      ],
      events,
      {
        leaseOps: [
          { lease: 'l1', type: 'grant', invoke: 0, complete: 5, outcome: 'ok', ttl: 2 },
          { lease: 'l1', type: 'keepalive', invoke: 1000, complete: 1010, outcome: 'ok', ttl: 2 },
        ],
        leaseKeys: [{ lease: 'l1', key: 'lk', putRevision: 2 }],
      },
    );
  // Keep-alive at 1000 with TTL 2 s keeps it until 3000; seen deleted by 2500: early.
  assert.deepEqual(kinds(checkLeases(base())), ['early-expiry']);
  // Seen deleted only at 3100: fine.
  const late = base();
  late.ops[1]!.complete = 3100;
  late.ops[1]!.invoke = 3000;
  assert.deepEqual(kinds(checkLeases(late)), []);
  // A watch event at revision 4 received at 1500 is an observation of the deletion too.
  const byWatch = late;
  byWatch.watchers = [{ id: 0, startRevision: 4, reconnects: 0, events: [{ ...del('lk', 4), at: 1500 }] }];
  assert.deepEqual(kinds(checkLeases(byWatch)), ['early-expiry']);
  // A keep-alive answered TTL > 0 after the deletion was seen.
  const renewed = base();
  renewed.ops[1]!.complete = 3100;
  renewed.ops[1]!.invoke = 3000;
  renewed.leaseOps.push({
    lease: 'l1',
    type: 'keepalive',
    invoke: 3200,
    complete: 3210,
    outcome: 'ok',
    ttl: 2,
  });
  assert.deepEqual(kinds(checkLeases(renewed)), ['renewed-after-expiry']);
});

test('WGL: concurrent operations may take effect in either order; unknown writes may or may not apply', () => {
  // Two concurrent puts, then reads that see the second-invoked one first: fine.
  const ok = [
    op({ type: 'put', key: 'a', value: 'x' }, [0, 50]),
    op({ type: 'put', key: 'a', value: 'y' }, [10, 20]),
    op({ type: 'get', key: 'a', read: st('x', 0) }, [60, 70]),
  ];
  assert.deepEqual(checkKey(ok), { ok: true });
  // After reading x, reading y again is impossible (y cannot take effect twice).
  ok.push(op({ type: 'get', key: 'a', read: st('y', 0) }, [80, 90]));
  assert.equal(checkKey(ok).ok, false);
  // An unknown cas may have taken effect long after its invocation.
  const unknownCas = [
    op({ type: 'put', key: 'a', value: 'x' }, [0, 10]),
    op({ type: 'cas', key: 'a', expect: 'x', value: 'z' }, [5]),
    op({ type: 'get', key: 'a', read: st('x', 0) }, [20, 30]),
    op({ type: 'get', key: 'a', read: st('z', 0) }, [40, 50]),
  ];
  assert.deepEqual(checkKey(unknownCas), { ok: true });
  // But a definitely failed write never takes effect.
  unknownCas[1]!.outcome = 'fail';
  unknownCas[1]!.complete = 6;
  assert.equal(checkKey(unknownCas).ok, false);
});

test('WGL reports "undecided" when the search budget is exceeded, never a pass', () => {
  const ops: KvOp[] = [];
  for (let i = 0; i < 12; i++) ops.push(op({ type: 'put', key: 'a', value: `u${i}` }, [i]));
  ops.push(op({ type: 'get', key: 'a', read: st('nope', 0) }, [100, 110]));
  const r = checkKey(ops, { maxStates: 50 });
  assert.equal(r.ok, 'unknown');
  const h = history(ops, []);
  const res = checkWgl(h, { maxStates: 50 });
  assert.equal(res.undecided.length, 1);
  assert.equal(res.violations.length, 0);
  // With a real budget the search finishes and finds the violation.
  assert.equal(checkKey(ops).ok, false);
});

test('lease keys: a put with an unknown outcome may attach the key, but only with its lease as value', () => {
  const h = history([], [put('lk', 'l1', 2), del('lk', 3)], {
    leaseOps: [{ lease: 'l1', type: 'grant', invoke: 0, complete: 5, outcome: 'ok', ttl: 2 }],
    leaseKeys: [{ lease: 'l1', key: 'lk' }],
  });
  assert.deepEqual(kinds(checkConsistency(h)), []);
  // The deletion's revision 3 was observed at 1000, before grant + TTL = 2000: early, even though
  // the put's own answer was lost (its revision comes from the history).
  h.ops.push(op({ type: 'get', key: 'x', revision: 3, read: null }, [900, 1000]));
  assert.deepEqual(kinds(checkLeases(h)), ['early-expiry']);
  const wrong = history([], [put('lk', 'l9', 2)], { leaseKeys: [{ lease: 'l1', key: 'lk' }] });
  assert.deepEqual(kinds(checkConsistency(wrong)), ['phantom-write']);
});

test('exits: a member that exits on its own during process faults is caught; disk rounds are not judged', () => {
  const exit = 'j2 (before healing): tsetcd: cannot start: no leader after 3000 ms';
  const h = history([], [], {
    faults: [
      { kind: 'kill-all-staggered', detail: 'SIGKILL all', start: 10, end: 20 },
      { kind: 'kill-all-staggered', detail: 'SIGKILL all', start: 30, end: 40, exits: [exit] },
      // A disk fault in the same round: the member may exit (as etcd's does on a failed disk).
      { kind: 'kill', detail: 'with fsync-fail: SIGKILL j1', start: 50, end: 60, exits: [exit] },
      { kind: 'fsync-fail', detail: 'with kill: fdatasync EIO on j2', start: 50, end: 60, exits: [exit] },
      { kind: 'pause', detail: 'with kill: SIGSTOP j3', start: 70, end: 80, exits: [exit] },
      { kind: 'kill', detail: 'with pause: SIGKILL j2', start: 70, end: 80, exits: [exit] },
    ],
  });
  const r = checkExits(h);
  assert.equal(r.checked, 3);
  assert.deepEqual(kinds(r), ['member-exited', 'member-exited']);
  assert.match(r.violations[0]!.detail, /during kill-all-staggered .*no leader after 3000 ms/);
  assert.deepEqual(kinds(checkExits(history([], [], { faults: [h.faults[0]!] }))), []);
});
