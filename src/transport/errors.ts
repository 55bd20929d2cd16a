/**
 * The transport layer's error catalog. Texts follow etcd's rafthttp where etcd has one (they are
 * also what a peer puts in an HTTP error body, so the sender can recognise the cause); the rest are
 * prefixed `rafthttp:` like etcd's package errors.
 */

/** Codes of the domain errors transport/ raises or reports in `stats().lastError`. */
export type TransportErrorCode =
  | 'cluster-id-mismatch'
  | 'to-mismatch'
  | 'sender-not-found'
  | 'invalid-from'
  | 'removed-member'
  | 'member-removed'
  | 'frame-too-large'
  | 'malformed-message'
  | 'snapshot-too-large'
  | 'snapshot-truncated'
  | 'snapshot-rejected'
  | 'peer-unreachable'
  | 'unexpected-status'
  | 'closed';

/** Exact texts; the first five are etcd's HTTP error bodies for the same conditions. */
export const TRANSPORT_ERROR_TEXTS: Record<TransportErrorCode, string> = {
  'cluster-id-mismatch': 'cluster ID mismatch',
  'to-mismatch': 'to field mismatch',
  'sender-not-found': 'error sender not found',
  'invalid-from': 'invalid from',
  // etcd's body for a stream from a member it removed (HTTP 410), and the error the removed member
  // reports on getting it (rafthttp errMemberRemoved)
  'removed-member': 'removed member',
  'member-removed': 'the member has been permanently removed from the cluster',
  'frame-too-large': 'rafthttp: frame exceeds the size limit',
  'malformed-message': 'rafthttp: malformed raft message',
  'snapshot-too-large': 'rafthttp: snapshot exceeds the size limit',
  'snapshot-truncated': 'rafthttp: snapshot body shorter or longer than announced',
  'snapshot-rejected': 'rafthttp: snapshot rejected by the receiver',
  'peer-unreachable': 'rafthttp: peer unreachable',
  'unexpected-status': 'rafthttp: unexpected response status',
  closed: 'rafthttp: transport closed',
};

/** A domain error of the transport layer; test `code`, never the message. */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    detail?: string,
  ) {
    super(detail ? `${TRANSPORT_ERROR_TEXTS[code]}: ${detail}` : TRANSPORT_ERROR_TEXTS[code]);
  }
}
