// Goal: PrefixGroups wakes a waiter exactly when no key created before its own is left under the
// prefix (also keys of nested names), wakes observers exactly when the holder changes, applies
// each event once even when the snapshot was read ahead of the published events, and enforces its
// bound and cancellation.
// Method: a fake store (a map with revisions) and a fake event source whose publication the test
// controls; "still waiting" is checked after draining the microtask queue.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Event, Event_EventType, type KeyValue } from '../../proto/mvccpb/kv.js';
import { Status } from '../../wire/status.js';
import { type GroupSource, PrefixGroups, prefixEnd } from './prefix-groups.js';

class FakeSource implements GroupSource {
  private readonly kvs = new Map<string, KeyValue>();
  private readonly listeners: ((e: Event[]) => void)[] = [];
  rev = 1;
  readonly store: GroupSource['store'];

  constructor() {
    const self = this;
    this.store = {
      get rev() {
        return self.rev;
      },
      range: (key, end) => ({
        kvs: [...this.kvs.values()]
          .filter(
            (kv) =>
              Buffer.compare(kv.key, key) >= 0 && (end === undefined || Buffer.compare(kv.key, end) < 0),
          )
          .sort((x, y) => Buffer.compare(x.key, y.key)),
      }),
    };
  }

  onEvents(l: (e: Event[]) => void): void {
    this.listeners.push(l);
  }

  /** Writes without publishing; returns the event to publish later. */
  put(key: string, value = ''): Event {
    this.rev++;
    const old = this.kvs.get(key);
    const kv: KeyValue = {
      key: Buffer.from(key),
      createRevision: old?.createRevision ?? BigInt(this.rev),
      modRevision: BigInt(this.rev),
      version: (old?.version ?? 0n) + 1n,
      value: Buffer.from(value),
      lease: 0n,
    };
    this.kvs.set(key, kv);
    return { type: Event_EventType.PUT, kv, prevKv: undefined };
  }

  del(key: string): Event {
    this.rev++;
    this.kvs.delete(key);
    const kv: KeyValue = {
      key: Buffer.from(key),
      createRevision: 0n,
      modRevision: BigInt(this.rev),
      version: 0n,
      value: Buffer.alloc(0),
      lease: 0n,
    };
    return { type: Event_EventType.DELETE, kv, prevKv: undefined };
  }

