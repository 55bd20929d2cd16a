// Goal: RawNode's driver contract: errors are typed (proposal without leader, local message from
// outside, bootstrap on a used log), a single member elects itself and commits, ready()/advance()
// pairing is enforced, the uncommitted-bytes bound drops proposals, and a restart from storage
// resumes term, vote and commit. Method: direct calls on single- and two-member setups.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssertionError } from '../pkg/assert.js';
import { SeededRng } from '../pkg/rng.js';
import { MemoryStorage, MessageType, newMessage, RaftError, RawNode, StateRole } from './index.js';

function node(id: bigint, storage: MemoryStorage, extra: object = {}): RawNode {
  return new RawNode({ id, storage, rng: new SeededRng(Number(id)), ...extra });
}

function drain(n: RawNode, storage: MemoryStorage): number {
  let applied = 0;
  while (n.hasReady()) {
    const rd = n.ready();
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    applied += rd.committedEntries.length;
    n.advance();
  }
  return applied;
}

function code(f: () => void): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof RaftError) return e.code;
    throw e;
  }
}

test('typed errors at the API edge', () => {
  const s = new MemoryStorage();
  const n = node(1n, s);
  n.bootstrap([1n, 2n]);
  assert.equal(
    code(() => n.propose(new Uint8Array([1]))),
    'proposal-dropped',
    'no leader yet',
  );
  assert.equal(
    code(() => n.readIndex(new Uint8Array([1]))),
    'proposal-dropped',
  );
  assert.equal(
    code(() => n.step(newMessage({ type: MessageType.Hup }))),
    'step-local-msg',
  );
  drain(n, s);
  assert.equal(
    code(() => node(1n, s).bootstrap([1n])),
    'not-empty-storage',
  );
});

test('a single member elects itself, commits, and restarts where it left off', () => {
  const s = new MemoryStorage();
  const n = node(1n, s);
  n.bootstrap([1n]);
  drain(n, s);
  n.campaign();
  assert.equal(n.status().softState.role, StateRole.Leader);
  n.propose(new TextEncoder().encode('x'));
  drain(n, s);
  const st = n.status();
  assert.equal(st.hardState.commit, 3, 'bootstrap entry, empty entry of term 2, x');
  assert.equal(st.applied, 3);
  const again = node(1n, s);
  assert.deepEqual(again.status().hardState, st.hardState);
  assert.equal(again.status().softState.role, StateRole.Follower);
});

test('ready() twice without advance() is a programmer error', () => {
  const s = new MemoryStorage();
  const n = node(1n, s);
  n.bootstrap([1n]);
  n.ready();
  assert.throws(() => n.ready(), AssertionError);
  n.advance();
  assert.throws(() => n.advance(), AssertionError);
});

test('maxUncommittedEntriesSize drops proposals once the bound is reached', () => {
  const s = new MemoryStorage();
  const n = node(1n, s, { maxUncommittedEntriesSize: 10 });
  n.bootstrap([1n, 2n]); // two voters: nothing commits without 2
  drain(n, s);
  n.campaign();
  drain(n, s);
  // Force leadership: 2 grants the vote.
  n.step(newMessage({ type: MessageType.VoteResp, from: 2n, to: 1n, term: 2 }));
  assert.equal(n.status().softState.role, StateRole.Leader);
  n.propose(new Uint8Array(8));
  n.propose(new Uint8Array(2));
  assert.equal(
    code(() => n.propose(new Uint8Array(1))),
    'proposal-dropped',
  );
});
