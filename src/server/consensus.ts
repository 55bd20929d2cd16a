/**
 * The seam between the member and whatever orders its writes (`RaftDriver`): proposals go in,
 * committed entries come out in index order, exactly once each.
 */

/** A committed log entry as the apply loop sees it. */
export interface CommittedEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface ConsensusLog {
  /** Orders `data` into the log; committed entries reach the `onCommitted` callback given at start. */
  propose(data: Uint8Array): void;
  /** The current term (etcd's raft_term in response headers). */
  readonly term: number;
  /** The leader's member id, 0n when there is none. */
  readonly leader: bigint;
  readonly committedIndex: number;
}
