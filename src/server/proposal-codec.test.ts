// Goal: a proposal encoded on the fast path has exactly the bytes the generated codec writes, the
// message kept for this member's own apply says exactly what those bytes say, and on a real member
// the leader's own entries are applied from that message (Raft keeps the bytes' identity).
// Method: byte-compare against `InternalRaftRequest.encode(fromPartial(...))` over every direct kind
// and some fallbacks; compare the kept message with the decoded bytes as JSON; count hits on a member.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InternalRaftRequest, type RequestHeader } from '../proto/etcdserverpb/raft_internal.js';
import { PutRequest, RangeRequest } from '../proto/etcdserverpb/rpc.js';
import { silentLogger } from './logger.js';
import { Member } from './member.js';
import { encodeProposal, OwnProposals } from './proposal-codec.js';
import type { Proposer } from './proposer.js';
import { loneMemberConfig } from './test-member.js';

const b = (s: string) => Buffer.from(s);
const header: RequestHeader = { ID: 0x1234_5678_9abc_def0n, username: 'alice', authRevision: 7n };

/** Requests as the API hands them over (decoded from the wire, so complete) and as internal callers do (partial). */
const cases: [string, Partial<InternalRaftRequest>][] = [
  [
    'put',
    {
      put: PutRequest.decode(
        PutRequest.encode(PutRequest.fromPartial({ key: b('k'), value: b('v') })).finish(),
      ),
    },
  ],
  [
    'put, every field',
    {
      put: {
        key: b('key'),
        value: Buffer.alloc(300, 1),
        lease: 42n,
        prevKv: true,
        ignoreValue: false,
        ignoreLease: false,
      },
    },
  ],
  ['put, empty value', { put: { key: b('k') } as PutRequest }],
  [
    'range',
    {
      range: RangeRequest.fromPartial({
        key: b('a'),
        rangeEnd: b('z'),
        limit: 5n,
        revision: 3n,
        serializable: true,
      }),
    },
  ],
  ['deleteRange', { deleteRange: { key: b('a'), rangeEnd: b('\0'), prevKv: true } }],
  [
    'txn',
    {
      txn: {
        compare: [
          {
            result: 0,
            target: 1,
            key: b('k'),
            rangeEnd: Buffer.alloc(0),
            version: 2n,
            createRevision: 0n,
            modRevision: 0n,
            value: Buffer.alloc(0),
            lease: 0n,
          },
        ],
        success: [
          {
            requestPut: {
              key: b('k'),
              value: b('x'),
              lease: 0n,
              prevKv: false,
              ignoreValue: false,
              ignoreLease: false,
            },
          },
        ],
        failure: [
          { requestRange: RangeRequest.fromPartial({ key: b('k') }) },
          { requestDeleteRange: { key: b('q'), rangeEnd: Buffer.alloc(0), prevKv: false } },
        ],
      },
    },
  ],
  ['leaseGrant (fallback)', { leaseGrant: { ID: 9n, TTL: 60n } }],
  ['compaction (fallback)', { compaction: { revision: 12n, physical: true } }],
  ['authEnable (fallback)', { authEnable: {} }],
  ['two fields (fallback)', { put: { key: b('k') } as PutRequest, ID: 5n }],
  ['header only (fallback)', {}],
  ['put beside absent fields', { put: { key: b('k') } as PutRequest, txn: undefined, range: null as never }],
];

test('a proposal has the bytes of the generated codec, and its message says what they say', () => {
  for (const [name, fields] of cases) {
    const { request, data } = encodeProposal(fields, header);
    const expected = InternalRaftRequest.encode(
      InternalRaftRequest.fromPartial({ ...fields, header }),
    ).finish();
    assert.deepEqual(Buffer.from(data), Buffer.from(expected), `${name}: bytes differ`);
    assert.deepEqual(
      InternalRaftRequest.toJSON(request),
      InternalRaftRequest.toJSON(InternalRaftRequest.decode(data)),
      `${name}: the kept message differs from its bytes`,
    );
    assert.deepEqual(
      Buffer.from(InternalRaftRequest.encode(request).finish()),
      Buffer.from(data),
      `${name}: the kept message encodes differently`,
    );
  }
});

test('the kept message is a copy: changing the caller object after proposing changes nothing', () => {
  const put = {
    key: b('k'),
    value: b('v'),
    lease: 0n,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  };
  const { request } = encodeProposal({ put }, header);
  put.lease = 99n;
  put.prevKv = true;
  assert.equal(request.put?.lease, 0n);
  assert.equal(request.put?.prevKv, false);
});

test('own proposals are found once by the identity of their bytes; anything else is decoded', () => {
  const own = new OwnProposals();
  const p = encodeProposal({ put: { key: b('k'), value: b('v') } as PutRequest }, header);
  own.remember(p);
  assert.equal(own.take(Uint8Array.from(p.data)) === p.request, false, 'equal bytes, other object: decoded');
  assert.equal(own.take(p.data), p.request);
  assert.equal(own.hits, 1);
  const again = own.take(p.data);
  assert.notEqual(again, p.request, 'taken twice');
  assert.deepEqual(InternalRaftRequest.toJSON(again), InternalRaftRequest.toJSON(p.request));
});

test('a single member applies its own puts from their messages, with the same result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-proposal-'));
  const m = await Member.start(loneMemberConfig(dir), silentLogger);
  try {
    // A private part, read for this check only: is the fast path taken at all?
    const proposer = (m as unknown as { parts: { proposer: Proposer } }).parts.proposer;
    const before = proposer.own.hits;
    for (let i = 0; i < 20; i++) {
      await m.put({
        key: b(`k${i}`),
        value: b(`v${i}`),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      });
    }
    assert.ok(
      proposer.own.hits - before >= 20,
      `own entries applied from their message: ${proposer.own.hits - before} of 20`,
    );
    const got = await m.range(RangeRequest.fromPartial({ key: b('k'), rangeEnd: b('l') }));
    assert.equal(got.count, 20n);
    assert.deepEqual(
      got.kvs.map((kv) => Buffer.from(kv.value).toString()).sort(),
      Array.from({ length: 20 }, (_, i) => `v${i}`).sort(),
    );
  } finally {
    await m.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
