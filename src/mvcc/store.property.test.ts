// Goal: the store behaves like etcd's mvcc on any sequence of writes, reads, compactions and
// restarts: same KeyValues (create/mod revision, version, lease), counts, revisions, errors and
// historical events as a simple in-memory model, and a restart changes nothing observable.
// Method: fast-check command sequences (write txns of puts/deletes, ranges at current, historical,
// future and compacted revisions with limits and countOnly, compactions valid and invalid,
// rangeEvents, commit, close+reopen) run against MvccStore in a fresh temp dir and against the
// model (a full copy of the key space per revision); every result is compared. The key set mixes
// bytes >= 0x80 and prefixes so byte order and range ends matter, and keys longer than lmdb's
// longest key (the persisted key index keeps those apart). Seeded by fast-check: a failure
// prints the seed and the shrunk command list.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Event_EventType, type KeyValue } from '../proto/mvccpb/kv.js';
import { MvccError, MvccStore, type RangeResult } from './index.js';

// The last three are around the persisted index's longest lmdb key (INDEX_KEY_BYTES_MAX = 1900):
// one at it, two past it (kept by hash, pinned in memory), all sharing the same prefix.
const KEYS = [
  'a',
  'ab',
  'b',
  'b\xff',
  '\x80',
  'c',
  'cc',
  'm'.repeat(1900),
  `${'m'.repeat(1900)}a`,
  'm'.repeat(2500),
].map((k) => Buffer.from(k, 'latin1'));
const ENDS: (Buffer | undefined)[] = [undefined, undefined, Buffer.from([0]), Buffer.alloc(0), ...KEYS];

interface MKV {
  key: string;
  value: string;
  create: number;
  mod: number;
  ver: number;
  lease: bigint;
}
interface MEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  kv?: MKV;
  mod: number;
}

type TxnOp = { t: 'put'; k: number; v: number; lease: bigint } | { t: 'del'; k: number; e: number };
type Cmd =
  | { t: 'txn'; ops: TxnOp[] }
  | { t: 'range'; k: number; e: number; rev: RevSel; limit: number; countOnly: boolean }
  | { t: 'compact'; rev: RevSel }
  | { t: 'events'; from: RevSel; to: RevSel }
  | { t: 'commit' }
  | { t: 'reopen' };

const arbTxnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('put' as const),
      k: fc.nat({ max: KEYS.length - 1 }),
      v: fc.nat({ max: 5 }),
      lease: fc.constantFrom(0n, 7n, 2n ** 62n),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('del' as const),
      k: fc.nat({ max: KEYS.length - 1 }),
      e: fc.nat({ max: ENDS.length - 1 }),
    }),
  },
);
// Revision selectors, resolved against the model when the command runs: 0 (= current), near the
// current revision (may be future), near the compact revision (may be compacted), or absolute.
type RevSel = { base: 'zero' | 'cur' | 'compact' | 'abs'; d: number };
const arbRev: fc.Arbitrary<RevSel> = fc.oneof(
  fc.record({ base: fc.constant('zero' as const), d: fc.constant(0) }),
  fc.record({ base: fc.constant('cur' as const), d: fc.integer({ min: -3, max: 1 }) }),
  fc.record({ base: fc.constant('compact' as const), d: fc.integer({ min: -2, max: 2 }) }),
  fc.record({ base: fc.constant('abs' as const), d: fc.nat({ max: 40 }) }),
);
function resolveRev(sel: RevSel, m: { rev: number; compactRev: number }): number {
  switch (sel.base) {
    case 'zero':
      return 0;
    case 'cur':
      return Math.max(1, m.rev + sel.d);
    case 'compact':
      return Math.max(1, m.compactRev + sel.d);
    case 'abs':
      return sel.d;
  }
}
const arbCmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('txn' as const),
      ops: fc.array(arbTxnOp, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('range' as const),
      k: fc.nat({ max: KEYS.length - 1 }),
      e: fc.nat({ max: ENDS.length - 1 }),
      rev: arbRev,
      limit: fc.nat({ max: 3 }),
      countOnly: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), rev: arbRev }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('events' as const), from: arbRev, to: arbRev }) },
  { weight: 1, arbitrary: fc.constant({ t: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

const l1 = (b: Buffer): string => b.toString('latin1');
const cmpKey = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));

function inRange(k: string, key: Buffer, end: Buffer | undefined): boolean {
  if (end === undefined) return k === l1(key);
  const open = end.length === 0 || (end.length === 1 && end[0] === 0);
  return cmpKey(k, l1(key)) >= 0 && (open || cmpKey(k, l1(end)) < 0);
}

class Model {
  rev = 1;
  compactRev = -1;
  states = new Map<number, Map<string, MKV>>([[1, new Map()]]);
  events = new Map<number, MEvent[]>();

  /** Applies a txn; `after[i]` is the txn's view (all keys, sorted) after op i, `prev[i]` the
   * KeyValues op i deleted. */
  txn(ops: TxnOp[]): { evs: MEvent[]; prev: MKV[][]; after: MKV[][] } {
    const st = new Map(this.states.get(this.rev)!);
    const main = this.rev + 1;
    const evs: MEvent[] = [];
    const prev: MKV[][] = [];
    const after: MKV[][] = [];
    for (const op of ops) {
      const deleted: MKV[] = [];
      if (op.t === 'put') {
        const k = l1(KEYS[op.k]!);
        const old = st.get(k);
        const kv: MKV = {
          key: k,
          value: `v${op.v}`,
          create: old ? old.create : main,
          mod: main,
          ver: old ? old.ver + 1 : 1,
          lease: op.lease,
        };
        st.set(k, kv);
        evs.push({ type: 'PUT', key: k, kv, mod: main });
      } else {
        const keys = [...st.keys()].filter((k) => inRange(k, KEYS[op.k]!, ENDS[op.e])).sort(cmpKey);
        for (const k of keys) {
          deleted.push(st.get(k)!);
          st.delete(k);
          evs.push({ type: 'DELETE', key: k, mod: main });
        }
      }
      prev.push(deleted);
      after.push([...st.keys()].sort(cmpKey).map((k) => st.get(k)!));
    }
    if (evs.length > 0) {
      this.rev = main;
      this.states.set(main, st);
      this.events.set(main, evs);
    }
    return { evs, prev, after };
  }

  range(key: Buffer, end: Buffer | undefined, rev: number, limit: number, countOnly: boolean) {
    if (rev > this.rev) return 'future-rev';
    const at = rev <= 0 ? this.rev : rev;
    if (at < this.compactRev) return 'compacted';
    const st = this.states.get(at)!;
    const keys = [...st.keys()].filter((k) => inRange(k, key, end)).sort(cmpKey);
    const kvs = countOnly ? [] : keys.slice(0, limit > 0 ? limit : keys.length).map((k) => st.get(k)!);
    return { kvs, count: keys.length, rev: this.rev };
  }
}

function norm(kv: KeyValue): MKV {
  return {
    key: l1(kv.key),
    value: kv.value.toString('latin1'),
    create: Number(kv.createRevision),
    mod: Number(kv.modRevision),
    ver: Number(kv.version),
    lease: kv.lease,
  };
}

function normEvent(e: { type: Event_EventType; kv: KeyValue | undefined }): MEvent {
  assert.ok(e.kv);
  if (e.type === Event_EventType.DELETE) {
    assert.equal(e.kv.version, 0n);
    assert.equal(e.kv.value.length, 0);
    return { type: 'DELETE', key: l1(e.kv.key), mod: Number(e.kv.modRevision) };
  }
  return { type: 'PUT', key: l1(e.kv.key), kv: norm(e.kv), mod: Number(e.kv.modRevision) };
}

function codeOf(f: () => unknown): string | { ok: unknown } {
  try {
    return { ok: f() };
  } catch (err) {
    if (err instanceof MvccError) return err.code;
    throw err;
  }
}

async function run(cmds: Cmd[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mvcc-prop-'));
  let store = await MvccStore.open({ dir, sync: false });
  const m = new Model();
  let ci = 0;
  try {
    for (const c of cmds) {
      switch (c.t) {
        case 'txn': {
          const txn = store.write(++ci);
          const beginRev = m.rev;
          const want = m.txn(c.ops);
          let wrote = false;
          c.ops.forEach((op, i) => {
            if (op.t === 'put') txn.put(KEYS[op.k]!, Buffer.from(`v${op.v}`), op.lease);
            else {
              const r = txn.deleteRange(KEYS[op.k]!, ENDS[op.e]);
              assert.equal(r.deleted, want.prev[i]!.length);
              assert.deepEqual(r.prevKvs.map(norm), want.prev[i]);
            }
            wrote ||= op.t === 'put' || want.prev[i]!.length > 0;
            assert.equal(txn.rev, wrote ? beginRev + 1 : beginRev, 'txn.rev');
            const view = txn.range(Buffer.from([0]), Buffer.from([0]));
            assert.deepEqual(view.kvs.map(norm), want.after[i], 'the txn sees its own writes');
            assert.equal(view.rev, txn.rev);
          });
          const { rev, events } = txn.end();
          assert.equal(rev, m.rev, 'revision after txn');
          assert.deepEqual(events.map(normEvent), want.evs);
          assert.equal(store.consistentIndex, ci);
          break;
        }
        case 'range': {
          const rev = resolveRev(c.rev, m);
          const key = KEYS[c.k]!;
          const end = ENDS[c.e];
          const got = codeOf(() => store.range(key, end, { rev, limit: c.limit, countOnly: c.countOnly }));
          const want = m.range(key, end, rev, c.limit, c.countOnly);
          if (typeof want === 'string') assert.equal(got, want);
          else {
            assert.ok(typeof got !== 'string', `unexpected error ${String(got)}`);
            const r = got.ok as RangeResult;
            assert.deepEqual({ kvs: r.kvs.map(norm), count: r.count, rev: r.rev }, want);
          }
          break;
        }
        case 'compact': {
          const rev = resolveRev(c.rev, m);
          const want = rev <= m.compactRev ? 'compacted' : rev > m.rev ? 'future-rev' : undefined;
          const got = codeOf(() => store.compact(rev));
          if (want !== undefined) assert.equal(got, want);
          else {
            assert.ok(typeof got !== 'string');
            m.compactRev = rev;
            if (ci % 2 === 0) await (got.ok as { done: Promise<void> }).done; // sometimes let it run behind
          }
          assert.equal(store.compactRev, m.compactRev);
          break;
        }
        case 'events': {
          // Events at the compact revision itself may have lost tombstones (as in etcd), so the
          // model comparison starts above it.
          const from = Math.max(resolveRev(c.from, m), m.compactRev + 1, 1);
          const toSel = resolveRev(c.to, m);
          const to = toSel === 0 ? m.rev : Math.min(toSel, m.rev);
          const got = store.rangeEvents(from, to, Buffer.from([0]), Buffer.from([0])).map(normEvent);
          const want: MEvent[] = [];
          for (let r = from; r <= to; r++) want.push(...(m.events.get(r) ?? []));
          assert.deepEqual(got, want);
          assert.equal(
            codeOf(() => store.rangeEvents(m.rev, m.rev + 1, KEYS[0]!, undefined)),
            'future-rev',
          );
          break;
        }
        case 'commit':
          await store.commit();
          break;
        case 'reopen': {
          const before = await store.hashKV(0);
          await store.close();
          store = await MvccStore.open({ dir, sync: false });
          assert.equal(store.rev, m.rev);
          assert.equal(store.compactRev, m.compactRev);
          assert.equal(store.consistentIndex, ci);
          assert.deepEqual(await store.hashKV(0), before);
          break;
        }
      }
    }
    // Final sweep: every readable revision, every key range, matches the model.
    for (let r = Math.max(m.compactRev, 1); r <= m.rev; r++) {
      const got = store.range(Buffer.from([0]), Buffer.from([0]), { rev: r });
      const want = m.range(Buffer.from([0]), Buffer.from([0]), r, 0, false);
      assert.ok(typeof want !== 'string');
      assert.deepEqual(got.kvs.map(norm), want.kvs);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('store matches the in-memory model over random histories with restarts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbCmd, { minLength: 20, maxLength: 120 }), (cmds) => run(cmds)),
    { numRuns: 40 },
  );
});
