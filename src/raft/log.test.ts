// Goal: the log's merged view of stable (Storage) and unstable entries is always the log the core
// appended, whatever the interleaving of appends that overwrite uncommitted suffixes, persists
// that race with later appends (the driver persists a Ready while new entries arrive), commits
// and compactions. Method: fast-check runs random operation sequences against a plain array model
// and compares term(i) and slice() for every index after each step; plus focused unit cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NO_LIMIT, RaftLog } from './log.js';
import { limitSize, UnstableLog } from './log-unstable.js';
import { MemoryStorage } from './memory-storage.js';
import { type Entry, EntryType } from './types.js';

function ent(index: number, term: number, size = 0): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array(size) };
}

type Op =
  | { kind: 'append'; back: number; count: number }
  | { kind: 'ready'; appendBack: number; appendCount: number; raced: boolean }
  | { kind: 'commit'; frac: number }
  | { kind: 'compact'; frac: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('append' as const),
    back: fc.nat({ max: 4 }),
    count: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant('ready' as const),
    appendBack: fc.nat({ max: 4 }),
    appendCount: fc.integer({ min: 1, max: 3 }),
    raced: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('commit' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('compact' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

test('stable + unstable merge equals the model log under random operations', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const storage = new MemoryStorage();
      const log = new RaftLog(storage);
      const model: number[] = [0]; // model[i] = term of entry i; model[0] is the dummy
      let term = 1;
      const appendModel = (back: number, count: number) => {
        // Overwrite at most the uncommitted suffix.
        const start = Math.max(log.committed + 1, model.length - back);
        term++;
        const ents: Entry[] = [];
        for (let i = 0; i < count; i++) ents.push(ent(start + i, term));
        log.append(ents);
        model.length = start;
        for (const e of ents) model.push(e.term);
      };
      for (const op of ops) {
        switch (op.kind) {
          case 'append':
            appendModel(op.back, op.count);
            break;
          case 'ready': {
            const ents = log.unstableEntries();
            // New entries may arrive between ready() and advance(), possibly replacing some.
            if (op.raced) appendModel(op.appendBack, op.appendCount);
            storage.append(ents);
            const last = ents[ents.length - 1];
            if (last) log.stableTo(last.index, last.term);
            break;
          }
          case 'commit':
            log.commitTo(log.committed + Math.floor((log.lastIndex() - log.committed) * op.frac));
            break;
          case 'compact': {
            const stableLast = Math.min(storage.lastIndex(), log.committed);
            const c =
              storage.firstIndex() - 1 + Math.floor((stableLast - storage.firstIndex() + 1) * op.frac);
            // Only compact entries that are stable and agree with the model.
            if (c >= storage.firstIndex() && c < log.unstable.offset) storage.compact(c);
            break;
          }
        }
        assert.equal(log.lastIndex(), model.length - 1);
        for (let i = log.firstIndex() - 1; i <= log.lastIndex(); i++) {
          assert.equal(log.term(i), model[i], `term(${i})`);
        }
        const all = log.slice(log.firstIndex(), log.lastIndex() + 1, NO_LIMIT) ?? [];
        assert.deepEqual(
          all.map((e) => e.term),
          model.slice(log.firstIndex()),
        );
      }
    }),
    { numRuns: 300 },
  );
});

test('maybeAppend: conflict truncates the uncommitted suffix; mismatch returns -1', () => {
  const log = new RaftLog(new MemoryStorage());
  log.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
  log.commitTo(1);
  assert.equal(log.maybeAppend(3, 1, 3, [ent(4, 3)]), -1, 'term at 3 is 2, not 1');
  assert.equal(log.maybeAppend(1, 1, 3, [ent(2, 3), ent(3, 3)]), 3);
  assert.deepEqual(
    (log.slice(1, 4, NO_LIMIT) ?? []).map((e) => e.term),
    [1, 3, 3],
  );
  assert.equal(log.committed, 3);
});

test('findConflictByTerm skips a whole term', () => {
  const log = new RaftLog(new MemoryStorage());
  log.append([ent(1, 1), ent(2, 2), ent(3, 2), ent(4, 4), ent(5, 4)]);
  assert.deepEqual(log.findConflictByTerm(5, 3), [3, 2]);
  assert.deepEqual(log.findConflictByTerm(5, 4), [5, 4]);
  assert.deepEqual(log.findConflictByTerm(5, 0), [0, 0]);
});

test('maybeCommit only commits entries of the given term (Figure 8)', () => {
  const log = new RaftLog(new MemoryStorage());
  log.append([ent(1, 1), ent(2, 2), ent(3, 4)]);
  assert.equal(log.maybeCommit(2, 4), false);
  assert.equal(log.committed, 0);
  assert.equal(log.maybeCommit(3, 4), true);
  assert.equal(log.committed, 3);
});

test('limitSize keeps at least one entry and stays within the byte bound', () => {
  const ents = [ent(1, 1, 5), ent(2, 1, 5), ent(3, 1, 5)];
  assert.equal(limitSize(ents, 0).length, 1);
  assert.equal(limitSize(ents, 10).length, 2);
  assert.equal(limitSize(ents, 100).length, 3);
});

test('unstable: stableTo ignores a persisted entry that has since been replaced', () => {
  const u = new UnstableLog(1);
  u.truncateAndAppend([ent(1, 1), ent(2, 1)]);
  u.truncateAndAppend([ent(2, 2)]);
  u.stableTo(2, 1);
  assert.equal(u.offset, 1, 'entry 2 of term 1 was replaced; nothing became stable');
  u.stableTo(2, 2);
  assert.equal(u.offset, 3);
  assert.equal(u.entries.length, 0);
});
