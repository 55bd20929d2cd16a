/**
 * The raft layer's error catalog. Domain errors are `RaftError` with a fixed `code`; messages carry
 * the same texts as etcd's raft package so logs read alike.
 */

/** Codes of the domain errors raft/ throws. */
export type RaftErrorCode =
  | 'proposal-dropped'
  | 'step-local-msg'
  | 'snapshot-out-of-date'
  | 'not-empty-storage'
  | 'malformed';

const TEXTS: Record<RaftErrorCode, string> = {
  'proposal-dropped': 'raft proposal dropped',
  'step-local-msg': 'raft: cannot step raft local message',
  'snapshot-out-of-date': 'requested index is older than the existing snapshot',
  'not-empty-storage': 'raft: cannot bootstrap a node with a non-empty log',
  malformed: 'raft: malformed encoding',
};

/** A domain error of the raft layer; test `code`, never the message. */
export class RaftError extends Error {
  override name = 'RaftError';
  constructor(
    readonly code: RaftErrorCode,
    detail?: string,
  ) {
    super(detail ? `${TEXTS[code]}: ${detail}` : TEXTS[code]);
  }
}
