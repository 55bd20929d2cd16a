/**
 * gRPC response frames encoded in one buffer (issue 15): the generated `responseSerialize` encodes
 * into a fresh writer, copies the result out, copies it into a Buffer, and `frame` copied it once
 * more behind the 5-byte prefix. Here the message is written straight behind the prefix by a reused
 * writer and copied out once. Used for the unary methods that answer most often.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ReusedWriter } from '../pkg/reused-writer.js';
import {
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '../proto/etcdserverpb/rpc.js';

/** Writes a message into a writer (a generated codec's `encode`). */
// biome-ignore lint/suspicious/noExplicitAny: each entry is typed by its codec
export type MessageEncoder = (message: any, w: BinaryWriter) => unknown;

/** The response codecs of the unary methods framed here, by full method path. */
const FRAMED: Record<string, MessageEncoder> = {
  '/etcdserverpb.KV/Put': PutResponse.encode,
  '/etcdserverpb.KV/Range': RangeResponse.encode,
  '/etcdserverpb.KV/DeleteRange': DeleteRangeResponse.encode,
  '/etcdserverpb.KV/Txn': TxnResponse.encode,
  '/etcdserverpb.Lease/LeaseGrant': LeaseGrantResponse.encode,
  '/etcdserverpb.Lease/LeaseRevoke': LeaseRevokeResponse.encode,
};

/** The frame encoder for a method's responses, if it has one here. */
export function framedResponseEncoder(path: string): MessageEncoder | undefined {
  return FRAMED[path];
}

const writer = new ReusedWriter(() => new BinaryWriter());
const PREFIX = new Uint8Array(5);

/** One gRPC length-prefixed message: flag 0, 4-byte big-endian length, then the message. */
export function encodeGrpcFrame(encode: MessageEncoder, message: unknown): Buffer {
  const out = writer.encode((w) => {
    w.raw(PREFIX);
    encode(message, w);
  });
  const frame = Buffer.from(out.buffer, out.byteOffset, out.length);
  frame.writeUInt32BE(out.length - 5, 1);
  return frame;
}
