// Goal: etcd 3.4's membership replay and the entry rewrite for tsetcd's log do what etcd does.
// Method: table tests over hand-encoded raftpb.ConfChange and v2 etcdserverpb.Request entries
// (encoded here as gogo-protobuf encodes them): each conf change is applied or refused as etcd's
// ValidateConfigurationChange decides; each entry's rewrite decodes with tsetcd's own decoders.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InternalRaftRequest } from '../../proto/etcdserverpb/raft_internal.js';
import { ConfChangeType, decodeConfChange, EntryType } from '../../raft/index.js';
import { decodeMemberContext } from '../membership.js';
import { decodeV2Request, EtcdMembership, toTsetcdEntry } from './etcd-members.js';
import { EntryConfChange, EntryConfChangeV2, EntryNormal } from './etcd-wal.js';

function varint(n: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
}
const vfield = (f: number, v: bigint) => [...varint(BigInt(f << 3)), ...varint(v)];
const bfield = (f: number, b: Buffer) => [...varint(BigInt((f << 3) | 2)), ...varint(BigInt(b.length)), ...b];

/** raftpb.ConfChange as etcd 3.4 writes it, the context as its JSON (ids as plain numbers). */
function confChange(type: ConfChangeType, nodeId: bigint, ctx?: object): Buffer {
  const json = ctx ? Buffer.from(JSON.stringify(ctx).replace('"ID"', `${nodeId}`)) : Buffer.alloc(0);
  return Buffer.from([
    ...vfield(1, 7n),
    ...vfield(2, BigInt(type)),
    ...vfield(3, nodeId),
    ...(ctx ? bfield(4, json) : []),
  ]);
}

function v2(method: string, path: string, val: string): Buffer {
  return Buffer.from([
    ...vfield(1, 99n),
    ...bfield(2, Buffer.from(method)),
    ...bfield(3, Buffer.from(path)),
    ...bfield(4, Buffer.from(val)),
  ]);
}

const entry = (type: number, data: Buffer, index = 5) => ({ term: 2, index, type, data });

test('conf changes are applied or refused as etcd 3.4 validates them', () => {
  const m = new EtcdMembership({
    members: [
      { id: 1n, name: 'a', peerUrls: ['http://a:2380'], clientUrls: ['http://a:2379'], isLearner: false },
    ],
    removed: [9n],
  });
  const apply = (type: ConfChangeType, id: bigint, ctx?: object) =>
    m.applyConfChange({
      type,
      nodeId: id,
      peerUrls: (ctx as { peerURLs?: string[] })?.peerURLs ?? [],
      name: '',
      clientUrls: [],
      isLearner: (ctx as { isLearner?: boolean })?.isLearner ?? false,
      isPromote: (ctx as { isPromote?: boolean })?.isPromote ?? false,
    });
  const table: [string, boolean][] = [
    ['add 2', apply(ConfChangeType.AddNode, 2n, { peerURLs: ['http://b:2380'] })],
    ['add 2 again (ErrIDExists)', apply(ConfChangeType.AddNode, 2n, { peerURLs: ['http://x:2380'] })],
    [
      'add 3 on a used peer URL (ErrPeerURLexists)',
      apply(ConfChangeType.AddNode, 3n, { peerURLs: ['http://b:2380'] }),
    ],
    ['add removed 9 (ErrIDRemoved)', apply(ConfChangeType.AddNode, 9n, { peerURLs: ['http://z:2380'] })],
    [
      'add learner 4',
      apply(ConfChangeType.AddLearnerNode, 4n, { peerURLs: ['http://d:2380'], isLearner: true }),
    ],
    [
      'add learner 5 (ErrTooManyLearners)',
      apply(ConfChangeType.AddLearnerNode, 5n, { peerURLs: ['http://e:2380'], isLearner: true }),
    ],
    ['promote voter 2 (ErrMemberNotLearner)', apply(ConfChangeType.AddNode, 2n, { isPromote: true })],
    ['promote learner 4', apply(ConfChangeType.AddNode, 4n, { isPromote: true })],
    [
      'update 2 to a used URL (ErrPeerURLexists)',
      apply(ConfChangeType.UpdateNode, 2n, { peerURLs: ['http://a:2380'] }),
    ],
    ['update 2', apply(ConfChangeType.UpdateNode, 2n, { peerURLs: ['http://b2:2380'] })],
    ['remove 8 (ErrIDNotFound)', apply(ConfChangeType.RemoveNode, 8n)],
    ['remove 1', apply(ConfChangeType.RemoveNode, 1n)],
  ];
  assert.deepEqual(
    table.map(([name, ok]) => `${name}: ${ok}`),
    [
      'add 2: true',
      'add 2 again (ErrIDExists): false',
      'add 3 on a used peer URL (ErrPeerURLexists): false',
      'add removed 9 (ErrIDRemoved): false',
      'add learner 4: true',
      'add learner 5 (ErrTooManyLearners): false',
      'promote voter 2 (ErrMemberNotLearner): false',
      'promote learner 4: true',
      'update 2 to a used URL (ErrPeerURLexists): false',
      'update 2: true',
      'remove 8 (ErrIDNotFound): false',
      'remove 1: true',
    ],
  );
  assert.deepEqual(
    m.list().map((x) => [x.id, x.peerUrls, x.isLearner]),
    [
      [2n, ['http://b2:2380'], false],
      [4n, ['http://d:2380'], false],
    ],
  );
  assert.deepEqual([...m.removed].sort(), [1n, 9n]);
  assert.deepEqual(m.confState(), { voters: [2n, 4n], learners: [] });
});

