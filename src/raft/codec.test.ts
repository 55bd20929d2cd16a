// Goal: the wire codecs round-trip every message and conf change exactly, and reject malformed
// input with RaftError 'malformed' (never a crash or a silent misread). Method: fast-check
// round-trips over arbitrary messages; truncations and corruptions of valid encodings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeConfChange, decodeMessage, encodeConfChange, encodeMessage } from './codec.js';
import { RaftError } from './errors.js';
import { type ConfChange, ConfChangeType, type Message, MessageType } from './message.js';
import { EntryType } from './types.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const idx = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 40 });
const entry = fc.record({
  term: idx,
  index: idx,
  type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
  data: bytes,
});
const snapshot = fc.record({
  metadata: fc.record({
    index: idx,
    term: idx,
    confState: fc.record({
      voters: fc.array(u64, { maxLength: 5 }),
      learners: fc.array(u64, { maxLength: 3 }),
    }),
  }),
  data: bytes,
});
const message: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(
    ...(Object.values(MessageType).filter((v) => typeof v === 'number') as MessageType[]),
  ),
  to: u64,
  from: u64,
  term: idx,
  logTerm: idx,
  index: idx,
  entries: fc.array(entry, { maxLength: 4 }),
  commit: idx,
  snapshot: fc.option(snapshot, { nil: null }),
  reject: fc.boolean(),
  rejectHint: idx,
  context: bytes,
});

test('encodeMessage/decodeMessage round-trip', () => {
  fc.assert(
    fc.property(message, (m) => {
      assert.deepEqual(decodeMessage(encodeMessage(m)), structuredClone(m));
    }),
  );
});

test('encodeConfChange/decodeConfChange round-trip', () => {
  fc.assert(
    fc.property(
      fc.record({
        type: fc.constantFrom(
          ConfChangeType.AddNode,
          ConfChangeType.RemoveNode,
          ConfChangeType.UpdateNode,
          ConfChangeType.AddLearnerNode,
        ),
        nodeId: u64,
        context: bytes,
      }),
      (cc: ConfChange) => {
        assert.deepEqual(decodeConfChange(encodeConfChange(cc)), structuredClone(cc));
      },
    ),
  );
});

function isMalformed(f: () => unknown): boolean {
  try {
    f();
    return false;
  } catch (e) {
    if (e instanceof RaftError && e.code === 'malformed') return true;
    throw e;
  }
}

test('every truncation of a valid message is rejected as malformed', () => {
  fc.assert(
    fc.property(message, (m) => {
      const b = encodeMessage(m);
      for (let n = 0; n < b.byteLength; n++)
        assert.ok(
          isMalformed(() => decodeMessage(b.subarray(0, n))),
          `len ${n}`,
        );
    }),
    { numRuns: 50 },
  );
});

test('wrong version, unknown type, trailing bytes are rejected', () => {
  const m = encodeMessage({
    type: MessageType.App,
    to: 2n,
    from: 1n,
    term: 3,
    logTerm: 2,
    index: 10,
    entries: [],
    commit: 9,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  });
  const v = m.slice();
  v[0] = 2;
  assert.ok(isMalformed(() => decodeMessage(v)));
  const t = m.slice();
  t[1] = 99;
  assert.ok(isMalformed(() => decodeMessage(t)));
  const extra = new Uint8Array(m.byteLength + 1);
  extra.set(m);
  assert.ok(isMalformed(() => decodeMessage(extra)));
  assert.ok(isMalformed(() => decodeConfChange(new Uint8Array([1, 42, 0, 0, 0, 0, 0, 0, 0, 1, 0]))));
});
