/**
 * Inputs the fuzzer found mishandled (each fixed), and the malformed-message classes compared with
 * etcd 3.4, as fixed bytes: the path, headers and DATA written, and the status expected. `etcd`
 * says whether real etcd 3.4 answers the same code and text ('same'), or how it differs and why we
 * do not follow it.
 */
import { grpcFrame, type RawRequest } from './wire.js';

export interface RegressionCase {
  name: string;
  /** What broke before the fix (empty for differential-only cases). */
  found?: string;
  request: Omit<RawRequest, 'deadlineMs'>;
  /** The gRPC status expected (unset when the answer is plain HTTP). */
  code?: number;
  message?: string;
  /** A plain HTTP answer without grpc-status is expected, with this status. */
  httpStatus?: number;
  /** No answer is expected before the client's own reset (request.resetAfterMs). */
  cancelled?: boolean;
  /** 'same', or why etcd 3.4 answers differently. */
  etcd: 'same' | { code: number | 'reset' | 'crash'; message?: string; why: string };
}

const hex = (s: string) => Buffer.from(s, 'hex');
const PUT_K_V = hex('0a016b120176'); // PutRequest{key:"k", value:"v"}
const WATCH_CREATE_EMPTY = hex('0a00'); // WatchRequest{createRequest:{}}
const LEADER_A = hex('0a0161'); // LeaderRequest{name:"a"}

