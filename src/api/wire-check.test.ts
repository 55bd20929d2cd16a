// Goal: the strict wire check refuses exactly the shapes etcd's gogoproto decoder refuses, with its
// text, and accepts what it accepts (packed and unpacked repeated fields, unknown fields and groups,
// fields etcd 3.4 does not know). The texts were taken from etcd 3.4.23's answers (see
// test/fuzz/regressions.ts, replayed against etcd there).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRequestWire } from './wire-check.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const PUT = '/etcdserverpb.KV/Put';
const WATCH = '/etcdserverpb.Watch/Watch';

test('well-formed requests pass, including unknown fields and unknown groups', () => {
  assert.equal(checkRequestWire(PUT, hex('0a016b120176')), undefined);
  assert.equal(checkRequestWire(PUT, hex('')), undefined);
  assert.equal(checkRequestWire(PUT, hex('0a016bf80701')), undefined, 'unknown varint field 127');
  assert.equal(
    checkRequestWire(PUT, hex('0a016b3b08013c')),
    undefined,
    'unknown group 7 with a field inside',
  );
  assert.equal(checkRequestWire(PUT, hex('18ffffffffffffffffff01')), undefined, 'a 10-byte varint is fine');
});

test('a known field with another wire type is refused, naming the Go field', () => {
  assert.equal(checkRequestWire(PUT, hex('0805')), 'proto: wrong wireType = 0 for field Key');
  assert.equal(checkRequestWire(PUT, hex('1a0161')), 'proto: wrong wireType = 2 for field Lease');
  assert.equal(checkRequestWire(PUT, hex('0e01')), 'proto: wrong wireType = 6 for field Key');
  // inside a nested message: TxnRequest.compare[0].key as a varint
  assert.equal(
    checkRequestWire('/etcdserverpb.KV/Txn', hex('0a021801')),
    'proto: wrong wireType = 0 for field Key',
  );
});

test('tags, groups, varints and lengths fail as gogo fails', () => {
  assert.equal(checkRequestWire(PUT, hex('0005')), 'proto: PutRequest: illegal tag 0 (wire type 0)');
  assert.equal(checkRequestWire(PUT, hex('0c')), 'proto: PutRequest: wiretype end group for non-group');
  assert.equal(checkRequestWire(PUT, hex('18ffffffffffffffffffff01')), 'proto: integer overflow');
  assert.equal(checkRequestWire(PUT, hex('18ff')), 'unexpected EOF');
  assert.equal(checkRequestWire(PUT, hex('0a1061')), 'unexpected EOF');
  assert.equal(
    checkRequestWire(PUT, hex('0affffffffffffffffff01')),
    'proto: negative length found during unmarshaling',
  );
  assert.equal(checkRequestWire(PUT, hex('0affffffff0f')), 'unexpected EOF', 'a length beyond the message');
  assert.equal(
    checkRequestWire(PUT, hex('0a016b7f01')),
    'proto: illegal wireType 7',
    'unknown field, wire type 7',
  );
});

test('repeated scalars may come packed or one by one', () => {
  // WatchRequest{createRequest{key:"a", filters:[1]}}: unpacked (tag 0x28) and packed (tag 0x2a)
  assert.equal(checkRequestWire(WATCH, hex('0a050a01612801')), undefined);
  assert.equal(checkRequestWire(WATCH, hex('0a060a01612a0101')), undefined);
  assert.equal(checkRequestWire(WATCH, hex('0a060a01612a01ff')), 'unexpected EOF', 'a packed varint cut off');
  assert.equal(
    checkRequestWire(WATCH, hex('0a070a01612d00000000')),
    'proto: wrong wireType = 5 for field Filters',
  );
});

test('fields our protos mark as 3.5 are unknown to the check, as to etcd 3.4', () => {
  // MemberListRequest.linearizable (3.5) sent as fixed64: etcd 3.4 skips it
  assert.equal(checkRequestWire('/etcdserverpb.Cluster/MemberList', hex('090000000000000000')), undefined);
});

test('methods outside etcd packages are not checked (grpc.health is golang/protobuf in etcd)', () => {
  assert.equal(checkRequestWire('/grpc.health.v1.Health/Check', hex('0805')), undefined);
  assert.equal(checkRequestWire('/no.Such/Method', hex('00')), undefined);
});
