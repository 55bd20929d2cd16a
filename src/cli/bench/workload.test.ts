/**
 * Goal: the pre-encoded requests are exactly what the generated etcd encoders produce for the
 * intended key, value and options, for every request of a phase (the key patching must not corrupt
 * anything), and keys match etcd benchmark's (Go binary.PutVarint into a zeroed key).
 * Method: decode each request with the generated decoder and compare with the expected message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../pkg/index.js';
import { PutRequest, RangeRequest, RangeResponse, TxnRequest } from '../../proto/etcdserverpb/rpc.js';
import { type BenchConfig, parseBenchArgs } from './flags.js';
import { benchKey, buildWorkload, makeTemplate, putVarint } from './workload.js';

function config(argv: string[]): BenchConfig {
  const r = parseBenchArgs(argv);
  assert.equal(r.kind, 'run');
  return (r as { kind: 'run'; config: BenchConfig }).config;
}

test('putVarint matches Go binary.PutVarint (zig-zag) on known vectors', () => {
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [1, [0x02]],
    [63, [0x7e]],
    [64, [0x80, 0x01]],
    [300, [0xd8, 0x04]],
    [2 ** 31, [0x80, 0x80, 0x80, 0x80, 0x10]],
  ];
  for (const [n, want] of cases) {
    const buf = Buffer.alloc(8);
    const len = putVarint(buf, 0, n);
    assert.deepEqual([...buf.subarray(0, len)], want, `varint(${n})`);
  }
  assert.deepEqual([...benchKey(1, 4)], [2, 0, 0, 0]);
});

test('put: constant request when the key space is 1', () => {
  const w = buildWorkload(config(['put', '--val-size', '256']), new SeededRng(1));
  assert.equal(w.method, '/etcdserverpb.KV/Put');
  assert.equal(w.request(0), w.request(5), 'the same buffer is reused');
  const req = PutRequest.decode(w.request(0));
  assert.deepEqual([...req.key], [...benchKey(0, 8)]);
  assert.equal(req.value.length, 256);
});

test('put: sequential keys cycle through the key space, value unchanged', () => {
  const w = buildWorkload(config(['put', '--key-space-size', '300', '--sequential-keys']), new SeededRng(1));
  const value = PutRequest.decode(w.request(0)).value;
  for (let i = 0; i < 700; i++) {
    const req = PutRequest.decode(w.request(i));
    assert.deepEqual(req.key, benchKey(i % 300, 8), `request ${i}`);
    assert.deepEqual(req.value, value);
  }
});

test('put: random keys stay in the key space and follow the seed', () => {
  const cfg = config(['put', '--key-space-size', '50']);
  const a = buildWorkload(cfg, new SeededRng(9));
  const b = buildWorkload(cfg, new SeededRng(9));
  const valid = new Set(Array.from({ length: 50 }, (_, n) => benchKey(n, 8).toString('hex')));
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const ka = PutRequest.decode(a.request(i)).key.toString('hex');
    assert.equal(ka, PutRequest.decode(b.request(i)).key.toString('hex'), 'same seed, same keys');
    assert.ok(valid.has(ka), `key ${ka} outside the key space`);
    seen.add(ka);
  }
  assert.ok(seen.size > 40, `500 draws over 50 keys hit only ${seen.size}`);
});

test('txn-put: n distinct puts in the success branch, no compares', () => {
  const w = buildWorkload(
    config(['txn-put', '--txn-ops', '3', '--key-space-size', '10', '--sequential-keys', '--val-size', '20']),
    new SeededRng(1),
  );
  assert.equal(w.method, '/etcdserverpb.KV/Txn');
  for (let i = 0; i < 12; i++) {
    const txn = TxnRequest.decode(w.request(i));
    assert.equal(txn.compare.length, 0);
    assert.equal(txn.failure.length, 0);
    assert.deepEqual(
      txn.success.map((op) => op.requestPut?.key.toString('hex')),
      [0, 1, 2].map((k) => benchKey((i * 3 + k) % 10, 8).toString('hex')),
    );
    for (const op of txn.success) assert.equal(op.requestPut?.value.length, 20);
  }
});

test('range: key, end and serializable as asked', () => {
  const l = RangeRequest.decode(buildWorkload(config(['range', 'foo', 'fop']), new SeededRng(1)).request(0));
  assert.equal(l.key.toString(), 'foo');
  assert.equal(l.rangeEnd.toString(), 'fop');
  assert.equal(l.serializable, false);
  const w = buildWorkload(config(['range', 'foo', '--consistency', 's']), new SeededRng(1));
  assert.equal(w.method, '/etcdserverpb.KV/Range');
  const s = RangeRequest.decode(w.request(0));
  assert.equal(s.serializable, true);
  assert.equal(s.rangeEnd.length, 0);
  const kv = { key: Buffer.from('foo'), value: Buffer.from('bar') };
  const two = Buffer.from(
    RangeResponse.encode(RangeResponse.fromPartial({ kvs: [kv, kv], count: 2n })).finish(),
  );
  assert.equal(w.describeResponse?.(two), `2 kvs, ${two.length} B`);
  const none = buildWorkload(config(['put']), new SeededRng(1));
  assert.equal(none.describeResponse, undefined, 'writes are never probed');
});

test('makeTemplate finds multi-byte-length keys and rejects a wrong key count', () => {
  // 200-byte keys need a 2-byte length prefix; the offsets must still be found.
  const enc = (fill: number): Uint8Array =>
    PutRequest.encode(
      PutRequest.fromPartial({ key: Buffer.alloc(200, fill), value: Buffer.from('v') }),
    ).finish();
  const t = makeTemplate(enc, 1, 200);
  assert.deepEqual(t.keyOffsets, [3]);
  assert.throws(() => makeTemplate(enc, 2, 200), /found 200 key bytes/);
});