export const REGRESSIONS: RegressionCase[] = [
  {
    name: 'unary call without a request message',
    found: "INTERNAL 'grpc: error while marshaling: no request message' (etcd: UNKNOWN 'EOF')",
    request: { path: '/etcdserverpb.KV/Put', chunks: [], endStream: true },
    code: 2,
    message: 'EOF',
    etcd: 'same',
  },
  {
    name: 'unary call half-closed inside the length prefix',
    found: "INTERNAL 'no request message' instead of etcd's UNKNOWN 'unexpected EOF'",
    request: { path: '/etcdserverpb.KV/Put', chunks: [hex('000000')], endStream: true },
    code: 2,
    message: 'unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'unary call whose length prefix promises more than is sent',
    found: "INTERNAL 'no request message' instead of UNKNOWN 'unexpected EOF'",
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(PUT_K_V, { length: PUT_K_V.length + 3 })],
      endStream: true,
    },
    code: 2,
    message: 'unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'Watch half-closed inside a message',
    found: 'hang: no status ever (the watch stream ignored the truncated message)',
    request: {
      path: '/etcdserverpb.Watch/Watch',
      chunks: [grpcFrame(WATCH_CREATE_EMPTY).subarray(0, 4)],
      endStream: true,
    },
    code: 13,
    message: 'unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'LeaseKeepAlive half-closed inside the length prefix',
    found: 'answered OK, dropping the partial message silently',
    request: { path: '/etcdserverpb.Lease/LeaseKeepAlive', chunks: [hex('0000')], endStream: true },
    code: 13,
    message: 'unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'Election.Observe (server streaming) without its request message',
    found: 'hang: the call waited for a request forever',
    request: { path: '/v3electionpb.Election/Observe', chunks: [], endStream: true },
    code: 2,
    message: 'EOF',
    etcd: 'same',
  },
  {
    name: 'LeaseKeepAlive with an undecodable message, client never half-closes',
    found: 'status sent but the stream left open (server-side stream leak until the client ends it)',
    request: { path: '/etcdserverpb.Lease/LeaseKeepAlive', chunks: [grpcFrame(hex('08'))], endStream: false },
    code: 13,
    message: 'grpc: failed to unmarshal the received message unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'unary call with two request messages',
    found: "UNIMPLEMENTED 'grpc: client streaming protocol violation' where etcd 3.4 answers the first",
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(PUT_K_V), grpcFrame(PUT_K_V)],
      endStream: true,
    },
    code: 0,
    message: '',
    etcd: 'same',
  },
  {
    name: 'payload format byte 2',
    found: "reported as 'compressed flag set' (etcd names the format)",
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [Buffer.concat([hex('02'), grpcFrame(PUT_K_V).subarray(1)])],
      endStream: true,
    },
    code: 13,
    message: 'grpc: received unexpected payload format 2',
    etcd: 'same',
  },
  {
    name: 'path "//" (empty service and method)',
    found:
      "UNIMPLEMENTED with an empty grpc-message: 'unknown service ' lost its trailing space and with it all text",
    request: { path: '//', chunks: [grpcFrame(Buffer.alloc(0))], endStream: true },
    code: 12,
    message: 'unknown service ',
    etcd: {
      code: 12,
      message: '',
      why: "grpc-go sends 'unknown service ' and HTTP/2 strips a header value's edge space, so etcd's text arrives empty; we percent-encode edge spaces so that a status always carries its message",
    },
  },
  {
    name: 'path without a method part',
    found:
      "UNIMPLEMENTED 'unknown service ' (empty text on the wire) instead of grpc-go's malformed-name error",
    request: { path: '/etcdserverpb.KV', chunks: [grpcFrame(Buffer.alloc(0))], endStream: true },
    code: 8,
    message: 'malformed method name: "/etcdserverpb.KV"',
    etcd: 'same',
  },
  {
    name: 'Txn with a Range of unknown sort order',
    found: 'answered OK (as etcd 3.4, unsorted)',
    // TxnRequest{success:[{requestRange:{key:"k", sort_order:3}}]}
    request: {
      path: '/etcdserverpb.KV/Txn',
      chunks: [grpcFrame(hex('12070a050a016b2803'))],
      endStream: true,
    },
    code: 3,
    message: 'etcdserver: invalid sort option',
    etcd: {
      code: 0,
      message: '',
      why: "etcd 3.4 ignores an unknown sort order but crashes on an unknown target; we refuse both, with etcd 3.5's error",
    },
  },
  {
    name: 'grpc-timeout of 8 digits of hours on a call that waits',
    found: 'Node clamped the 3.6e14 ms timer to 1 ms: DEADLINE_EXCEEDED at once (TimeoutOverflowWarning)',
    request: {
      path: '/v3electionpb.Election/Observe',
      headers: { 'grpc-timeout': '99999999H' },
      chunks: [grpcFrame(LEADER_A)],
      endStream: true,
      resetAfterMs: 500,
    },
    cancelled: true,
    etcd: 'same',
  },
  {
    name: 'grpc-timeout longer than the spec allows',
    found: 'same 1 ms clamp for 11 digits',
    request: {
      path: '/v3electionpb.Election/Observe',
      headers: { 'grpc-timeout': '99999999999H' },
      chunks: [grpcFrame(LEADER_A)],
      endStream: true,
      resetAfterMs: 500,
    },
    cancelled: true,
    etcd: {
      code: 'reset',
      why: 'grpc-go resets the stream for a malformed grpc-timeout; we serve the call without a deadline',
    },
  },
  {
    name: 'content type application/grpcx is not gRPC',
    found: 'served as gRPC (prefix match)',
    request: {
      path: '/etcdserverpb.KV/Put',
      headers: { 'content-type': 'application/grpcx' },
      chunks: [grpcFrame(PUT_K_V)],
      endStream: true,
    },
    httpStatus: 404,
    etcd: {
      code: 'reset',
      why: 'etcd resets non-gRPC streams on the gRPC port; we answer them as plain HTTP/2 (404), as /health is served there too',
    },
  },
  // Differential-only: classes whose answers already matched or where we deliberately differ.
  {
    name: 'length prefix beyond the receive limit',
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(Buffer.alloc(10), { length: 0x7fffffff })],
      endStream: true,
    },
    code: 8,
    message: 'grpc: received message larger than max (2147483647 vs. 2097152)',
    etcd: 'same',
  },
  {
    name: 'compressed flag without grpc-encoding',
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(PUT_K_V, { compressed: true })],
      endStream: true,
    },
    code: 13,
    message: 'grpc: compressed flag set with identity or empty encoding',
    etcd: 'same',
  },
  {
    name: 'grpc-encoding gzip',
    request: {
      path: '/etcdserverpb.KV/Put',
      headers: { 'grpc-encoding': 'gzip' },
      chunks: [grpcFrame(PUT_K_V)],
      endStream: true,
    },
    code: 12,
    message: 'grpc: Decompressor is not installed for grpc-encoding "gzip"',
    etcd: 'same',
  },
  {
    name: 'bytes field longer than the message',
    request: { path: '/etcdserverpb.KV/Put', chunks: [grpcFrame(hex('0a1061'))], endStream: true },
    code: 13,
    message: 'grpc: error unmarshalling request: unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'varint cut off',
    request: { path: '/etcdserverpb.KV/Put', chunks: [grpcFrame(hex('18ff'))], endStream: true },
    code: 13,
    message: 'grpc: error unmarshalling request: unexpected EOF',
    etcd: 'same',
  },
  {
    name: 'varint of 11 bytes',
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(hex('18ffffffffffffffffffff01'))],
      endStream: true,
    },
    code: 13,
    message: 'grpc: error unmarshalling request: proto: integer overflow',
    etcd: 'same',
  },
  {
    name: 'unknown method of a known service',
    request: { path: '/etcdserverpb.KV/Nope', chunks: [grpcFrame(PUT_K_V)], endStream: true },
    code: 12,
    message: 'unknown method Nope for service etcdserverpb.KV',
    etcd: 'same',
  },
  {
    name: 'unknown service',
    request: { path: '/x.Y/Z', chunks: [grpcFrame(PUT_K_V)], endStream: true },
    code: 12,
    message: 'unknown service x.Y',
    etcd: 'same',
  },
  {
    name: 'unknown fields are skipped',
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(Buffer.concat([PUT_K_V, hex('f80701')]))],
      endStream: true,
    },
    code: 0,
    message: '',
    etcd: 'same',
  },
  {
    name: 'an unknown field sent as a group is skipped',
    request: {
      path: '/etcdserverpb.KV/Put',
      chunks: [grpcFrame(Buffer.concat([PUT_K_V, hex('3b08013c')]))],
      endStream: true,
    },
    code: 0,
    message: '',
    etcd: 'same',
  },
  {
    name: 'packed repeated enum (Watch filters) is accepted',
    // WatchRequest{createRequest{key:"a", filters:[NOPUT] packed}}, then the client cancels
    request: {
      path: '/etcdserverpb.Watch/Watch',
      chunks: [grpcFrame(hex('0a060a01612a0100'))],
      endStream: false,
      resetAfterMs: 300,
    },
    cancelled: true,
    etcd: 'same',
  },
  {
    name: 'known field with the wrong wire type (type confusion)',
    found:
      "accepted: ts-proto's decoder skips the mistyped field, so the Put failed later as 'key is not provided'",
    request: { path: '/etcdserverpb.KV/Put', chunks: [grpcFrame(hex('0805120161'))], endStream: true },
    code: 13,
    message: 'grpc: error unmarshalling request: proto: wrong wireType = 0 for field Key',
    etcd: 'same',
  },
  {
    name: 'tag 0',
    found: 'accepted: the decoder stopped at tag 0 and handed on a partial request',
    request: { path: '/etcdserverpb.KV/Put', chunks: [grpcFrame(hex('0005'))], endStream: true },
    code: 13,
    message: 'grpc: error unmarshalling request: proto: PutRequest: illegal tag 0 (wire type 0)',
    etcd: 'same',
  },
  {
    name: 'stray end-group in a Range',
    found: "accepted: garbage text decoded to an empty Range ('key is not provided')",
    request: {
      path: '/etcdserverpb.KV/Range',
      chunks: [grpcFrame(Buffer.from('hello world garbage'))],
      endStream: true,
    },
    code: 13,
    message: 'grpc: error unmarshalling request: proto: RangeRequest: wiretype end group for non-group',
    etcd: 'same',
  },
  {
    name: 'wrong wire type inside a nested message (Txn compare)',
    found: 'accepted silently',
    // TxnRequest{compare:[{key: <varint>}]}: Compare.key (field 3) sent as a varint
    request: { path: '/etcdserverpb.KV/Txn', chunks: [grpcFrame(hex('0a021801'))], endStream: true },
    code: 13,
    message: 'grpc: error unmarshalling request: proto: wrong wireType = 0 for field Key',
    etcd: 'same',
  },
  {
    name: 'illegal wire type 6',
    request: { path: '/etcdserverpb.KV/Put', chunks: [grpcFrame(hex('0e01'))], endStream: true },
    code: 13,
    message: 'grpc: error unmarshalling request: proto: wrong wireType = 6 for field Key',
    etcd: 'same',
  },
  {
    name: 'mistyped field in a Watch stream message',
    request: { path: '/etcdserverpb.Watch/Watch', chunks: [grpcFrame(hex('0801'))], endStream: true },
    code: 13,
    message:
      'grpc: failed to unmarshal the received message proto: wrong wireType = 0 for field CreateRequest',
    etcd: 'same',
  },
  {
    name: 'tiny grpc-timeout on a read',
    request: {
      path: '/v3electionpb.Election/Observe',
      headers: { 'grpc-timeout': '200m' },
      chunks: [grpcFrame(LEADER_A)],
      endStream: true,
    },
    code: 4,
    message: 'context deadline exceeded',
    etcd: {
      code: 2,
      message: 'context deadline exceeded',
      why: 'grpc-go turns the expired context error a handler returns into UNKNOWN; clients see DEADLINE_EXCEEDED from their own timer either way, and 4 is the code the error names',
    },
  },
  // Last: it takes real etcd down, so the etcd replay must end with it.
  {
    name: 'Range sorted by an unknown sort target (crashes etcd 3.4)',
    found:
      'answered OK (sorted by key) where etcd 3.4.23 dies with a nil-pointer panic (sort.Sort(nil) in applierV3backend.Range); etcd 3.5 refuses it as below',
    // RangeRequest{key:"k", sort_order:ASCEND, sort_target:5}
    request: { path: '/etcdserverpb.KV/Range', chunks: [grpcFrame(hex('0a016b28013005'))], endStream: true },
    code: 3,
    message: 'etcdserver: invalid sort option',
    etcd: {
      code: 'crash',
      why: 'etcd 3.4 has no sorter for a sort target beyond VALUE and panics (sort.Sort(nil)) whenever it sorts: order ASCEND or DESCEND, or no order with a target other than KEY; any client can crash it so, also inside a Txn. We refuse such a range as etcd 3.5 does',
    },
  },
];
