/**
 * Goal: gRPC's message framing and grpc-message decoding are exactly the spec's. Method: table tests
 * against hand-written bytes and headers (the values grpc-go sends).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeGrpcMessage, grpcFrame } from './grpc-frame.js';

test('grpcFrame: uncompressed flag, big-endian length, the message copied', () => {
  assert.deepEqual(grpcFrame(Buffer.alloc(0)), Buffer.from([0, 0, 0, 0, 0]));
  const msg = Buffer.from('0a016b', 'hex');
  const f = grpcFrame(msg);
  assert.deepEqual(f, Buffer.from('00000000030a016b', 'hex'));
  msg[0] = 0xff;
  assert.equal(f[5], 0x0a, 'the frame owns a copy');
  assert.deepEqual(grpcFrame(new Uint8Array(300)).subarray(0, 5), Buffer.from([0, 0, 0, 1, 0x2c]));
});

test('decodeGrpcMessage: percent-decoded; plain and undecodable text kept as sent', () => {
  for (const [sent, want] of [
    ['etcdserver: key not found', 'etcdserver: key not found'],
    [
      'etcdserver: request timed out%2C possibly due to connection lost',
      'etcdserver: request timed out, possibly due to connection lost',
    ],
    ['100%25 sure', '100% sure'],
    ['bad %zz escape', 'bad %zz escape'],
    ['', ''],
  ] as const) {
    assert.equal(decodeGrpcMessage(sent), want, sent);
  }
});
