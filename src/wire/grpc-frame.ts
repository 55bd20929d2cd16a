/**
 * The gRPC HTTP/2 message framing and the grpc-message header's encoding (the gRPC over HTTP/2
 * spec), shared by every sender and reader of raw gRPC on node:http2.
 */

/**
 * One gRPC length-prefixed message: a 0 byte (not compressed), the 4-byte big-endian length, then
 * `msg`. A new buffer; `msg` is copied.
 */
export function grpcFrame(msg: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + msg.length);
  frame[0] = 0;
  frame.writeUInt32BE(msg.length, 1);
  frame.set(msg, 5);
  return frame;
}

/** grpc-message is percent-encoded; undecodable text is kept as sent. */
export function decodeGrpcMessage(m: string): string {
  if (!m.includes('%')) return m;
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}