  publish(...events: Event[]): void {
    for (const l of this.listeners) l(events);
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function tracked(p: Promise<void>) {
  const s = { done: false, error: undefined as unknown };
  p.then(
    () => {
      s.done = true;
    },
    (e: unknown) => {
      s.done = true;
      s.error = e;
    },
  );
  return s;
}

test('a waiter wakes only when every earlier key under the prefix is gone (nested names too)', async () => {
  const src = new FakeSource();
  const groups = new PrefixGroups(src, 100);
  src.publish(src.put('n/a'), src.put('n/sub/b'), src.put('other/x'), src.put('n/c'));
  const cRev = BigInt(src.rev);
  const w = tracked(groups.waitPredecessors(Buffer.from('n/'), cRev, undefined));
  await flush();
  assert.equal(w.done, false);
  src.publish(src.del('n/sub/b'));
  src.publish(src.put('n/d'), src.put('n/a', 'again'), src.del('other/x'));
  await flush();
  assert.equal(w.done, false, 'n/a still exists (an update keeps its create revision)');
  src.publish(src.del('n/a'));
  await flush();
  assert.equal(w.done, true);
  assert.equal(w.error, undefined);
  assert.equal(groups.size, 0, 'the group goes with its last waiter');
});

test('the holder needs no wait; a waiter whose own key went wakes with its predecessors', async () => {
  const src = new FakeSource();
  const groups = new PrefixGroups(src, 100);
  src.publish(src.put('l/1'));
  const r1 = BigInt(src.rev);
  src.publish(src.put('l/2'));
  const r2 = BigInt(src.rev);
  await groups.waitPredecessors(Buffer.from('l/'), r1, undefined);
  assert.equal(groups.size, 0);
  const w = tracked(groups.waitPredecessors(Buffer.from('l/'), r2, undefined));
  src.publish(src.del('l/2'));
  await flush();
  assert.equal(w.done, false, 'its own key going does not end the wait');
  src.publish(src.del('l/1'));
  await flush();
  assert.equal(w.done, true);
});

test('events at or below the snapshot revision are not applied again', async () => {
  const src = new FakeSource();
  const groups = new PrefixGroups(src, 100);
  const e1 = src.put('p/1');
  const e2 = src.del('p/1');
  const e3 = src.put('p/1');
  const mine = src.put('p/2');
  const w = tracked(groups.waitPredecessors(Buffer.from('p/'), mine.kv?.modRevision ?? 0n, undefined));
  // Published late: the delete of an older incarnation of p/1 must not count.
  src.publish(e1, e2, e3, mine);
  await flush();
  assert.equal(w.done, false);
  src.publish(src.del('p/1'));
  await flush();
  assert.equal(w.done, true);
});

test('cancel rejects with CANCELLED and drops the waiter; the bound refuses one more', async () => {
  const src = new FakeSource();
  const groups = new PrefixGroups(src, 2);
  src.publish(src.put('k/1'));
  const ac = new AbortController();
  const w1 = tracked(groups.waitPredecessors(Buffer.from('k/'), 100n, ac.signal));
  const w2 = tracked(groups.waitPredecessors(Buffer.from('k/'), 101n, undefined));
  await assert.rejects(
    groups.waitPredecessors(Buffer.from('k/'), 102n, undefined),
    (e: { code: Status; message: string }) => {
      assert.equal(e.code, Status.RESOURCE_EXHAUSTED);
      assert.equal(e.message, 'tsetcd: too many waiters on "k" (at most 2)');
      return true;
    },
  );
  assert.throws(() => groups.observe(Buffer.from('k/'), { holder: () => {} }), /too many waiters/);
  ac.abort();
  await flush();
  assert.equal((w1.error as { code: Status }).code, Status.CANCELLED);
  assert.equal(groups.users(Buffer.from('k/')), 1);
  src.publish(src.del('k/1'));
  await flush();
  assert.equal(w2.done, true);
  assert.equal(groups.size, 0);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(groups.waitPredecessors(Buffer.from('k/'), 1n, pre.signal), /context canceled/);
});

test('observers hear each holder change and nothing else', () => {
  const src = new FakeSource();
  const groups = new PrefixGroups(src, 100);
  const seen: string[] = [];
  const reg0 = groups.observe(Buffer.from('e/'), {
    holder: (kv, rev) => seen.push(`${kv.key}=${kv.value}@${rev}`),
  });
  assert.equal(reg0.holder, undefined);
  src.publish(src.put('e/a', 'a1')); // rev 2
  src.publish(src.put('e/b', 'b1')); // 3: not the holder
  src.publish(src.put('e/a', 'a2')); // 4
  src.publish(src.put('e/b', 'b2')); // 5: not the holder
  src.publish(src.del('e/a')); // 6: b leads
  src.publish(src.del('e/b')); // 7: nobody
  src.publish(src.put('ex', 'x')); // 8: not under the prefix
  src.publish(src.put('e/c', 'c1')); // 9
  assert.deepEqual(seen, ['e/a=a1@2', 'e/a=a2@4', 'e/b=b2@6', 'e/c=c1@9']);
  const late = groups.observe(Buffer.from('e/'), { holder: () => {} });
  assert.equal(late.holder?.value.toString(), 'c1');
  assert.equal(late.revision, 9n);
  reg0.close();
  late.close();
  assert.equal(groups.size, 0);
});

test('prefixEnd', () => {
  const cases: [number[], number[]][] = [
    [
      [0x61, 0x2f],
      [0x61, 0x30],
    ],
    [[0x61, 0xff], [0x62]],
    [[0xff, 0xff], [0x00]],
  ];
  for (const [p, want] of cases) assert.deepEqual([...prefixEnd(Buffer.from(p))], want);
});