test('entries from the log: conf-change JSON contexts and attribute publishes change the table', () => {
  const m = new EtcdMembership();
  const big = 0xe9ab4e71284d67cfn; // above 2^53: the JSON id cannot be read as a number, NodeID is used
  m.applyEntry(
    entry(EntryConfChange, confChange(ConfChangeType.AddNode, big, { id: 'ID', peerURLs: ['http://p:1'] })),
    'w',
  );
  m.applyEntry(
    entry(
      EntryNormal,
      v2('PUT', `/0/members/${big.toString(16)}/attributes`, '{"name":"n1","clientURLs":["http://c:1"]}'),
    ),
    'w',
  );
  m.applyEntry(entry(EntryNormal, v2('PUT', '/0/version', '3.4.0')), 'w');
  assert.deepEqual(m.list(), [
    { id: big, name: 'n1', peerUrls: ['http://p:1'], clientUrls: ['http://c:1'], isLearner: false },
  ]);
  assert.throws(
    () => m.applyEntry(entry(EntryConfChangeV2, Buffer.from([8, 1])), 'w.wal'),
    /w\.wal: entry 5: a ConfChangeV2/,
  );
});

test("entries rewritten for tsetcd's log decode with tsetcd's decoders", () => {
  const cc = toTsetcdEntry(
    entry(
      EntryConfChange,
      confChange(ConfChangeType.AddLearnerNode, 42n, {
        id: 'ID',
        peerURLs: ['http://l:1'],
        name: 'l',
        isLearner: true,
      }),
    ),
    'w',
  );
  assert.equal(cc.type, EntryType.ConfChange);
  const dcc = decodeConfChange(cc.data);
  assert.equal(dcc.type, ConfChangeType.AddLearnerNode);
  assert.equal(dcc.nodeId, 42n);
  assert.deepEqual(decodeMemberContext(dcc.context), {
    id: 42n,
    name: 'l',
    peerUrls: ['http://l:1'],
    clientUrls: [],
    isLearner: true,
  });
  const rm = decodeConfChange(
    toTsetcdEntry(entry(EntryConfChange, confChange(ConfChangeType.RemoveNode, 42n)), 'w').data,
  );
  assert.deepEqual([rm.type, rm.nodeId, rm.context.length], [ConfChangeType.RemoveNode, 42n, 0]);

  const attrs = toTsetcdEntry(
    entry(EntryNormal, v2('PUT', '/0/members/2a/attributes', '{"name":"x","clientURLs":["http://x:1"]}')),
    'w',
  );
  const r = InternalRaftRequest.decode(attrs.data);
  assert.equal(r.header?.ID, 99n);
  assert.deepEqual(r.clusterMemberAttrSet, {
    memberID: 42n,
    memberAttributes: { name: 'x', clientUrls: ['http://x:1'] },
  });
  const version = InternalRaftRequest.decode(
    toTsetcdEntry(entry(EntryNormal, v2('PUT', '/0/version', '3.4.0')), 'w').data,
  );
  assert.equal(version.header?.ID, 99n);
  assert.equal(
    version.clusterMemberAttrSet,
    undefined,
    'another v2 request: applied by tsetcd as not capable',
  );

  // A v3 request is kept byte for byte, and is not mistaken for a v2 one.
  const put = Buffer.from(
    InternalRaftRequest.encode(
      InternalRaftRequest.fromPartial({
        header: { ID: 5n },
        put: { key: Buffer.from('k'), value: Buffer.from('v') },
      }),
    ).finish(),
  );
  assert.equal(decodeV2Request(put), undefined);
  assert.deepEqual(Buffer.from(toTsetcdEntry(entry(EntryNormal, put), 'w').data), put);
  assert.equal(
    toTsetcdEntry(entry(EntryNormal, Buffer.alloc(0)), 'w').data.length,
    0,
    "a leader's empty entry stays empty",
  );
});
